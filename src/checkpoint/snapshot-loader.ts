// Restore (ARCHITECTURE.md §6): reads a snapshot's `_metadata`, matches its operators to the
// new job graph by operator id, and gives every new subtask its share of the state — keyed state
// by key-group range (only the sections of the groups it owns are read), operator list state
// redistributed by even split or union. Everything is read and verified before the job starts,
// so a bad file is found while an older checkpoint can still be chosen instead.
import type { JobGraph, JobVertex } from '../graph/job-graph.js';
import type { OperatorSubtaskState } from '../runtime/stream-operator.js';
import type { StateKind } from '../state/descriptors.js';
import { KeyGroupRange } from '../state/key-group.js';
import type { OperatorStateSnapshot } from '../state/snapshot.js';
import type { CheckpointStorage, SnapshotLocation } from '../storage/checkpoint-storage.js';
import type { SnapshotMetadata, StateHandle, SubtaskStateEntry } from '../storage/metadata.js';
import { DEFAULT_FORMAT, type StoredFormat } from '../state/state-schema.js';
import { STATE_FILE_KEYED, STATE_FILE_OPERATOR, StateFileReader } from '../storage/state-file.js';
import { redistributeOperatorState } from './redistribution.js';
import { SnapshotMismatchError } from './snapshot-mismatch-error.js';
import { keyedSnapshotFrom, readKeyedSection, readOperatorSection } from './state-serialization.js';

export { SnapshotMismatchError };

export interface RestoredJobState {
  readonly metadata: SnapshotMetadata;
  readonly location: SnapshotLocation;
  /** State per operator of the chain (head first) for one subtask of one vertex. */
  stateFor(vertex: JobVertex, subtask: number): Array<OperatorSubtaskState | undefined>;
  /** Operators of the snapshot that the job no longer has (dropped with allowNonRestoredState). */
  readonly dropped: string[];
  /**
   * Reads the snapshot again. The state handed out by `stateFor` becomes the tasks' live state
   * (no copy: a gigabyte is restored once), so every attempt of a job needs its own load.
   */
  reload(): Promise<RestoredJobState>;
}

type KeyedAccumulator = Map<
  string,
  { kind: StateKind; keyGroups: Array<{ keyGroup: number; entries: Array<[unknown, unknown]> }> }
>;

function describe(op: SnapshotMetadata['operators'][number]): string {
  return op.uid !== null
    ? `uid '${op.uid}' (${op.name})`
    : `'${op.name}' (operator id ${op.operatorId}, no uid)`;
}

function hasState(op: SnapshotMetadata['operators'][number]): boolean {
  return op.subtasks.some((s) => s.keyed !== null || s.operator !== null);
}

/** How each state of one scope was stored, from `_metadata` (fields absent in older snapshots). */
function formatsOf(
  states: readonly SubtaskStateEntry[],
  scope: 'keyed' | 'operator',
): Map<string, StoredFormat> {
  const out = new Map<string, StoredFormat>();
  for (const st of states)
    if (st.scope === scope)
      out.set(st.name, {
        serializer: st.serializer ?? DEFAULT_FORMAT.serializer,
        version: st.version ?? DEFAULT_FORMAT.version,
      });
  return out;
}

export async function loadSnapshot(
  storage: CheckpointStorage,
  location: SnapshotLocation,
  metadata: SnapshotMetadata,
  graph: JobGraph,
  options: { allowNonRestoredState: boolean },
): Promise<RestoredJobState> {
  const nodes = new Map(graph.vertices.flatMap((v) => v.operators.map((n) => [n.operatorId as string, n])));
  const unmatched = metadata.operators.filter((op) => hasState(op) && !nodes.has(op.operatorId));
  if (unmatched.length > 0 && !options.allowNonRestoredState) {
    throw new SnapshotMismatchError(
      `the snapshot has state for operators this job does not have: ${unmatched.map(describe).join(', ')}; ` +
        'give the operators their old uids, or start with --allow-non-restored-state to drop that state',
    );
  }
  const readers = new Map<string, StateFileReader>();
  const reader = async (h: StateHandle, kind: number): Promise<StateFileReader> => {
    let r = readers.get(h.path);
    if (r === undefined) {
      r = await StateFileReader.open(storage, location, h.path, { size: h.size, crc32: h.crc32, kind });
      readers.set(h.path, r);
    }
    return r;
  };

  // key: `${operatorId}#${newSubtask}`
  const restored = new Map<string, OperatorSubtaskState>();
  for (const op of metadata.operators) {
    const node = nodes.get(op.operatorId);
    if (node === undefined || !hasState(op)) continue;
    const where = `${location.uri} (${describe(op)})`;
    const hasKeyed = op.subtasks.some((s) => s.keyed !== null);
    if (hasKeyed && op.maxParallelism !== node.maxParallelism) {
      throw new SnapshotMismatchError(
        `operator ${describe(op)} was snapshotted with max parallelism ${op.maxParallelism} but now has ` +
          `${node.maxParallelism}; max parallelism cannot change across a restore — set it back with setMaxParallelism(${op.maxParallelism})`,
      );
    }
    const p = node.parallelism;
    const keyedFormats = formatsOf(
      op.subtasks.flatMap((s) => s.states),
      'keyed',
    );
    // Operator state: every old subtask's lists, redistributed for the new parallelism.
    let operatorParts: OperatorStateSnapshot[] | undefined;
    if (op.subtasks.some((s) => s.operator !== null)) {
      const old: OperatorStateSnapshot[] = [];
      for (const s of [...op.subtasks].sort((a, b) => a.index - b.index)) {
        if (s.operator === null) {
          old.push({ states: [] });
          continue;
        }
        const r = await reader(s.operator, STATE_FILE_OPERATOR);
        const part = readOperatorSection(await r.readSection(0), `${where}, ${s.operator.path}`);
        const formats = formatsOf(s.states, 'operator');
        for (const st of part.states) st.format = formats.get(st.name) ?? DEFAULT_FORMAT;
        old.push(part);
      }
      operatorParts = redistributeOperatorState(old, p);
    }
    for (let i = 0; i < p; i++) {
      const state: OperatorSubtaskState = {};
      if (operatorParts !== undefined) state.operator = operatorParts[i];
      if (hasKeyed) {
        const range = KeyGroupRange.forSubtask(i, p, node.maxParallelism);
        const acc: KeyedAccumulator = new Map();
        for (const s of op.subtasks) {
          if (s.keyed === null || s.keyGroups === null) continue;
          if (s.keyGroups[1] < range.start || s.keyGroups[0] > range.end) continue;
          const r = await reader(s.keyed, STATE_FILE_KEYED);
          const ids = s.keyed.sections.map(([id]) => id).filter((id) => range.contains(id));
          for (const [id, payload] of await r.readSections(ids))
            readKeyedSection(payload, id, acc, `${where}, ${s.keyed.path}`);
        }
        state.keyed = keyedSnapshotFrom(node.maxParallelism, acc, keyedFormats);
      }
      restored.set(`${op.operatorId}#${i}`, state);
    }
  }
  return {
    metadata,
    location,
    dropped: unmatched.map(describe),
    reload: () => loadSnapshot(storage, location, metadata, graph, options),
    stateFor(vertex, subtask) {
      return vertex.operators.map((n) => restored.get(`${n.operatorId}#${subtask}`));
    },
  };
}
