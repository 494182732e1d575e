// Snapshot figures (issue 3): the synchronous pause of a heap snapshot at 1 M and 10 M keys beside
// what copying the same maps would take; and writing / restoring ≥ 1 GiB of keyed state through
// the checkpoint path beside the disk's own sequential write (with fsync) and read of as many
// bytes, measured in the same run. Restore is also shown beside reading the file into newly
// allocated memory: on these virtual machines first-touching fresh pages is itself slow (about
// 150 MiB/s), and a restore cannot avoid it, since the bytes read become the restored state.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  keyedSnapshotFrom,
  readKeyedSection,
  writeKeyedState,
} from '../../src/checkpoint/state-serialization.js';
import { ValueStateDescriptor } from '../../src/index.js';
import { HeapKeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange } from '../../src/state/key-group.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import { STATE_FILE_KEYED, StateFileReader } from '../../src/storage/state-file.js';
import { diskRead, diskWrite, dropCaches, figure, freshRead } from '../lib/disk.js';
import { collectGarbage, median, type Figure, type Progress } from '../lib/harness.js';

const M = 128;

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

/** Writes `runs` checkpoints of 1 GiB of keyed state; the backend is dropped when this returns. */
async function writeCheckpoints(
  storage: FsCheckpointStorage,
  runs: number,
  progress: Progress,
): Promise<{ write: number[]; files: Array<{ r: number; path: string; size: number }> }> {
  progress('snapshot: building 1 GiB of keyed state');
  const b = loadBackend(KEYS, (i) => Buffer.alloc(VALUE, i & 0xff));
  const write: number[] = [];
  const files: Array<{ r: number; path: string; size: number }> = [];
  for (let r = 0; r < runs; r++) {
    progress(`snapshot: write run ${r + 1}/${runs}`);
    const loc = storage.checkpointLocation('bench', r);
    const cap = b.capture();
    const t0 = performance.now();
    const file = await storage.createStateFile(loc, 'keyed.state', STATE_FILE_KEYED);
    await writeKeyedState(cap, file);
    const info = await file.close();
    write.push(info.size / ((performance.now() - t0) / 1000));
    cap.release();
    files.push({ r, path: info.path, size: info.size });
  }
  return { write, files };
}

const KEYS = 1 << 20;
const VALUE = 1024;

async function writeAndRestore(runs: number, progress: Progress): Promise<Figure[]> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-snap-'));
  try {
    const storage = new FsCheckpointStorage(dir);
    // Written first, and the live state dropped, so each restore runs as in a newly started job
    // (not beside the gigabyte it was written from, whose marking would double the GC work).
    const { write, files } = await writeCheckpoints(storage, runs, progress);
    collectGarbage();
    const read: number[] = [];
    const diskW: number[] = [];
    const diskR: number[] = [];
    const freshR: number[] = [];
    let size = 0;
    for (const f of files) {
      progress(`snapshot: restore run ${f.r + 1}/${runs}`);
      const loc = storage.checkpointLocation('bench', f.r);
      size = f.size;
      cachesDropped = dropCaches() && cachesDropped;
      const t0 = performance.now();
      const reader = await StateFileReader.open(storage, loc, f.path, {
        size: f.size,
        kind: STATE_FILE_KEYED,
      });
      const acc = new Map();
      for (const [id, payload] of await reader.readSections(reader.sections.map((s) => s.id)))
        readKeyedSection(payload, id, acc, f.path);
      let restored: HeapKeyedStateBackend | undefined = new HeapKeyedStateBackend(
        KeyGroupRange.forSubtask(0, 1, M),
        M,
      );
      restored.restore([keyedSnapshotFrom(M, acc)], { copy: false });
      read.push(f.size / ((performance.now() - t0) / 1000));
      if ([...restored.entries('v')].length !== KEYS) throw new Error('bench: restore lost keys');
      restored = undefined;
      acc.clear();
      collectGarbage();
      const raw = join(dir, `raw-${f.r}`);
      diskW.push(diskWrite(raw, f.size));
      cachesDropped = dropCaches() && cachesDropped;
      diskR.push(diskRead(raw, f.size));
      cachesDropped = dropCaches() && cachesDropped;
      freshR.push(freshRead(raw, f.size));
      rmSync(raw);
      await storage.discard(loc);
    }
    const mib = (x: number): number => Math.round(x / (1 << 20));
    const gib = (size / (1 << 30)).toFixed(2);
    return [
      figure(`checkpoint write ${gib} GiB`, mib(median(write)), 'MiB/s', mib(median(diskW))),
      figure(`restore ${gib} GiB`, mib(median(read)), 'MiB/s', mib(median(diskR))),
      figure(`restore ${gib} GiB vs read into new memory`, mib(median(read)), 'MiB/s', mib(median(freshR))),
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
    cachesDropped
      ? 'reads (engine and disk) start from an empty page cache'
      : 'could not drop the page cache (not root): reads come from memory, so the restore ratio understates the engine',
  ];
  return { figures, text: lines.join('\n') };
}
