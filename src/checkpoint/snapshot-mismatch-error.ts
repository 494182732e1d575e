/**
 * The snapshot does not fit the job: state without an operator, a changed max parallelism, or
 * state whose kind changed. A compatibility error: the user changes the job or the flags.
 */
export class SnapshotMismatchError extends Error {
  override readonly name = 'SnapshotMismatchError';
}
