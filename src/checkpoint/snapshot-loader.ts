// Restore (ARCHITECTURE.md §6): reads a snapshot's `_metadata`, matches its operators to the
// new job graph by operator id, and gives every new subtask its share of the state — keyed state
// by key-group range (only the sections of the groups it owns are read), operator list state
// redistributed by even split or union. Everything is read and checked against its checksums
// before the job starts, so a bad file is found while an older checkpoint can still be chosen
// instead. Keyed state stays encoded, key group by key group, until the job needs it (see
// EncodedKeyGroup): a restored job runs once its bytes are read, not once millions of entries are
// decoded.
import type { JobGraph, JobVertex } from '../graph/job-graph.js';
import type { OperatorSubtaskState } from '../runtime/stream-operator.js';
import { KeyGroupRange } from '../state/key-group.js';
import type { StateKind } from '../state/descriptors.js';
import type { EncodedKeyGroup, OperatorStateSnapshot } from '../state/snapshot.js';
import type { CheckpointStorage, SnapshotLocation } from '../storage/checkpoint-storage.js';
import type {
  SnapshotMetadata,
  StateHandle,
  SubtaskMetadata,
  SubtaskStateEntry,
} from '../storage/metadata.js';
import { DEFAULT_FORMAT, type StoredFormat } from '../state/state-schema.js';
import {
  STATE_FILE_KEYED,
  STATE_FILE_OPERATOR,
  STATE_FILE_TIMERS,
  StateFileReader,
} from '../storage/state-file.js';
import { readTimersSection } from './timer-serialization.js';
import type { RestoredTimers } from '../runtime/timer-service.js';
import { redistributeOperatorState } from './redistribution.js';
import { SnapshotMismatchError } from './snapshot-mismatch-error.js';
import {
  encodedKeyGroup,
  isStateKind,
  readOperatorSection,
  StateFormatError,
} from './state-serialization.js';

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

/** Old keyed state files read at once by a restore (each with a few pieces in flight: see StateFileReader). */
const FILES_IN_FLIGHT = 2;

/** The sections of one old file that one new subtask owns, and the key groups read from them. */
interface KeyedRead {
  readonly subtask: number;
  /** The old subtask whose file this reads. */
  readonly from: SubtaskMetadata;
  readonly handle: StateHandle;
  readonly ids: number[];
  /** Names the snapshot, the operator and the file, for messages. */
  readonly where: string;
  readonly groups: EncodedKeyGroup[];
}

/**
 * The kind of each keyed state that `_metadata` lists for the operator with entries, over all its
 * subtasks: the states a restore registers (a state without entries restores to nothing, and is
 * left for the job to declare as it likes, as if it never had it).
 */
function keyedKinds(states: readonly SubtaskStateEntry[], where: string): Map<string, StateKind> {
  const kinds = new Map<string, StateKind>();
  const entries = new Map<string, number>();
  for (const st of states) {
    if (st.scope !== 'keyed') continue;
    const have = kinds.get(st.name);
    if (!isStateKind(st.kind) || (have !== undefined && have !== st.kind))
      throw new StateFormatError(
        `${where}: _metadata lists keyed state '${st.name}' as ${have !== undefined ? `${have} and ` : ''}${st.kind} state`,
      );
    kinds.set(st.name, st.kind);
    entries.set(st.name, (entries.get(st.name) ?? 0) + st.entries);
  }
  for (const [name, n] of entries) if (n === 0) kinds.delete(name);
  return kinds;
}

/** Like Promise.all, but on failures rejects with the first in the order given, once all settled. */
async function allInOrder<T>(promises: ReadonlyArray<Promise<T>>): Promise<T[]> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((r) => r.status === 'rejected');
  if (failed !== undefined) throw failed.reason;
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

/** Thrown by the work on an item that stopped early because another item failed. */
class Stopped extends Error {
  override readonly name = 'Stopped';
}

/**
 * Runs `work` on every item, at most `limit` at a time. After a failure no further item is
 * started and `stopped()` is true (work that then throws Stopped is not a failure); it settles
 * once nothing it started is running, with the failure of the first item (in the order given)
 * that failed.
 */
async function eachConcurrently<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number, stopped: () => boolean) => Promise<void>,
): Promise<void> {
  const failures: Array<{ error: unknown } | undefined> = [];
  let next = 0;
  let failed = false;
  const stopped = (): boolean => failed;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        await work(items[i]!, i, stopped);
      } catch (error) {
        if (error instanceof Stopped) continue;
        failures[i] = { error };
        failed = true;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  const first = failures.find((f) => f !== undefined);
  if (first !== undefined) throw first.error;
}

function describe(op: SnapshotMetadata['operators'][number]): string {
  return op.uid !== null
    ? `uid '${op.uid}' (${op.name})`
    : `'${op.name}' (operator id ${op.operatorId}, no uid)`;
}

function hasState(op: SnapshotMetadata['operators'][number]): boolean {
  return op.subtasks.some((s) => s.keyed !== null || s.operator !== null || s.timers !== null);
}

/**
 * The stored format of keyed state `name` in the old subtasks a new subtask reads. They can
 * differ: a subtask that never asked for a restored state since an earlier schema change wrote it
 * at the old version, while the others wrote it at the new one. One subtask's groups at the
 * parallelism they were taken are read as that subtask wrote them; mixed into one new subtask
 * they could not be (a state has one format until its function asks for it, and a migration
 * would run on values already migrated): that restore is refused, changing nothing.
 */
