// Pure functions that decide which subtask of a new parallelism gets which state on restore.
import type { OperatorStateSnapshot } from '../state/snapshot.js';

/**
 * Redistributes operator list state from the old subtasks (index = old subtask) to `newParallelism`
 * subtasks. Unchanged parallelism keeps every subtask's own state; otherwise 'split' lists are
 * concatenated in subtask order and dealt out in contiguous, nearly equal parts, and 'union'
 * lists are concatenated and given whole to every subtask.
 */
export function redistributeOperatorState(
  old: readonly OperatorStateSnapshot[],
  newParallelism: number,
): OperatorStateSnapshot[] {
  if (old.length === newParallelism) return old.map((s) => s);
  const names = new Map<string, { mode: 'split' | 'union'; entries: unknown[] }>();
  for (const sub of old) {
    for (const st of sub.states) {
      let acc = names.get(st.name);
      if (acc === undefined) {
        acc = { mode: st.mode, entries: [] };
        names.set(st.name, acc);
      }
      for (const e of st.entries) acc.entries.push(e);
    }
  }
  const out: OperatorStateSnapshot[] = Array.from({ length: newParallelism }, () => ({ states: [] }));
  for (const [name, { mode, entries }] of names) {
    for (let i = 0; i < newParallelism; i++) {
      const part =
        mode === 'union'
          ? entries
          : entries.slice(
              Math.floor((i * entries.length) / newParallelism),
              Math.floor(((i + 1) * entries.length) / newParallelism),
            );
      out[i]!.states.push({ name, mode, entries: part });
    }
  }
  return out;
}
