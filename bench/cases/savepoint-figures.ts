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
import type { JobGraph, OperatorNode } from '../../src/graph/job-graph.js';
import { KeyGroupRange } from '../../src/state/key-group.js';
import type { CheckpointStorage, SnapshotLocation } from '../../src/storage/checkpoint-storage.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import type { SnapshotMetadata } from '../../src/storage/metadata.js';
import { diskRead, diskWrite, dropCaches, figure, freshRead, pairedFigure } from '../lib/disk.js';
import { collectGarbage, settleHeap, type Figure, type Progress } from '../lib/harness.js';
import {
  buildBackends,
  checkRestored,
  decodeAll,
  MAX_PARALLELISM,
  restoreGraph,
  restoreSnapshot,
  writeSnapshot,
  type KeyedStateShape,
} from '../lib/keyed-snapshot.js';

const M = MAX_PARALLELISM;
const OLD_P = 4;
const NEW_P = 2;
const SHAPE: KeyedStateShape = { keys: 1 << 20, valueBytes: 1024 };

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
  const backends = buildBackends(OLD_P, SHAPE);
  const savepoints: Array<{ location: SnapshotLocation; size: number; raw: string }> = [];
  for (let r = 0; r < runs; r++) {
    progress(`savepoint: run ${r + 1}/${runs}, writing at p=${OLD_P}`);
    collectGarbage();
    const t0 = performance.now();
    const location = storage.savepointLocation(join(dir, 'savepoints'), jobId);
    const size = await writeSnapshot(storage, location, backends, {
      graph,
      node,
      jobId,
      id: r + 1,
      kind: 'savepoint',
    });
    write.push(size / ((performance.now() - t0) / 1000));
    for (const b of backends) while (!b.mergeStep(1 << 16));
    const raw = join(dir, `raw-${r}`);
    diskW.push(diskWrite(raw, size));
    savepoints.push({ location, size, raw });
  }
  return savepoints;
}

export async function savepointFigures(
  runs: number,
  progress: Progress,
): Promise<{ figures: Figure[]; text: string }> {
  runs = Math.max(1, Math.min(runs, 3));
  const { graph, node } = restoreGraph(NEW_P);
  const jobId = randomBytes(16).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-savepoint-'));
  let cachesDropped = true;
  try {
    const storage = new FsCheckpointStorage(join(dir, 'checkpoints'));
    const write: number[] = [];
    const read: number[] = [];
    const decoded: number[] = [];
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
      await settleHeap();
      cachesDropped = dropCaches() && cachesDropped;
      const reads: Read[] = [];
      const t0 = performance.now();
      const { backends, metadata } = await restoreSnapshot(
        countingStorage(storage, reads),
        sp.location.uri,
        graph,
        node,
      );
      read.push(sp.size / ((performance.now() - t0) / 1000));
      decodeAll(backends);
      decoded.push(sp.size / ((performance.now() - t0) / 1000));
      checkRestored(backends, SHAPE);
      const shares = readShares(metadata, reads);
      const w = shares.reduce((a, s) => (s.read / s.owned > a.read / a.owned ? s : a));
      readRatios.push(w.read / w.owned);
      if (w.read / w.owned >= worst.read / worst.owned) worst = w;
      backends.length = 0;
      await storage.discard(sp.location);

      progress(`savepoint: run ${r + 1}/${runs}, disk read`);
      await settleHeap();
      cachesDropped = dropCaches() && cachesDropped;
      diskR.push(diskRead(sp.raw, sp.size));
      cachesDropped = dropCaches() && cachesDropped;
      freshR.push(freshRead(sp.raw, sp.size));
      rmSync(sp.raw);
    }
    const gib = (size / (1 << 30)).toFixed(2);
    const figures = [
      pairedFigure(`savepoint write p=${OLD_P}, ${gib} GiB`, write, diskW),
      pairedFigure(`restore p=${OLD_P}→${NEW_P}, ${gib} GiB`, read, diskR),
      pairedFigure(`restore + decode p=${OLD_P}→${NEW_P}, ${gib} GiB`, decoded, diskR),
      pairedFigure(`restore p=${OLD_P}→${NEW_P} vs read into new memory`, read, freshR),
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
        `restore: _metadata, loadSnapshot at p=${NEW_P}, both new subtasks' backends filled with ${SHAPE.keys} keys of ${SHAPE.valueBytes} B ` +
        '(after the old state is dropped, as in a newly started job); restore: until the job can run (key groups still ' +
        'encoded), restore + decode: until every key group is decoded too',
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
