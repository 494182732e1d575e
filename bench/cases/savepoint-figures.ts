// Savepoint figures (issue acceptance): a savepoint of ≥ 1 GiB of keyed state held by 4 subtasks,
// written as a job writes it (the four subtasks' keyed state files concurrently, then
// `_metadata`), and restored at parallelism 2 through the real restore path (loadSnapshot: each
// new subtask reads only the sections of the key groups it owns), each beside the disk's own
// sequential write (with fsync) or read of as many bytes, measured in the same run. Also: how many
// bytes each new subtask reads beside the bytes of the key groups it owns (target ≤ 1.1), and the
// restore beside reading the bytes into newly allocated memory (see snapshot-figures.ts: on these
// machines first-touching fresh pages is itself slow, and a restore cannot avoid it).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSnapshot } from '../../src/checkpoint/snapshot-loader.js';
import { writeTaskSnapshot } from '../../src/checkpoint/task-snapshot-writer.js';
import { DiscardingSink, StreamExecutionEnvironment, ValueStateDescriptor } from '../../src/index.js';
import type { JobGraph, OperatorNode } from '../../src/graph/job-graph.js';
import { HeapKeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange, keyGroupOf, subtaskForKeyGroup } from '../../src/state/key-group.js';
import type { CheckpointStorage, SnapshotLocation } from '../../src/storage/checkpoint-storage.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import {
  decodeMetadata,
  encodeMetadata,
  METADATA_VERSION,
  type SnapshotMetadata,
} from '../../src/storage/metadata.js';
import { weirVersion } from '../../src/version.js';
import { diskRead, diskWrite, dropCaches, figure, freshRead } from '../lib/disk.js';
import { collectGarbage, median, type Figure, type Progress } from '../lib/harness.js';

const M = 128;
const OLD_P = 4;
const NEW_P = 2;
const KEYS = 1 << 20;
const VALUE = 1024;
const STATE = 'v';

/** The first byte of key i's value; the restore is checked against the sum of these. */
const tag = (i: number): number => (i * 31) & 0xff;

/** 4 subtasks' backends, each holding the keys whose key group falls in its range. */
function buildBackends(): HeapKeyedStateBackend[] {
  const backends = Array.from(
    { length: OLD_P },
    (_, i) => new HeapKeyedStateBackend(KeyGroupRange.forSubtask(i, OLD_P, M), M),
  );
  const states = backends.map((b) => b.getState(new ValueStateDescriptor<Buffer>(STATE)));
  for (let i = 0; i < KEYS; i++) {
    const key = `key-${i}`;
    const kg = keyGroupOf(key, M);
    const s = subtaskForKeyGroup(kg, OLD_P, M);
    backends[s]!.setCurrentKey(key, kg);
    states[s]!.update(Buffer.alloc(VALUE, tag(i)));
  }
  for (const b of backends) b.clearCurrentKey();
  return backends;
}

/** A job with one keyed operator (uid 'state') at parallelism 2: the graph the savepoint is restored into. */
function restoreGraph(): { graph: JobGraph; node: OperatorNode } {
  const env = new StreamExecutionEnvironment({
    parallelism: NEW_P,
    maxParallelism: M,
    jobName: 'bench savepoint',
  });
  env
    .fromSequence(1, 10)
    .uid('numbers')
    .keyBy((n) => n)
    .sum()
    .uid('state')
    .sinkTo(new DiscardingSink())
    .uid('sink');
  const graph = env.getJobGraph();
  const node = graph.vertices.flatMap((v) => v.operators).find((n) => n.uid === 'state');
  if (node === undefined || !node.keyed || node.parallelism !== NEW_P || node.maxParallelism !== M)
    throw new Error('bench: the restore graph has no keyed operator of parallelism 2');
  return { graph, node };
}

/** One readRange (or `_metadata` read) seen by the counting storage. */
interface Read {
  path: string | undefined;
  offset: number;
  length: number;
}

