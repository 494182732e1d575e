// Whether a user function keeps operator state, so that the build can warn when its operator
// has no uid (its state could not be matched after the job changes).

/** A function that snapshots operator state (CheckpointedFunction): its operator needs a uid. */
export function keepsOperatorState(fn: unknown): boolean {
  return (
    typeof fn === 'object' &&
    fn !== null &&
    (typeof (fn as { snapshotState?: unknown }).snapshotState === 'function' ||
      typeof (fn as { initializeState?: unknown }).initializeState === 'function')
  );
}
