// Snapshot figures (issue 3): the synchronous pause of a heap snapshot at 1 M and 10 M keys beside
// what copying the same maps would take; and writing / restoring ≥ 1 GiB of keyed state through
// the checkpoint path (a job's checkpoint of one keyed subtask: writeTaskSnapshot, then
// `_metadata`; its restore after a restart: loadSnapshot at the same parallelism, the backend
// filled) beside the disk's own sequential write (with fsync) and read of as many bytes, measured
// in the same run. Restore is also shown beside reading the file into newly allocated memory,
// which a restore cannot avoid (the bytes read become the restored state). A restore leaves the
// key groups encoded until the job needs them (EncodedKeyGroup): "restore" is the time until the
// job can run, "restore + decode" the time until every key group was decoded as well.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueStateDescriptor } from '../../src/index.js';
import { HeapKeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange } from '../../src/state/key-group.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import { diskRead, diskWrite, dropCaches, figure, freshRead, pairedFigure } from '../lib/disk.js';
import { collectGarbage, median, settleHeap, type Figure, type Progress } from '../lib/harness.js';
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

function loadBackend(keys: number, value: (i: number) => unknown): HeapKeyedStateBackend {
  const b = new HeapKeyedStateBackend(KeyGroupRange.forSubtask(0, 1, M), M);
  const s = b.getState(new ValueStateDescriptor<unknown>('v'));
  for (let i = 0; i < keys; i++) {
    b.setCurrentKeyComputingGroup(`key-${i}`);
    s.update(value(i));
  }
  b.clearCurrentKey();
  return b;
}

function p99(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * 0.99))]!;
}

/** p99 of capture() over `rounds` snapshots, with writes between them, and the median cost of copying the maps. */
function pauseFigures(keys: number, rounds: number): { pause: number; copy: number } {
  const b = loadBackend(keys, (i) => i);
  const s = b.getState(new ValueStateDescriptor<unknown>('v'));
  const pauses: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    const cap = b.capture();
    pauses.push(performance.now() - t0);
    for (let i = 0; i < 2000; i++) {
      b.setCurrentKeyComputingGroup(`key-${(r * 7919 + i * 104729) % keys}`);
      s.update(r);
    }
    cap.release();
    while (!b.mergeStep(1 << 16));
  }
  // The baseline: a synchronous snapshot that copies every map, as a naive backend would.
  const cap = b.capture();
  const copies: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const out = cap.states[0]!.maps.map((m) => (m === undefined ? undefined : new Map(m)));
    copies.push(performance.now() - t0);
    if (out.length !== M) throw new Error('bench: copy lost key groups');
  }
  cap.release();
  return { pause: p99(pauses), copy: median(copies) };
}

let cachesDropped = true;

const SHAPE: KeyedStateShape = { keys: 1 << 20, valueBytes: 1024 };

/**
 * Writes `runs` checkpoints of 1 GiB of keyed state (one subtask), each followed by a plain write
 * (+ fsync) of as many bytes; the state is dropped when this returns.
 */
async function writeCheckpoints(
  storage: FsCheckpointStorage,
  dir: string,
  runs: number,
  progress: Progress,
): Promise<{ write: number[]; diskW: number[]; checkpoints: Array<{ uri: string; size: number }> }> {
  progress('snapshot: building 1 GiB of keyed state');
  const backends = buildBackends(1, SHAPE);
  const { graph, node } = restoreGraph(1);
  const write: number[] = [];
  const diskW: number[] = [];
  const checkpoints: Array<{ uri: string; size: number }> = [];
  for (let r = 0; r < runs; r++) {
    progress(`snapshot: write run ${r + 1}/${runs}`);
    collectGarbage();
    const location = storage.checkpointLocation('bench', r + 1);
    const t0 = performance.now();
    const size = await writeSnapshot(storage, location, backends, {
      graph,
      node,
      jobId: 'bench',
      id: r + 1,
      kind: 'checkpoint',
    });
    write.push(size / ((performance.now() - t0) / 1000));
    for (const b of backends) while (!b.mergeStep(1 << 16));
    checkpoints.push({ uri: location.uri, size });
    const raw = join(dir, `raw-${r}`);
    diskW.push(diskWrite(raw, size));
    rmSync(raw);
  }
  return { write, diskW, checkpoints };
}

