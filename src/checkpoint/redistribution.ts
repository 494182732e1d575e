// Pure functions that decide which subtask of a new parallelism gets which state on restore.
import { SnapshotMismatchError } from './snapshot-mismatch-error.js';
import type { StoredFormat } from '../state/state-schema.js';
import type { OperatorStateMode, OperatorStateSnapshot } from '../state/snapshot.js';

/**
 * Redistributes operator list state from the old subtasks (index = old subtask) to `newParallelism`
 * subtasks. 'union' lists are always concatenated and given whole to every subtask (as in Flink,
 * also at unchanged parallelism). 'split' lists stay with their subtask at unchanged parallelism;
 * otherwise they are concatenated in subtask order and dealt out in contiguous, nearly equal parts.
 * Broadcast state is the same on every subtask by contract, so every subtask gets the copy of
 * the lowest old subtask that has it (as Flink does), never a concatenation.
 */
export function redistributeOperatorState(
  old: readonly OperatorStateSnapshot[],
  newParallelism: number,
): OperatorStateSnapshot[] {
  const sameParallelism = old.length === newParallelism;
  const names = new Map<string, { mode: OperatorStateMode; entries: unknown[]; format?: StoredFormat }>();
  for (const sub of old) {
    for (const st of sub.states) {
      let acc = names.get(st.name);
      if (acc === undefined) {
        acc = { mode: st.mode, entries: st.mode === 'broadcast' ? st.entries : [], format: st.format };
        names.set(st.name, acc);
        if (st.mode === 'broadcast') continue;
      } else if (acc.mode !== st.mode) {
        throw new SnapshotMismatchError(
          `operator state '${st.name}' is ${acc.mode} state in one subtask of the snapshot and ${st.mode} state in another`,
        );
      }
      if (st.mode === 'broadcast') continue;
      for (const e of st.entries) acc.entries.push(e);
    }
  }
  const out: OperatorStateSnapshot[] = Array.from({ length: newParallelism }, () => ({ states: [] }));
  for (const [name, { mode, entries, format }] of names) {
    // Only present when the snapshot recorded it (older snapshots and tests do not).
    const formatField = format === undefined ? {} : { format };
    for (let i = 0; i < newParallelism; i++) {
      if (mode === 'union' || mode === 'broadcast') {
        out[i]!.states.push({ name, mode, entries, ...formatField });
      } else if (sameParallelism) {
        const own = old[i]!.states.find((st) => st.name === name);
        if (own !== undefined) out[i]!.states.push(own);
      } else {
        const from = Math.floor((i * entries.length) / newParallelism);
        const to = Math.floor(((i + 1) * entries.length) / newParallelism);
        out[i]!.states.push({ name, mode, entries: entries.slice(from, to), ...formatField });
      }
    }
  }
  return out;
}
