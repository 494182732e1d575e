// What one subtask of a new parallelism restores from the snapshots of every subtask of an
// earlier run: the keyed state of the key groups it owns (ARCHITECTURE.md §6) and its share of
// the operator list state. A pure function, so a test can inspect what a subtask would get.
import { redistributeOperatorState } from '../checkpoint/redistribution.js';
import type { OperatorSubtaskState } from '../runtime/stream-operator.js';
import { KeyGroupRange } from '../state/key-group.js';
import { withCopyValue } from '../state/keyed-state-backend.js';
import type { KeyedStateSnapshot, OperatorStateSnapshot } from '../state/snapshot.js';
import { DEFAULT_FORMAT, type StoredFormat } from '../state/state-schema.js';
import { StateAccessError } from '../state/state.js';

/**
 * The state subtask `subtaskIndex` of `parallelism` restores from `snapshots`, the snapshots of
 * all subtasks of the earlier run in subtask order (`snapshots.length` is the old parallelism).
 * Keyed state is cut to the subtask's key-group range; operator list state is split or unioned
 * as a job restore does it.
 */
export function stateForSubtask(
  snapshots: readonly OperatorSubtaskState[],
  parallelism: number,
  subtaskIndex: number,
): OperatorSubtaskState {
  if (snapshots.length === 0) {
    throw new RangeError(
      'stateForSubtask needs the snapshot of at least one subtask; to start empty, open() without state',
    );
  }
  const operator = redistributeOperatorState(
    snapshots.map((s): OperatorStateSnapshot => s.operator ?? { states: [] }),
    parallelism,
  )[subtaskIndex];
  if (operator === undefined)
    throw new RangeError(`subtask index ${subtaskIndex} is outside [0, ${parallelism})`);
  const keyed = keyedStateForSubtask(snapshots, parallelism, subtaskIndex);
  const timers = snapshots.flatMap((s) => s.timers ?? []);
  if (timers.length === 0) return { keyed, operator };
  const maxParallelism = keyed?.maxParallelism ?? snapshots.find((s) => s.keyed)?.keyed?.maxParallelism;
  if (maxParallelism === undefined)
    throw new StateAccessError('the snapshots have timers but no keyed state to say their max parallelism');
  const range = KeyGroupRange.forSubtask(subtaskIndex, parallelism, maxParallelism);
  return { keyed, operator, timers: timers.filter((t) => range.contains(t.keyGroup)) };
}

function keyedStateForSubtask(
  snapshots: readonly OperatorSubtaskState[],
  parallelism: number,
  subtaskIndex: number,
): KeyedStateSnapshot | undefined {
  const keyed = snapshots.flatMap((s) => (s.keyed === undefined ? [] : [s.keyed]));
  const first = keyed[0];
  if (first === undefined) return undefined;
  const maxParallelism = first.maxParallelism;
  for (const k of keyed) {
    if (k.maxParallelism !== maxParallelism) {
      throw new StateAccessError(
        `the snapshots disagree on max parallelism (${maxParallelism} and ${k.maxParallelism}); ` +
          'they cannot come from one run of one operator',
      );
    }
  }
  const range = KeyGroupRange.forSubtask(subtaskIndex, parallelism, maxParallelism);
  const byName = new Map<string, KeyedStateSnapshot['states'][number]>();
  for (const k of keyed) {
    for (const st of k.states) {
      let merged = byName.get(st.name);
      if (merged === undefined) {
        // The stored format too: without it a restore takes the values for version 1 of weir's
        // codec and migrates (or refuses) what is already current.
        merged = withCopyValue(
          {
            name: st.name,
            kind: st.kind,
            keyGroups: [],
            ...(st.format === undefined ? {} : { format: st.format }),
          },
          st.copyValue,
        );
        byName.set(st.name, merged);
      } else if (merged.kind !== st.kind) {
        throw new StateAccessError(
          `state '${st.name}' is ${merged.kind} state in one snapshot and ${st.kind} state in another`,
        );
      } else if (!sameFormat(merged.format, st.format)) {
        throw new StateAccessError(
          `state '${st.name}' is stored as ${describeFormat(merged.format)} in one snapshot and as ${describeFormat(st.format)} in another`,
        );
      }
      for (const kg of st.keyGroups) if (range.contains(kg.keyGroup)) merged.keyGroups.push(kg);
    }
  }
  return { maxParallelism, states: [...byName.values()] };
}

function sameFormat(a: StoredFormat | undefined, b: StoredFormat | undefined): boolean {
  const x = a ?? DEFAULT_FORMAT;
  const y = b ?? DEFAULT_FORMAT;
  return x.serializer === y.serializer && x.version === y.version;
}

function describeFormat(f: StoredFormat | undefined): string {
  const { serializer, version } = f ?? DEFAULT_FORMAT;
  return `'${serializer}' version ${version}`;
}