async function writeAndRestore(runs: number, progress: Progress): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-snap-'));
  try {
    const storage = new FsCheckpointStorage(dir);
    // Written first, and the live state dropped, so each restore runs as in a job restarting in
    // a new process (not beside the gigabyte it was written from, whose marking would double the
    // GC work).
    const { write, diskW, checkpoints } = await writeCheckpoints(storage, dir, runs, progress);
    const { graph, node } = restoreGraph(1);
    const read: number[] = [];
    const decoded: number[] = [];
    const diskR: number[] = [];
    const freshR: number[] = [];
    let size = 0;
    for (const [r, chk] of checkpoints.entries()) {
      progress(`snapshot: restore run ${r + 1}/${runs}`);
      size = chk.size;
      await settleHeap();
      cachesDropped = dropCaches() && cachesDropped;
      const t0 = performance.now();
      const { backends } = await restoreSnapshot(storage, chk.uri, graph, node);
      read.push(chk.size / ((performance.now() - t0) / 1000));
      decodeAll(backends);
      decoded.push(chk.size / ((performance.now() - t0) / 1000));
      checkRestored(backends, SHAPE);
      backends.length = 0;
      await storage.discard(await storage.resolve(chk.uri));
      await settleHeap();
      const raw = join(dir, `raw-${r}`);
      diskWrite(raw, chk.size); // the file the disk's own reads are measured on
      cachesDropped = dropCaches() && cachesDropped;
      diskR.push(diskRead(raw, chk.size));
      cachesDropped = dropCaches() && cachesDropped;
      freshR.push(freshRead(raw, chk.size));
      rmSync(raw);
    }
    const gib = (size / (1 << 30)).toFixed(2);
    return [
      pairedFigure(`checkpoint write ${gib} GiB`, write, diskW),
      pairedFigure(`restore ${gib} GiB`, read, diskR),
      pairedFigure(`restore + decode ${gib} GiB`, decoded, diskR),
      pairedFigure(`restore ${gib} GiB vs read into new memory`, read, freshR),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function snapshotFigures(
  runs: number,
  progress: Progress,
): Promise<{ figures: Figure[]; text: string }> {
  const figures: Figure[] = [];
  for (const keys of [1_000_000, 10_000_000]) {
    progress(`snapshot: pause at ${keys / 1e6} M keys`);
    const { pause, copy } = pauseFigures(keys, 200);
    figures.push(
      figure(
        `sync snapshot pause p99, ${keys / 1e6} M keys`,
        Math.round(pause * 1000) / 1000,
        'ms',
        Math.round(copy * 10) / 10,
      ),
    );
  }
  figures.push(...(await writeAndRestore(Math.max(1, Math.min(runs, 3)), progress)));
  const lines = [
    'snapshot figures                              engine          baseline                        ratio',
    ...figures.map((f) => {
      const base =
        f.unit === 'ms'
          ? 'copying the maps'
          : f.name.endsWith('new memory')
            ? 'file read into a new buffer'
            : f.name.startsWith('restore')
              ? 'disk sequential read'
              : 'disk write + fsync';
      return `${f.name.padEnd(44)}  ${`${f.value} ${f.unit}`.padEnd(14)}  ${`${f.baseline} ${f.unit} (${base})`.padEnd(30)}  ${f.ratio.toFixed(3)}`;
    }),
    'pause: lower is better (ratio = pause / copy); write and restore: higher is better (ratio = engine / disk)',
    'restore: until the job can run (key groups still encoded); restore + decode: until every key group is decoded too',
    cachesDropped
      ? 'reads (engine and disk) start from an empty page cache'
      : 'could not drop the page cache (not root): reads come from memory, so the restore ratio understates the engine',
  ];
  return { figures, text: lines.join('\n') };
}