/** The storage, with every read recorded (`length` = bytes actually returned). */
function countingStorage(inner: FsCheckpointStorage, reads: Read[]): CheckpointStorage {
  return new Proxy(inner, {
    get(target, prop) {
      if (prop === 'readRange')
        return async (
          location: SnapshotLocation,
          path: string,
          offset: number,
          length: number,
          into?: Uint8Array,
        ): Promise<Uint8Array> => {
          const bytes = await target.readRange(location, path, offset, length, into);
          reads.push({ path, offset, length: bytes.length });
          return bytes;
        };
      if (prop === 'readMetadata')
        return async (location: SnapshotLocation): Promise<Uint8Array | undefined> => {
          const bytes = await target.readMetadata(location);
          reads.push({ path: undefined, offset: 0, length: bytes?.length ?? 0 });
          return bytes;
        };
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * Bytes read per new subtask, and bytes of the sections it owns. A file's reads go to the one new
 * subtask whose range it overlaps; when it overlaps several, bytes inside a section go to the
 * section's owner and the rest (header, index, footer) to each of them. `_metadata` counts for
 * every new subtask.
 */
function readShares(
  metadata: SnapshotMetadata,
  reads: readonly Read[],
): Array<{ read: number; owned: number }> {
  const ranges = Array.from({ length: NEW_P }, (_, i) => KeyGroupRange.forSubtask(i, NEW_P, M));
  const owner = (kg: number): number => ranges.findIndex((r) => r.contains(kg));
  const out = ranges.map(() => ({ read: 0, owned: 0 }));
  const files = new Map<string, { sections: Array<[number, number, number, number]>; readers: number[] }>();
  for (const op of metadata.operators)
    for (const s of op.subtasks) {
      if (s.keyed === null || s.keyGroups === null) continue;
      const [a, b] = s.keyGroups;
      const readers = ranges.flatMap((r, i) => (b < r.start || a > r.end ? [] : [i]));
      files.set(s.keyed.path, { sections: s.keyed.sections, readers });
      for (const [id, , length] of s.keyed.sections) out[owner(id)]!.owned += length;
    }
  for (const r of reads) {
    if (r.path === undefined) {
      for (const o of out) o.read += r.length;
      continue;
    }
    const f = files.get(r.path);
    if (f === undefined) throw new Error(`bench: a read of ${r.path}, which _metadata does not name`);
    if (f.readers.length === 1) {
      out[f.readers[0]!]!.read += r.length;
      continue;
    }
    let inSections = 0;
    for (const [id, offset, length] of f.sections) {
      const n = Math.min(r.offset + r.length, offset + length) - Math.max(r.offset, offset);
      if (n > 0) {
        out[owner(id)]!.read += n;
        inSections += n;
      }
    }
    for (const i of f.readers) out[i]!.read += r.length - inSections;
  }
  return out;
}

/** Every new subtask's keys are in its range, none is lost, and the values are the ones written. */
function checkRestored(backends: readonly HeapKeyedStateBackend[]): void {
  let keys = 0;
  let sum = 0;
  for (const b of backends)
    for (const [k, v] of b.entries(STATE)) {
      if (!b.range.contains(keyGroupOf(k, M)))
        throw new Error(`bench: key ${String(k)} restored outside its range`);
      const bytes = v as Uint8Array;
      if (bytes.length !== VALUE) throw new Error(`bench: a value of ${bytes.length} bytes restored`);
      keys++;
      sum += bytes[0]! + bytes[VALUE - 1]!;
    }
  let expected = 0;
  for (let i = 0; i < KEYS; i++) expected += 2 * tag(i);
  if (keys !== KEYS || sum !== expected)
    throw new Error(
      `bench: restored ${keys} keys (checksum ${sum}), expected ${KEYS} (checksum ${expected})`,
    );
}

/** Writes one savepoint of `backends` as a job at p=4 does; returns its location and size in bytes. */
async function writeSavepoint(
  storage: FsCheckpointStorage,
  target: string,
  backends: readonly HeapKeyedStateBackend[],
  graph: JobGraph,
  node: OperatorNode,
  jobId: string,
  id: number,
): Promise<{ location: SnapshotLocation; size: number }> {
  const location = storage.savepointLocation(target, jobId);
  const timestamp = Date.now();
  // The synchronous part of every subtask (capture), then their asynchronous parts at once.
  const captures = backends.map((b) => b.capture());
  const acks = await Promise.all(
    captures.map((keyed, i) =>
      writeTaskSnapshot(
        storage,
        location,
        i,
        [backends[i]!.range],
        [{ operatorId: node.operatorId, keyed, operator: { states: [] }, pending: undefined }],
      ),
    ),
  );
  const handles = acks.flat().sort((a, b) => a.subtaskIndex - b.subtaskIndex);
  const metadata: SnapshotMetadata = {
    format: 'weir-snapshot',
    version: METADATA_VERSION,
    weirVersion: weirVersion(),
    kind: 'savepoint',
    id,
    timestamp,
    jobId,
    jobName: graph.jobName,
    operators: [
      {
        operatorId: node.operatorId,
        uid: node.uid ?? null,
        name: node.name,
        parallelism: OLD_P,
        maxParallelism: M,
        subtasks: handles.map((h) => ({
          index: h.subtaskIndex,
          keyGroups: h.keyGroups === null ? null : [h.keyGroups[0], h.keyGroups[1]],
          keyed: h.keyed,
          operator: h.operator,
          timers: null,
          sink: null,
          states: h.states,
        })),
      },
    ],
    extra: {},
  };
  const metadataBytes = encodeMetadata(metadata);
  await storage.writeMetadata(location, metadataBytes);
  return { location, size: handles.reduce((n, h) => n + h.bytes, 0) + metadataBytes.length };
}

/** Phase 1: builds the state and writes `runs` savepoints of it, each beside a plain write (+ fsync) of as many bytes. */
async function writeSavepoints(
  runs: number,
  storage: FsCheckpointStorage,
  dir: string,
  graph: JobGraph,
  node: OperatorNode,
  jobId: string,
  progress: Progress,
  write: number[],
  diskW: number[],
): Promise<Array<{ location: SnapshotLocation; size: number; raw: string }>> {
  progress(`savepoint: building 1 GiB of keyed state over ${OLD_P} subtasks`);
  const backends = buildBackends();
  const savepoints: Array<{ location: SnapshotLocation; size: number; raw: string }> = [];
  for (let r = 0; r < runs; r++) {
    progress(`savepoint: run ${r + 1}/${runs}, writing at p=${OLD_P}`);
    collectGarbage();
    const t0 = performance.now();
    const sp = await writeSavepoint(storage, join(dir, 'savepoints'), backends, graph, node, jobId, r + 1);
    write.push(sp.size / ((performance.now() - t0) / 1000));
    for (const b of backends) while (!b.mergeStep(1 << 16));
    const raw = join(dir, `raw-${r}`);
    diskW.push(diskWrite(raw, sp.size));
    savepoints.push({ ...sp, raw });
  }
  return savepoints;
}

/** Restores the savepoint at p=2 as a new job does; returns the new subtasks' backends. */
async function restoreSavepoint(
  storage: CheckpointStorage,
  uri: string,
  graph: JobGraph,
  node: OperatorNode,
): Promise<{ backends: HeapKeyedStateBackend[]; metadata: SnapshotMetadata }> {
  const at = await storage.resolve(uri);
  const bytes = await storage.readMetadata(at);
  if (bytes === undefined) throw new Error(`bench: ${at.uri} has no _metadata`);
  const metadata = decodeMetadata(bytes, `${at.uri}/_metadata`);
  const job = await loadSnapshot(storage, at, metadata, graph, { allowNonRestoredState: false });
  const backends: HeapKeyedStateBackend[] = [];
  for (let i = 0; i < NEW_P; i++) {
    const state = job.stateFor(node.vertex, i)[node.vertex.operators.indexOf(node)];
    if (state?.keyed === undefined) throw new Error(`bench: no keyed state for new subtask ${i}`);
    const b = new HeapKeyedStateBackend(KeyGroupRange.forSubtask(i, NEW_P, M), M);
    b.restore([state.keyed], { copy: false });
    backends.push(b);
  }
  return { backends, metadata };
}

export async function savepointFigures(
  runs: number,
  progress: Progress,
): Promise<{ figures: Figure[]; text: string }> {
  runs = Math.max(1, Math.min(runs, 3));
  const { graph, node } = restoreGraph();
  const jobId = randomBytes(16).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-savepoint-'));
  let cachesDropped = true;
  try {
    const storage = new FsCheckpointStorage(join(dir, 'checkpoints'));
    const write: number[] = [];
    const read: number[] = [];
    const diskW: number[] = [];
    const diskR: number[] = [];
    const freshR: number[] = [];
    const readRatios: number[] = [];
    let worst = { read: 0, owned: 1 };
    // Phase 1: `runs` savepoints of the running job's state, each beside a plain write of as many bytes.
    // In a function of its own, so that the old state is unreachable once it returns.
    const savepoints = await writeSavepoints(runs, storage, dir, graph, node, jobId, progress, write, diskW);
    const size = savepoints[savepoints.length - 1]!.size;
    // Phase 2: restores in a heap without the old state, as a newly started job restores.
    for (let r = 0; r < runs; r++) {
      const sp = savepoints[r]!;
      progress(`savepoint: run ${r + 1}/${runs}, restoring at p=${NEW_P}`);
      collectGarbage();
      cachesDropped = dropCaches() && cachesDropped;
      const reads: Read[] = [];
      const t0 = performance.now();
      const { backends, metadata } = await restoreSavepoint(
        countingStorage(storage, reads),
        sp.location.uri,
        graph,
        node,
      );
      read.push(sp.size / ((performance.now() - t0) / 1000));
      checkRestored(backends);
      const shares = readShares(metadata, reads);
      const w = shares.reduce((a, s) => (s.read / s.owned > a.read / a.owned ? s : a));
      readRatios.push(w.read / w.owned);
      if (w.read / w.owned >= worst.read / worst.owned) worst = w;
      backends.length = 0;
      await storage.discard(sp.location);

      progress(`savepoint: run ${r + 1}/${runs}, disk read`);
      collectGarbage();
      cachesDropped = dropCaches() && cachesDropped;
      diskR.push(diskRead(sp.raw, sp.size));
      cachesDropped = dropCaches() && cachesDropped;
      freshR.push(freshRead(sp.raw, sp.size));
      rmSync(sp.raw);
    }
    const mib = (x: number): number => Math.round(x / (1 << 20));
    const gib = (size / (1 << 30)).toFixed(2);
    const figures = [
      figure(`savepoint write p=${OLD_P}, ${gib} GiB`, mib(median(write)), 'MiB/s', mib(median(diskW))),
      figure(`restore p=${OLD_P}→${NEW_P}, ${gib} GiB`, mib(median(read)), 'MiB/s', mib(median(diskR))),
      figure(
        `restore p=${OLD_P}→${NEW_P} vs read into new memory`,
        mib(median(read)),
        'MiB/s',
        mib(median(freshR)),
      ),
      figure(
        `restore p=${OLD_P}→${NEW_P}: bytes read / owned`,
        Math.round((worst.read / (1 << 20)) * 100) / 100,
        'MiB',
        Math.round((worst.owned / (1 << 20)) * 100) / 100,
        Math.max(...readRatios),
      ),
    ];
    const lines = [
      'savepoint figures                             engine          baseline                                  ratio',
      ...figures.map((f) => {
        const base =
          f.unit === 'MiB'
            ? 'owned'
            : f.name.endsWith('new memory')
              ? 'file read into a new buffer'
              : f.name.startsWith('restore')
                ? 'disk sequential read'
                : 'disk write + fsync';
        return `${f.name.padEnd(44)}  ${`${f.value} ${f.unit}`.padEnd(14)}  ${`${f.baseline} ${f.unit} (${base})`.padEnd(40)}  ${f.ratio.toFixed(f.unit === 'MiB' ? 4 : 3)}`;
      }),
      `write: ${OLD_P} subtasks' keyed state files at once, then _metadata, into a savepoint folder (the state live in the heap); ` +
        `restore: _metadata, loadSnapshot at p=${NEW_P}, both new subtasks' backends filled with ${KEYS} keys of ${VALUE} B ` +
        '(after the old state is dropped, as in a newly started job)',
      'write and restore: higher is better (ratio = engine / disk, target ≥ 0.5); bytes read / owned: the worst ' +
        'new subtask over the runs, _metadata, headers and indexes included (target ≤ 1.1)',
      cachesDropped
        ? 'reads (engine and disk) start from an empty page cache'
        : 'could not drop the page cache (not root): reads come from memory, so the restore ratio understates the engine',
    ];
    return { figures, text: lines.join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