function keyedFormatFor(
  name: string,
  from: readonly SubtaskMetadata[],
  where: string,
  p: number,
  oldP: number,
): StoredFormat {
  const seen = new Map<string, { format: StoredFormat; subtasks: number[] }>();
  for (const s of from) {
    const f = formatsOf(s.states, 'keyed').get(name);
    if (f === undefined) continue;
    const key = `${f.serializer}@${f.version}`;
    const entry = seen.get(key) ?? { format: f, subtasks: [] };
    entry.subtasks.push(s.index);
    seen.set(key, entry);
  }
  const formats = [...seen.values()];
  if (formats.length > 1)
    throw new SnapshotMismatchError(
      `keyed state '${name}' of ${where} was stored in different forms by the old subtasks whose key groups one new subtask of ${p} would hold (` +
        formats
          .map(
            (f) =>
              `serializer '${f.format.serializer}' version ${f.format.version} by subtask${f.subtasks.length > 1 ? 's' : ''} ${f.subtasks.join(', ')}`,
          )
          .join('; ') +
        `): some subtasks had not asked for the state since its schema changed. Restore at the parallelism it was taken with (-p ${oldP}), ` +
        'let every subtask use the state, and take a new savepoint to change parallelism from',
    );
  return formats[0]?.format ?? DEFAULT_FORMAT;
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
  // Opened once per file, also when two reads of it are under way at once.
  const readers = new Map<string, Promise<StateFileReader>>();
  const reader = (h: StateHandle, kind: number): Promise<StateFileReader> => {
    let r = readers.get(h.path);
    if (r === undefined) {
      r = StateFileReader.open(storage, location, h.path, { size: h.size, crc32: h.crc32, kind });
      r.catch(() => undefined); // whoever awaits it sees the failure
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
    const hasTimers = op.subtasks.some((s) => s.timers !== null);
    if ((hasKeyed || hasTimers) && op.maxParallelism !== node.maxParallelism) {
      throw new SnapshotMismatchError(
        `operator ${describe(op)} was snapshotted with max parallelism ${op.maxParallelism} but now has ` +
          `${node.maxParallelism}; max parallelism cannot change across a restore — set it back to ${op.maxParallelism} (weir run --max-parallelism ${op.maxParallelism}, or setMaxParallelism(${op.maxParallelism}) where the job sets it)`,
      );
    }
    const p = node.parallelism;
    const kinds = keyedKinds(
      op.subtasks.flatMap((s) => s.states),
      where,
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
    // Keyed state: each new subtask reads the sections of its key groups from every old file
    // that has some, several files at a time (one decodes while the others are being read).
    const reads: KeyedRead[] = [];
    if (hasKeyed)
      for (let i = 0; i < p; i++) {
        const range = KeyGroupRange.forSubtask(i, p, node.maxParallelism);
        for (const s of op.subtasks) {
          if (s.keyed === null || s.keyGroups === null) continue;
          if (s.keyGroups[1] < range.start || s.keyGroups[0] > range.end) continue;
          const ids = s.keyed.sections.map(([id]) => id).filter((id) => range.contains(id));
          reads.push({
            subtask: i,
            from: s,
            handle: s.keyed,
            ids,
            where: `${where}, ${s.keyed.path}`,
            groups: [],
          });
        }
      }
    // All opened and their memory allocated before anything is decoded (see prepareRead; address
    // space only: a page is touched when it is read, and becomes the state decoded from it).
    const opened = await allInOrder(reads.map((job) => reader(job.handle, STATE_FILE_KEYED)));
    const prepared = reads.map((job, k) => opened[k]!.prepareRead(job.ids));
    await eachConcurrently(reads, FILES_IN_FLIGHT, (job, k, stopped) =>
      prepared[k]!.forEach((id, payload) => {
        if (stopped()) throw new Stopped();
        job.groups.push(
          encodedKeyGroup(payload, id, kinds, {
            snapshot: location.uri,
            where: job.where,
            version: opened[k]!.version,
          }),
        );
      }),
    );
    // Timers: small next to keyed state; each new subtask reads the sections of its key groups.
    const timersFor: RestoredTimers[][] = Array.from({ length: p }, () => []);
    if (op.subtasks.some((s) => s.timers !== null)) {
      for (let i = 0; i < p; i++) {
        const range = KeyGroupRange.forSubtask(i, p, node.maxParallelism);
        for (const s of op.subtasks) {
          if (s.timers === null || s.keyGroups === null) continue;
          if (s.keyGroups[1] < range.start || s.keyGroups[0] > range.end) continue;
          const r = await reader(s.timers, STATE_FILE_TIMERS);
          const ids = s.timers.sections.map(([id]) => id).filter((id) => range.contains(id));
          for (const [id, payload] of await r.readSections(ids))
            readTimersSection(payload, id, timersFor[i]!, `${where}, ${s.timers.path}`);
        }
      }
    }
    for (let i = 0; i < p; i++) {
      const state: OperatorSubtaskState = {};
      if (operatorParts !== undefined) state.operator = operatorParts[i];
      if (timersFor[i]!.length > 0) state.timers = timersFor[i];
      if (hasKeyed) {
        state.keyed = {
          maxParallelism: node.maxParallelism,
          states: [...kinds].map(([name, kind]) => ({
            name,
            kind,
            format: keyedFormatFor(
              name,
              reads.filter((job) => job.subtask === i).map((job) => job.from),
              where,
              p,
              op.subtasks.length,
            ),
            keyGroups: [],
          })),
          // In the order of the old subtasks, whatever order the reads finished in.
          encoded: reads.filter((job) => job.subtask === i).flatMap((job) => job.groups),
        };
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
