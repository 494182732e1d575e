// The exactly-once file sink, driven directly as the runtime drives it: createWriter,
// initializeState with a real OperatorStateStore, write, snapshotState (state copied by the store
// right after, the promise awaited as the checkpoint's asynchronous part), notifications, close.
// A crash is a writer dropped without close; a restore is a new writer given the store snapshots
// of a checkpoint, redistributed for the new parallelism. A reader sees only visible files, and
// every check compares the lines it sees, sorted, duplicates included: "each line exactly once".
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSink, StreamExecutionEnvironment, type SinkWriter } from '../../src/index.js';
import { PendingFileLostError } from '../../src/connectors/file-sink.js';
import { redistributeOperatorState } from '../../src/checkpoint/redistribution.js';
import { OperatorStateStore } from '../../src/state/operator-state-store.js';
import type { OperatorStateSnapshot } from '../../src/state/snapshot.js';
import { Rng } from '../state/gen.js';
import { fakeContext, linesOf, tempDir } from './helpers.js';

const dirs: string[] = [];
function newDir(): string {
  const d = tempDir('file-sink');
  dirs.push(d);
  return d;
}

/** Writers a test dropped ("crashed"): their handles are closed after the test, as a dying process would. */
const dropped: Subtask[] = [];
afterAll(async () => {
  for (const s of dropped) await s.writer.close!();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const sorted = (a: readonly string[]): string[] => [...a].sort();

/** What a reader sees: the lines of files whose names begin with neither `.` nor `_`. */
function visibleLines(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith('.') || name.startsWith('_')) continue;
    out.push(...linesOf(fs.readFileSync(path.join(dir, name), 'utf8')));
  }
  return sorted(out);
}

const hidden = (dir: string, suffix = ''): string[] =>
  fs.readdirSync(dir).filter((n) => n.startsWith('.') && n.endsWith(suffix));

interface Subtask {
  writer: SinkWriter<string>;
  store: OperatorStateStore;
}

/** createWriter + initializeState; `restored` undefined is a fresh start. */
async function start(
  dir: string,
  index: number,
  p: number,
  restored?: OperatorStateSnapshot,
  bufferSize = 64,
  sink = new FileSink<string>(dir, { bufferSize }),
  attemptStartTime?: number,
): Promise<Subtask> {
  const writer = await sink.createWriter(fakeContext(index, p));
  const store = new OperatorStateStore();
  if (restored !== undefined) store.restore(restored);
  await writer.initializeState!({
    isRestored: restored !== undefined,
    operatorStateStore: store,
    subtaskIndex: index,
    parallelism: p,
    ...(attemptStartTime === undefined ? {} : { attemptStartTime }),
  });
  return { writer, store };
}

/**
 * Every subtask of an attempt. The attempts of one run share its sink object (`sink`; a new one
 * by default: a new run), as a job's restarts in one process do.
 */
function startAll(
  dir: string,
  p: number,
  restored?: readonly OperatorStateSnapshot[],
  sink?: FileSink<string>,
  attemptStartTime?: number,
): Promise<Subtask[]> {
  const states = restored === undefined ? undefined : redistributeOperatorState(restored, p);
  return Promise.all(
    Array.from({ length: p }, (_, i) => start(dir, i, p, states?.[i], 64, sink, attemptStartTime)),
  );
}

/** The synchronous part of checkpoint `id` at one subtask: snapshotState, then the store's copy. */
function snapshotSync(s: Subtask, id: number): { state: OperatorStateSnapshot; done: Promise<void> } {
  const done = Promise.resolve(s.writer.snapshotState!({ checkpointId: id, timestamp: id }));
  return { state: s.store.snapshot(), done };
}

/** Checkpoint `id` at every subtask, acknowledged: the states a restore from it gets. */
async function checkpoint(subtasks: readonly Subtask[], id: number): Promise<OperatorStateSnapshot[]> {
  const parts = subtasks.map((s) => snapshotSync(s, id));
  await Promise.all(parts.map((x) => x.done));
  return parts.map((x) => x.state);
}

/** Savepoint `id` of a running job at every subtask: snapshots told it is a savepoint. */
async function savepoint(subtasks: readonly Subtask[], id: number): Promise<OperatorStateSnapshot[]> {
  const parts = subtasks.map((s) => {
    const done = Promise.resolve(
      s.writer.snapshotState!({ checkpointId: id, timestamp: id, isSavepoint: true }),
    );
    return { state: s.store.snapshot(), done };
  });
  await Promise.all(parts.map((x) => x.done));
  return parts.map((x) => x.state);
}

async function complete(subtasks: readonly Subtask[], id: number): Promise<void> {
  for (const s of subtasks) await s.writer.notifyCheckpointComplete!(id);
}

function crash(subtasks: readonly Subtask[]): void {
  dropped.push(...subtasks);
}

const lines = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, k) => `${prefix}-${k}`);

/** The writer id of the first-version files below. */
const W1 = '0a1b2c3d';

/**
 * Output of the sink's first version in `dir` (one file committed by its checkpoint 1, one left
 * pending by checkpoint 2, still named in-progress as v1 named it) and that checkpoint's state.
 */
function firstVersionOutput(dir: string): OperatorStateSnapshot {
  fs.writeFileSync(path.join(dir, `part-1-0-${W1}-0`), 'v1 committed\n');
  fs.writeFileSync(path.join(dir, `.part-0-${W1}-1.inprogress`), 'v1 pending\n');
  const pending = {
    kind: 'pending',
    temp: `.part-0-${W1}-1.inprogress`,
    final: `part-2-0-${W1}-1`,
    checkpointId: 2,
    subtask: 0,
  };
  return {
    states: [{ name: 'file-sink-pending', mode: 'union', entries: [pending, { kind: 'checkpoint', id: 2 }] }],
  };
}

describe('FileSink two-phase commit', () => {
  it('shows nothing before the first checkpoint completes, then exactly what came before its snapshot', async () => {
    const dir = newDir();
    const [s] = await startAll(dir, 1);
    await s!.writer.write(lines('a', 30)); // more than the buffer: part of it is on disk already
    expect(hidden(dir, '.inprogress')).toHaveLength(1);
    expect(visibleLines(dir)).toEqual([]);
    const { done } = snapshotSync(s!, 1);
    // Records keep flowing while the pre-commit runs; they go to the next file.
    await s!.writer.write(lines('b', 30));
    await done;
    expect(hidden(dir, '.pending')).toHaveLength(1);
    expect(visibleLines(dir)).toEqual([]);
    await complete([s!], 1);
    expect(visibleLines(dir)).toEqual(sorted(lines('a', 30)));
    expect(hidden(dir, '.pending')).toEqual([]);
    await checkpoint([s!], 2);
    await complete([s!], 2);
    expect(visibleLines(dir)).toEqual(sorted([...lines('a', 30), ...lines('b', 30)]));
    // A checkpoint without new records adds no file; a duplicate notification changes nothing.
    const before = fs.readdirSync(dir).length;
    await checkpoint([s!], 3);
    await complete([s!], 3);
    await complete([s!], 2);
    expect(fs.readdirSync(dir)).toHaveLength(before);
    await s!.writer.close!();
    expect(hidden(dir)).toEqual([]);
  });

  it('commits an aborted checkpoint with the next completed one, and on complete m only files up to m', async () => {
    const dir = newDir();
    const [s] = await startAll(dir, 1);
    await s!.writer.write(['1']);
    await checkpoint([s!], 1);
    await s!.writer.notifyCheckpointAborted!(1);
    await s!.writer.write(['2']);
    await checkpoint([s!], 2);
    await s!.writer.write(['3']);
    await checkpoint([s!], 3);
    expect(visibleLines(dir)).toEqual([]);
    await complete([s!], 2); // its notification came late: 3 is pending already
    expect(visibleLines(dir)).toEqual(['1', '2']);
    await complete([s!], 3);
    expect(visibleLines(dir)).toEqual(['1', '2', '3']);
    await s!.writer.close!();
  });

  it('after a crash between snapshot and notification, commits that checkpoint once on restore and drops the rest', async () => {
    const dir = newDir();
    const a = await startAll(dir, 2);
    await a[0]!.writer.write(['1', '2']);
    await a[1]!.writer.write(['3']);
    await checkpoint(a, 1);
    await complete(a, 1);
    await a[0]!.writer.write(['4']);
    await a[1]!.writer.write(lines('5', 20));
    const state2 = await checkpoint(a, 2); // "2 complete" never arrives
    await a[0]!.writer.write(lines('lost', 40)); // flushed to an in-progress file
    await a[1]!.writer.write(['lost-pending']);
    await checkpoint(a, 3); // pending, never completed
    await a[0]!.writer.write(lines('lost-in-progress', 40));
    await a[1]!.writer.write(['lost-buffered']);
    crash(a);
    expect(hidden(dir, '.inprogress').length).toBeGreaterThan(0);
    const expected = sorted(['1', '2', '3', '4', ...lines('5', 20)]);

    const b = await startAll(dir, 2, state2);
    expect(visibleLines(dir)).toEqual(expected);
    expect(hidden(dir)).toEqual([]);
    // The restored attempt fails too, before its first checkpoint: restoring 2 again changes nothing.
    await b[0]!.writer.write(lines('again', 40));
    crash(b);
    const c = await startAll(dir, 2, state2);
    expect(visibleLines(dir)).toEqual(expected);
    expect(hidden(dir)).toEqual([]);
    await c[0]!.writer.write(['6']);
    await checkpoint(c, 3);
    await complete(c, 3);
    expect(visibleLines(dir)).toEqual(sorted([...expected, '6']));
  });

  it('deletes what checkpoints after the restored one committed (fallback to an older checkpoint)', async () => {
    const dir = newDir();
    const a = await startAll(dir, 2);
    await a[0]!.writer.write(['x']);
    const state1 = await checkpoint(a, 1);
    await complete(a, 1);
    await a[1]!.writer.write(['y']);
    await checkpoint(a, 2);
    await complete(a, 2);
    await a[0]!.writer.write(['z']);
    await checkpoint(a, 3);
    await complete(a, 3);
    expect(visibleLines(dir)).toEqual(['x', 'y', 'z']);
    crash(a);
    const b = await startAll(dir, 3, state1); // checkpoints 2 and 3 turned out unreadable
    expect(visibleLines(dir)).toEqual(['x']);
    // Checkpoint ids continue after the newest; the records after 1 are written again.
    await b[2]!.writer.write(['y', 'z']);
    const state4 = await checkpoint(b, 4);
    await complete(b, 4);
    expect(visibleLines(dir)).toEqual(['x', 'y', 'z']);
    crash(b);
    await startAll(dir, 1, state4);
    expect(visibleLines(dir)).toEqual(['x', 'y', 'z']);
  });

  it('keeps what came before a savepoint when the job started from it numbers its checkpoints from 1 again', async () => {
    const dir = newDir();
    const a = await startAll(dir, 1);
    let savepoint: OperatorStateSnapshot[] = [];
    for (let id = 1; id <= 5; id++) {
      await a[0]!.writer.write([`a${id}`]);
      savepoint = await checkpoint(a, id);
      await complete(a, id);
    }
    await a[0]!.writer.close!();
    const b = await startAll(dir, 2, savepoint);
    await b[0]!.writer.write(['b1']);
    const b1 = await checkpoint(b, 1);
    await complete(b, 1);
    await b[1]!.writer.write(['b2']);
    await checkpoint(b, 2);
    await complete(b, 2);
    crash(b);
    await startAll(dir, 2, b1); // the new job's checkpoint 1: drops b2, keeps a2..a5 (ids 2..5 of before)
    expect(visibleLines(dir)).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'b1']);
  });

  it('refuses a snapshot whose output a copied directory no longer holds, and deletes nothing first, at p=2', async () => {
    const dirA = newDir();
    const a = await startAll(dirA, 2);
    await a[0]!.writer.write(['x']);
    const first = await checkpoint(a, 1);
    await complete(a, 1);
    await a[0]!.writer.write(['y']);
    const second = await checkpoint(a, 2); // stop with a savepoint: committed
    await complete(a, 2);
    for (const s of a) await s.writer.close!();
    const dirB = newDir();
    fs.cpSync(dirA, dirB, { recursive: true }); // output (and, in a user's copy, the snapshots)
    // From the first snapshot into the copy: its newer output goes, and is written again.
    const b = await startAll(dirB, 2, first);
    expect(visibleLines(dirB)).toEqual(['x']);
    await b[1]!.writer.write(['y again']);
    await checkpoint(b, 3);
    await complete(b, 3);
    for (const s of b) await s.writer.close!();
    // The second snapshot's file is gone from the copy (the run above removed it): refused by
    // every subtask before any deletes its newer files, instead of losing 'y again' with nothing
    // in its place (subtask 1, which has no file of the snapshot to commit, used to go ahead).
    const before = fs.readdirSync(dirB).sort();
    await expect(startAll(dirB, 2, second)).rejects.toThrow(PendingFileLostError);
    expect(fs.readdirSync(dirB).sort()).toEqual(before);
    expect(visibleLines(dirB)).toEqual(['x', 'y again']);
    expect(visibleLines(dirA)).toEqual(['x', 'y']);
  });

  it('refuses it too when the history began in the first version and the copy holds only v1 output', async () => {
    const dirA = newDir();
    const v1 = firstVersionOutput(dirA);
    const a = await startAll(dirA, 1, [v1]); // upgraded: a lineage of its own from here on
    const early = await checkpoint(a, 3); // nothing written since: no file of the new lineage
    await complete(a, 3);
    await a[0]!.writer.write(['y']);
    const later = await checkpoint(a, 4);
    await complete(a, 4);
    await a[0]!.writer.close!();
    const dirB = newDir();
    fs.cpSync(dirA, dirB, { recursive: true });
    const b = await startAll(dirB, 1, early);
    await b[0]!.writer.write(['y again']);
    await checkpoint(b, 5);
    await complete(b, 5);
    await b[0]!.writer.close!();
    const before = fs.readdirSync(dirB).sort();
    await expect(startAll(dirB, 1, later)).rejects.toThrow(PendingFileLostError);
    expect(fs.readdirSync(dirB).sort()).toEqual(before);
    expect(visibleLines(dirB)).toEqual(['v1 committed', 'v1 pending', 'y again']);
  });

  it('forks a savepoint into a new directory again after a restart, leaving the original directory as it was', async () => {
    const dirA = newDir();
    const a = await startAll(dirA, 1);
    await a[0]!.writer.write(['x']);
    await checkpoint(a, 1);
    await complete(a, 1);
    await a[0]!.writer.write(['y']);
    const sp = await savepoint(a, 2); // a running job's savepoint: y pending
    await a[0]!.writer.close!();
    const dirC = newDir();
    const c = await startAll(dirC, 1, sp);
    expect(visibleLines(dirA)).toEqual(['x', 'y']); // committed where it was written
    await c[0]!.writer.write(['z']);
    await checkpoint(c, 1); // never completes
    crash(c);
    const c2 = await startAll(dirC, 1, sp); // the fork's restart restores the savepoint again
    await c2[0]!.writer.write(['z']);
    await checkpoint(c2, 1);
    await complete(c2, 1);
    expect(visibleLines(dirC)).toEqual(['z']);
    expect(visibleLines(dirA)).toEqual(['x', 'y']);
  });

  /**
   * A running job's savepoint 3 (y pending, and w of the aborted checkpoint 2), then a failover
   * to checkpoint 1 whose attempt writes w and y again, then z, and commits them.
   */
  async function savepointThenFailover(p: number): Promise<{ dir: string; sp: OperatorStateSnapshot[] }> {
    const dir = newDir();
    const a = await startAll(dir, p);
    await a[0]!.writer.write(['x']);
    const first = await checkpoint(a, 1);
    await complete(a, 1);
    await a[p - 1]!.writer.write(['w']);
    await checkpoint(a, 2);
    await a[p - 1]!.writer.notifyCheckpointAborted!(2);
    await a[0]!.writer.write(['y']);
    const sp = await savepoint(a, 3);
    await a[0]!.writer.write(['z']);
    crash(a);
    const b = await startAll(dir, p, first);
    expect(visibleLines(dir)).toEqual(['x']);
    await b[0]!.writer.write(['w', 'y', 'z']);
    await checkpoint(b, 4);
    await complete(b, 4);
    for (const s of b) await s.writer.close!();
    expect(visibleLines(dir)).toEqual(['w', 'x', 'y', 'z']);
    return { dir, sp };
  }

  it("keeps a running job's savepoint startable in its directory after a failover to an older checkpoint", async () => {
    const { dir, sp } = await savepointThenFailover(2);
    // The savepoint's files outlived the restore of checkpoint 1, marked superseded.
    expect(hidden(dir, '.superseded')).toHaveLength(2);
    const c = await startAll(dir, 2, sp);
    expect(visibleLines(dir)).toEqual(['w', 'x', 'y']); // the failed-over attempt's output is newer
    await c[1]!.writer.write(['z']);
    await checkpoint(c, 1);
    await complete(c, 1);
    expect(visibleLines(dir)).toEqual(['w', 'x', 'y', 'z']);
    // Again, at another parallelism: the savepoint still holds its files.
    for (const s of c) await s.writer.close!();
    await startAll(dir, 3, sp);
    expect(visibleLines(dir)).toEqual(['w', 'x', 'y']);
  });

  it('does not commit a superseded savepoint file in its directory when the savepoint is forked elsewhere', async () => {
    const { dir, sp } = await savepointThenFailover(1);
    const fork = newDir();
    const c = await startAll(fork, 1, sp);
    // w and y were written again in `dir` after the failover: committing the savepoint's copies
    // there would show them twice.
    expect(visibleLines(dir)).toEqual(['w', 'x', 'y', 'z']);
    await c[0]!.writer.write(['z']);
    await checkpoint(c, 1);
    await complete(c, 1);
    expect(visibleLines(fork)).toEqual(['z']);
  });

  it('refuses a savepoint whose history a fallback to an older checkpoint deleted, instead of missing records', async () => {
    const dir = newDir();
    const a = await startAll(dir, 2);
    await a[0]!.writer.write(['x']);
    const first = await checkpoint(a, 1);
    await complete(a, 1);
    await a[0]!.writer.write(['y']);
    await checkpoint(a, 2);
    await complete(a, 2);
    await a[1]!.writer.write(['z']);
    const sp = await savepoint(a, 3); // holds z (subtask 1); y is committed output before it
    crash(a);
    const b = await startAll(dir, 2, first); // checkpoint 2 turned out damaged: y is deleted
    expect(visibleLines(dir)).toEqual(['x']);
    for (const s of b) await s.writer.close!();
    await expect(startAll(dir, 2, sp)).rejects.toThrow(PendingFileLostError);
    await expect(startAll(dir, 2, sp)).rejects.toThrow(
      /, held for savepoint 3, is missing and was not committed; .*a start from an earlier point deleted output/,
    );
    expect(visibleLines(dir)).toEqual(['x']);
  });

  it('keeps a later savepoint startable when a start from an earlier one deletes only output after it', async () => {
    const dir = newDir();
    const a = await startAll(dir, 1);
    await a[0]!.writer.write(['x']);
    await checkpoint(a, 1);
    await complete(a, 1);
    await a[0]!.writer.write(['y']);
    const sp2 = await savepoint(a, 2); // x; holds y
    await checkpoint(a, 3);
    await complete(a, 3); // y visible
    const sp4 = await savepoint(a, 4); // x, y; holds nothing
    await a[0]!.writer.write(['w']);
    await checkpoint(a, 5);
    await complete(a, 5); // w: after sp4
    for (const s of a) await s.writer.close!();
    const b = await startAll(dir, 1, sp2); // deletes w only
    expect(visibleLines(dir)).toEqual(['x', 'y']);
    await b[0]!.writer.write(['v']);
    await checkpoint(b, 1);
    await complete(b, 1);
    for (const s of b) await s.writer.close!();
    await startAll(dir, 1, sp4); // its history x, y is whole: v (newer) goes
    expect(visibleLines(dir)).toEqual(['x', 'y']);
  });

  it('refuses a savepoint of a history begun in version 1 after a start from an older v1 state deleted v1 output it holds', async () => {
    const dir = newDir();
    const v1State = (id: number): OperatorStateSnapshot[] => [
      { states: [{ name: 'file-sink-pending', mode: 'union', entries: [{ kind: 'checkpoint', id }] }] },
    ];
    for (let c = 1; c <= 4; c++) fs.writeFileSync(path.join(dir, `part-${c}-0-${W1}-${c}`), `v1-${c}\n`);
    const a = await startAll(dir, 1, v1State(4));
    await a[0]!.writer.write(['new']);
    const sp = await savepoint(a, 5); // history v1-1..v1-4; holds 'new'
    await a[0]!.writer.close!();
    const b = await startAll(dir, 1, v1State(2)); // deletes v1-3, v1-4
    await b[0]!.writer.close!();
    expect(visibleLines(dir)).toEqual(['v1-1', 'v1-2']);
    await expect(startAll(dir, 1, sp)).rejects.toThrow(PendingFileLostError);
  });

  it('removes the held names of a savepoint once it is committed (a stop) or aborted', async () => {
    const dir = newDir();
    const [s] = await startAll(dir, 1);
    await s!.writer.write(['x']);
    const sp1 = await savepoint([s!], 1);
    expect(hidden(dir, '.savepoint-1')).toHaveLength(1);
    await s!.writer.notifyCheckpointAborted!(1);
    expect(hidden(dir, '.savepoint-1')).toEqual([]);
    await s!.writer.write(['y']);
    const sp2 = await savepoint([s!], 2);
    await complete([s!], 2);
    expect(visibleLines(dir)).toEqual(['x', 'y']);
    expect(hidden(dir)).toEqual([expect.stringMatching(/^\.savepoint-.*-2-0-.*\.seal$/)]); // it is still a start point
    await s!.writer.close!();
    // A start from the committed savepoint finds its files committed; from the aborted one (its
    // folder would have been removed) it cannot.
    await startAll(dir, 1, sp2);
    expect(visibleLines(dir)).toEqual(['x', 'y']);
    await expect(startAll(newDir(), 1, sp1)).resolves.toHaveLength(1); // a fork: nothing to commit
  });

  it('holds a file that an earlier checkpoint commits while the savepoint is being taken', async () => {
    const dir = newDir();
    const [s] = await startAll(dir, 1);
    await s!.writer.write(['x']);
    await checkpoint([s!], 1);
    const sp = savepoint([s!], 2);
    await complete([s!], 1); // renames the file the savepoint is linking
    const state = await sp;
    expect(visibleLines(dir)).toEqual(['x']);
    expect(hidden(dir, '.savepoint-2')).toHaveLength(1);
    await s!.writer.write(['y']);
    await checkpoint([s!], 3);
    await complete([s!], 3);
    await s!.writer.close!();
    await startAll(dir, 1, state);
    expect(visibleLines(dir)).toEqual(['x']);
  });

  for (const [from, to] of [
    [3, 2],
    [1, 4],
  ] as const) {
    it(`commits every pending file exactly once when restored from p=${from} at p=${to}`, async () => {
      const dir = newDir();
      const old = await startAll(dir, from);
      const expected: string[] = [];
      for (const [i, s] of old.entries()) {
        await s.writer.write(lines(`s${i}`, 20));
        expected.push(...lines(`s${i}`, 20));
      }
      const states = await checkpoint(old, 5);
      if (from > 1) await old[0]!.writer.notifyCheckpointComplete!(5); // partly delivered
      for (const s of old) await s.writer.write(lines('lost after the snapshot', 30));
      crash(old);
      const next = await startAll(dir, to, states);
      expect(visibleLines(dir)).toEqual(sorted(expected));
      expect(hidden(dir)).toEqual([]);
      for (const [i, s] of next.entries()) await s.writer.write([`new-${i}`]);
      await checkpoint(next, 6);
      await complete(next, 6);
      expect(visibleLines(dir)).toEqual(sorted([...expected, ...next.map((_, i) => `new-${i}`)]));
    });
  }

  it('never deletes a file of the current attempt while other subtasks are still starting', async () => {
    const dir = newDir();
    // An old attempt at p=5 leaves everything a restore cleans up: a committed checkpoint after
    // the restored one, a pending one, in-progress files.
    const old = await startAll(dir, 5);
    for (const [i, s] of old.entries()) await s.writer.write([`old-${i}`]);
    const state1 = await checkpoint(old, 1);
    for (const [i, s] of old.entries()) await s.writer.write([`after-${i}`]);
    await checkpoint(old, 2);
    await complete(old, 2);
    for (const s of old) await s.writer.write(lines('in-progress', 40));
    await checkpoint(old, 3);
    for (const s of old) await s.writer.write(lines('in-progress-2', 40));
    crash(old);

    // The new attempt at p=3: subtask 2 starts first and commits a checkpoint newer than the
    // restored one, and leaves a pending and an in-progress file, before the others start.
    const states = redistributeOperatorState(state1, 3);
    const first = await start(dir, 2, 3, states[2]);
    const existing = new Set(fs.readdirSync(dir));
    await first.writer.write(['new-committed']);
    await checkpoint([first], 4);
    await first.writer.notifyCheckpointComplete!(4);
    await first.writer.write(['new-pending']);
    await checkpoint([first], 5);
    await first.writer.write(lines('new-in-progress', 40));
    const created = fs.readdirSync(dir).filter((n) => !existing.has(n));
    const kind = (n: string): string =>
      n.endsWith('.pending') ? 'pending' : n.endsWith('.inprogress') ? 'in-progress' : 'visible';
    expect(created.map(kind).sort()).toEqual(['in-progress', 'pending', 'visible']);
    const others = await Promise.all([start(dir, 0, 3, states[0]), start(dir, 1, 3, states[1])]);
    for (const name of created) expect(fs.existsSync(path.join(dir, name)), name).toBe(true);
    expect(visibleLines(dir)).toEqual(sorted([...old.map((_, i) => `old-${i}`), 'new-committed']));
    // And all three starting at once, each writing as soon as it is ready.
    const all = [...others, first];
    await checkpoint(all, 6);
    await complete(all, 6);
    const state6 = await checkpoint(all, 7);
    crash(all);
    const again = await Promise.all(
      redistributeOperatorState(state6, 4).map(async (st, i) => {
        const s = await start(dir, i, 4, st);
        await s.writer.write([`last-${i}`]);
        await checkpoint([s], 8);
        return s;
      }),
    );
    await complete(again, 8);
    expect(visibleLines(dir)).toEqual(
      sorted([
        ...old.map((_, i) => `old-${i}`),
        'new-committed',
        'new-pending',
        ...lines('new-in-progress', 40),
        ...again.map((_, i) => `last-${i}`),
      ]),
    );
  });

  it('on a fresh start deletes no file, not even in-progress ones (another job may be writing them)', async () => {
    const dir = newDir();
    const a = await startAll(dir, 2);
    // Ids higher than the later run's: a restore of that run must still leave these alone.
    await a[0]!.writer.write(['committed']);
    await checkpoint(a, 5);
    await complete(a, 5);
    await a[1]!.writer.write(['pending']);
    await checkpoint(a, 6);
    await a[0]!.writer.write(lines('in-progress', 40));
    crash(a);
    const foreign = ['part-0-0', '_SUCCESS', '.hidden', 'data.csv', '.part-0-0.inprogress'];
    for (const f of foreign) fs.writeFileSync(path.join(dir, f), 'foreign\n');
    const pendingBefore = hidden(dir, '.pending');
    expect(pendingBefore).toHaveLength(1);
    const inProgressBefore = hidden(dir, '.inprogress');
    expect(inProgressBefore).toHaveLength(2); // a's and a foreign one
    const b = await startAll(dir, 2);
    expect(hidden(dir, '.inprogress')).toEqual(inProgressBefore);
    // The pending file may belong to a retained checkpoint of the earlier run: kept.
    expect(hidden(dir, '.pending')).toEqual(pendingBefore);
    for (const f of foreign) expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    expect(visibleLines(dir)).toEqual(sorted(['committed', 'foreign', 'foreign']));
    // A restore of the new run touches nothing of the earlier run, although its ids are higher.
    await b[0]!.writer.write(['b']);
    const b1 = await checkpoint(b, 1);
    await complete(b, 1);
    crash(b);
    await b[1]!.writer.write(lines('b-in-progress', 40));
    expect(hidden(dir, '.inprogress').length).toBeGreaterThan(inProgressBefore.length);
    await startAll(dir, 1, b1);
    // b's own in-progress files (the attempt that died) are gone, the earlier run's stay.
    expect(hidden(dir, '.inprogress')).toEqual(inProgressBefore);
    expect(hidden(dir, '.pending')).toEqual(pendingBefore);
    expect(visibleLines(dir)).toEqual(sorted(['committed', 'b', 'foreign', 'foreign']));
  });

  it('treats a restore that holds no state of the sink as a fresh start', async () => {
    const dir = newDir();
    const a = await startAll(dir, 1);
    await a[0]!.writer.write(['kept']);
    await checkpoint(a, 7);
    await complete(a, 7);
    await a[0]!.writer.close!();
    const b = await start(dir, 0, 1, { states: [] }); // e.g. the sink was added to the job since
    expect(visibleLines(dir)).toEqual(['kept']);
    await b.writer.close!();
  });

  it('restores the state of the first version of the sink', async () => {
    const dir = newDir();
    const v1 = firstVersionOutput(dir);
    fs.writeFileSync(path.join(dir, `part-3-0-${W1}-2`), 'v1 after the restored checkpoint\n');
    fs.writeFileSync(path.join(dir, `.part-0-${W1}-3.inprogress`), 'v1 in progress\n');
    const [s] = await startAll(dir, 1, [v1]);
    expect(visibleLines(dir)).toEqual(['v1 committed', 'v1 pending']);
    expect(hidden(dir)).toEqual([]);
    await s!.writer.write(['v2']);
    const state3 = await checkpoint([s!], 3);
    await complete([s!], 3);
    await s!.writer.write(['v2 dropped']);
    await checkpoint([s!], 4);
    await complete([s!], 4);
    crash([s!]);
    await startAll(dir, 1, state3);
    expect(visibleLines(dir)).toEqual(['v1 committed', 'v1 pending', 'v2']);
  });

  it('makes everything visible at the end of input (finish, final snapshot, complete, close)', async () => {
    const dir = newDir();
    const subtasks = await startAll(dir, 3);
    const all: string[] = [];
    for (const [i, s] of subtasks.entries()) {
      const batch = lines(`end${i}`, 100 * (i + 1));
      all.push(...batch);
      for (let k = 0; k < batch.length; k += 7) await s.writer.write(batch.slice(k, k + 7));
    }
    for (const s of subtasks) await s.writer.finish!();
    expect(visibleLines(dir)).toEqual([]);
    await checkpoint(subtasks, 1);
    await complete(subtasks, 1);
    for (const s of subtasks) await s.writer.close!();
    expect(visibleLines(dir)).toEqual(sorted(all));
    expect(hidden(dir)).toEqual([]);
  });

  it('never commits on close; deletes its in-progress file and leaves pending ones for a restore', async () => {
    const dir = newDir();
    const [s] = await startAll(dir, 1);
    await s!.writer.write(['pending']);
    const state = await checkpoint([s!], 1);
    await s!.writer.write(lines('in-progress', 40));
    await s!.writer.close!(); // a failure or a cancel
    await s!.writer.close!();
    expect(visibleLines(dir)).toEqual([]);
    expect(hidden(dir, '.inprogress')).toEqual([]);
    expect(hidden(dir, '.pending')).toHaveLength(1);
    await startAll(dir, 1, state);
    expect(visibleLines(dir)).toEqual(['pending']);
  });

  it('backpressures through write only when it flushes', async () => {
    const dir = newDir();
    const [s] = await startAll(dir, 1);
    expect(s!.writer.write(['short'])).toBeUndefined();
    const flushing = s!.writer.write(['x'.repeat(100)]);
    expect(flushing).toBeInstanceOf(Promise);
    await flushing;
    await s!.writer.close!();
  });

  it('keeps exactly the lines up to the last committed or restored checkpoint over random histories', async () => {
    const seeds = Number(process.env.WEIR_FILE_SINK_SEEDS ?? 25);
    for (let seed = 1; seed <= seeds; seed++) await randomHistory(seed);
  });

  it('formats non-string records with formatRecord, or with the format option', async () => {
    const dir = newDir();
    const env = new StreamExecutionEnvironment();
    env
      .fromCollection<unknown>([1, 'two', { three: 3 }, [4n], true, 'five\nsix'])
      .sinkTo(new FileSink<unknown>(path.join(dir, 'default')));
    env.fromCollection([{ id: 1, name: 'a' }]).sinkTo(
      new FileSink<{ id: number; name: string }>(path.join(dir, 'custom'), {
        format: (r) => `${r.id}:${r.name}`,
      }),
    );
    await env.execute('formats');
    expect(visibleLines(path.join(dir, 'default'))).toEqual(
      sorted(['1', 'two', '{ three: 3 }', '[ 4n ]', 'true', 'five', 'six']),
    );
    expect(visibleLines(path.join(dir, 'custom'))).toEqual(['1:a']);
  });

  it('commits everything a bounded job wrote, at p=3, and leaves no hidden files', async () => {
    const out = path.join(newDir(), 'nested', 'out');
    const records = Array.from({ length: 30_000 }, (_, i) => `record ${i} ${'é€'.repeat(i % 5)}`);
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    env
      .fromCollection(records)
      .rebalance()
      .sinkTo(new FileSink<string>(out, { bufferSize: 4096 }));
    await env.execute('write');
    expect(hidden(out)).toEqual([]);
    expect(visibleLines(out)).toEqual(sorted(records));
  });
});

describe('FileSink errors', () => {
  it('rejects a bad buffer size and names an unusable directory', async () => {
    expect(() => new FileSink('x', { bufferSize: 0 })).toThrow(/bufferSize must be a positive integer/);
    const file = path.join(newDir(), 'a-file');
    fs.writeFileSync(file, '');
    await expect(new FileSink(path.join(file, 'sub')).createWriter(fakeContext(0, 1))).rejects.toThrow(
      /^file sink cannot create its directory .*a-file\/sub: /,
    );
    // Where a folder can never be made and mkdir says ENOENT (under /proc), it says so too
    // (Node's recursive mkdir never returned there).
    const settled = await Promise.race([
      new FileSink('/proc/weir-no-such/out').createWriter(fakeContext(0, 1)).then(
        () => 'made',
        (e: unknown) => String(e),
      ),
      new Promise((r) => setTimeout(() => r('hung'), 5000).unref()),
    ]);
    expect(settled).toMatch(
      /file sink cannot create its directory \/proc\/weir-no-such\/out: .*cannot be made/,
    );
  });

  it('names the file it cannot write, and stays failed so the task restores', async () => {
    const dir = newDir();
    const [s] = await startAll(dir, 1);
    fs.rmSync(dir, { recursive: true });
    fs.writeFileSync(dir, 'not a directory any more');
    let message = '';
    await Promise.resolve(s!.writer.write(lines('x', 40))).catch((e: Error) => (message = e.message));
    expect(message).toMatch(
      /^file sink cannot create .*\.part-[0-9a-f]{8}-0-0-[0-9a-f]{8}-0\.inprogress: ENOTDIR/,
    );
    expect(message).not.toContain('\n');
    expect(() => s!.writer.snapshotState!({ checkpointId: 1, timestamp: 1 })).toThrow(/cannot create/);
    await expect(Promise.resolve(s!.writer.write(['y']))).rejects.toThrow(/cannot create/);
    await s!.writer.close!();
    fs.rmSync(dir);
    fs.mkdirSync(dir);
  });

  it('declines the checkpoint when the pre-commit fails', async () => {
    const dir = newDir();
    const [s] = await startAll(dir, 1);
    await s!.writer.write(lines('a', 40));
    // The pending name cannot be taken: a directory is in its way.
    const [inProgress] = hidden(dir, '.inprogress');
    const pendingName = inProgress!.replace(/-0-0-([0-9a-f]{8})-0\.inprogress$/, '-0-1-0-$1-0.pending');
    expect(pendingName).toMatch(/\.pending$/);
    fs.mkdirSync(path.join(dir, pendingName));
    const { done } = snapshotSync(s!, 1);
    await expect(done).rejects.toThrow(/^file sink cannot make .*\.inprogress pending: /);
    expect(() => s!.writer.snapshotState!({ checkpointId: 2, timestamp: 2 })).toThrow(/cannot make/);
    await s!.writer.close!();
  });

  it('names a pending file that is missing on restore', async () => {
    const dir = newDir();
    const [s] = await startAll(dir, 1);
    await s!.writer.write(['a']);
    const state = await checkpoint([s!], 1);
    crash([s!]);
    const [pending] = hidden(dir, '.pending');
    fs.unlinkSync(path.join(dir, pending!));
    await expect(startAll(dir, 1, state)).rejects.toThrow(
      new RegExp(`${pending!.replace(/\./g, '\\.')}, pending for checkpoint 1, is missing`),
    );
  });
});

describe('FileSink: a damaged pending file', () => {
  const damages: Array<[string, (file: string) => void]> = [
    ['a flipped byte', (f) => flipByte(f, 7)],
    ['a flipped last byte', (f) => flipByte(f, fs.statSync(f).size - 1)],
    ['truncated to half', (f) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2))],
    ['truncated to 0', (f) => fs.truncateSync(f, 0)],
    ['appended to', (f) => fs.appendFileSync(f, 'garbage\n')],
    ['replaced by a folder', (f) => (fs.unlinkSync(f), fs.mkdirSync(f))],
    ['replaced by a dangling link', (f) => (fs.unlinkSync(f), fs.symlinkSync(`${f}.nowhere`, f))],
    ['replaced by a link to a copy', (f) => (fs.renameSync(f, `${f}.copy`), fs.symlinkSync(`${f}.copy`, f))],
  ];
  function flipByte(file: string, at: number): void {
    const b = fs.readFileSync(file);
    b[at] = b[at]! ^ 0x20;
    fs.writeFileSync(file, b);
  }

  it.each(damages)('is refused on restore, not committed, when %s', async (_, damage) => {
    const dir = newDir();
    const subtasks = await startAll(dir, 2);
    await subtasks[0]!.writer.write(lines('zero', 30));
    await subtasks[1]!.writer.write(lines('one', 30));
    const state = await checkpoint(subtasks, 1);
    crash(subtasks);
    const pending = hidden(dir, '.pending');
    expect(pending).toHaveLength(2);
    const target = pending.find((n) => n.includes('-1-0-'))!; // subtask 0's
    damage(path.join(dir, target));
    // Subtask 0 commits it and reads it whole; subtask 1 checks its size (a flipped byte keeps it).
    await expect(startAll(dir, 2, state)).rejects.toThrow(
      new RegExp(`${target.replace(/\./g, '\\.')}, pending for checkpoint 1, is damaged \\(`),
    );
    expect(visibleLines(dir).filter((l) => l.startsWith('zero'))).toEqual([]);
  });

  it('checks a file larger than one read piece (1 MiB) whole: restores it intact, refuses a flip near its end', async () => {
    for (const flip of [false, true]) {
      const dir = newDir();
      const [s] = await startAll(dir, 1);
      const many = lines('a-rather-long-line-of-output-to-fill-several-pieces', 60_000); // ~3.5 MiB
      await s!.writer.write(many);
      const state = await checkpoint([s!], 1);
      crash([s!]);
      const file = path.join(dir, hidden(dir, '.pending')[0]!);
      expect(fs.statSync(file).size).toBeGreaterThan(3 << 20);
      if (flip) flipByte(file, fs.statSync(file).size - 3);
      const start = startAll(dir, 1, state);
      if (flip) await expect(start).rejects.toThrow(/is damaged \(its checksum does not match/);
      else {
        await start;
        expect(visibleLines(dir)).toEqual(sorted(many));
      }
    }
  });

  it('is not committed in the folder it was written to when a savepoint is forked elsewhere', async () => {
    const dirA = newDir();
    const a = await startAll(dirA, 1);
    await a[0]!.writer.write(['x']);
    await checkpoint(a, 1);
    await complete(a, 1);
    await a[0]!.writer.write(lines('y', 30));
    const sp = await savepoint(a, 2); // the y lines pending, held for savepoint 2
    await a[0]!.writer.close!();
    const held = hidden(dirA).filter((n) => n.includes('savepoint-2') && !n.endsWith('.seal'));
    expect(held).toHaveLength(1);
    fs.truncateSync(path.join(dirA, held[0]!), 10); // the pending file too: one file, two names
    await expect(startAll(newDir(), 1, sp)).rejects.toThrow(
      /is damaged \(it has 10 bytes, not the \d+ written\)/,
    );
    expect(visibleLines(dirA)).toEqual(['x']);
  });

  it('restores state written before pending files had sizes and checksums (version 3)', async () => {
    const dir = newDir();
    const [s] = await startAll(dir, 1);
    await s!.writer.write(['a', 'b']);
    const [state] = await checkpoint([s!], 1);
    crash([s!]);
    const v3: OperatorStateSnapshot = {
      states: state!.states.map((st) => ({
        ...st,
        entries: st.entries.map((v) => {
          const { size: _size, crc32: _crc, ...rest } = v as Record<string, unknown>;
          return rest.kind === 'checkpoint' ? { ...rest, version: 3 } : rest;
        }),
      })),
    };
    expect(JSON.stringify(state)).toContain('"crc32"');
    fs.appendFileSync(path.join(dir, hidden(dir, '.pending')[0]!), 'not checked\n');
    await startAll(dir, 1, [v3]);
    expect(visibleLines(dir)).toEqual(['a', 'b', 'not checked']);
  });
});

/**
 * One random history: writes, checkpoints (some with writes during their asynchronous part),
 * completions (sometimes delivered to only some subtasks, or lost), aborts, crashes and restores
 * from the newest or an older completed checkpoint at a random parallelism, with checkpoint ids
 * continuing or (a job started from a savepoint) starting again at 1. After every step a reader
 * must see exactly the lines of the last checkpoint committed or restored.
 */
async function randomHistory(seed: number): Promise<void> {
  const rng = new Rng(seed);
  const dir = newDir();
  const where = (step: number, what: string): string => `seed ${seed} step ${step} (${what})`;
  let p = rng.int(1, 4);
  /** The run's sink object: its restarts in this process share it; `-s` and `--resume` do not. */
  let run = new FileSink<string>(dir, { bufferSize: 64 });
  /** The attempts' start times: later for a later attempt, as the job's clock gives them. */
  let clock = 1_000;
  let subtasks = await startAll(dir, p, undefined, run, clock++);
  let nextId = 1;
  /** Lines the current history has written: restored lines and this attempt's. */
  let written: string[] = [];
  /** Checkpoints of this attempt neither completed nor aborted, by id. */
  let outstanding = new Map<number, { states: OperatorStateSnapshot[]; lines: string[] }>();
  /** Completed checkpoints a restore may use, oldest first (a restore drops those after it). */
  let completed: Array<{ states: OperatorStateSnapshot[]; lines: string[] }> = [];
  let visible: string[] = [];
  /**
   * Savepoints of running attempts. A start from one into this directory gives exactly its lines
   * while it is pristine: while every restore since it was taken was of the newest completed
   * checkpoint or, with none, of the beginning (failovers, also by `--resume`). After a fallback
   * to an older checkpoint or a start from another savepoint it may be refused
   * (PendingFileLostError) instead, but gives no other lines. A restart from the beginning in a
   * new process (another lineage) ends that promise (docs/savepoints.md): those are dropped.
   */
  let savepoints: Array<{ id: number; states: OperatorStateSnapshot[]; lines: string[]; pristine: boolean }> =
    [];
  let n = 0;
  const newLines = (): string[] => Array.from({ length: rng.int(1, 12) }, () => `${seed}:${n++}`);

  for (let step = 0; step < 60; step++) {
    const r = rng.int(0, 99);
    let what: string;
    let mustCrash = false;
    if (r < 40) {
      what = 'write';
      const batch = newLines();
      await subtasks[rng.int(0, p - 1)]!.writer.write(batch);
      written.push(...batch);
    } else if (r < 60) {
      what = 'checkpoint';
      const id = nextId++;
      const parts = subtasks.map((s) => snapshotSync(s, id));
      const taken = [...written];
      if (rng.bool(0.3)) {
        // Records arrive while the pre-commit runs.
        const batch = newLines();
        await subtasks[rng.int(0, p - 1)]!.writer.write(batch);
        written.push(...batch);
      }
      await Promise.all(parts.map((x) => x.done));
      outstanding.set(id, { states: parts.map((x) => x.state), lines: taken });
    } else if (r < 78 && outstanding.size > 0) {
      const id = rng.pick([...outstanding.keys()]);
      const c = outstanding.get(id)!;
      what = `complete ${id}`;
      completed.push(c);
      // Older outstanding checkpoints are subsumed: they will never complete.
      outstanding = new Map([...outstanding].filter(([k]) => k > id));
      const delivery = rng.int(0, 9);
      if (delivery < 7) {
        await complete(subtasks, id);
        visible = c.lines;
      } else if (delivery < 9 && p > 1) {
        // Delivered to some subtasks only, then the process dies.
        await complete(subtasks.slice(0, rng.int(1, p - 1)), id);
        mustCrash = true;
      } // else: the notification is lost; a later one or a restore commits it.
    } else if (r < 84 && outstanding.size > 0) {
      const id = rng.pick([...outstanding.keys()]);
      what = `abort ${id}`;
      outstanding.delete(id);
      for (const s of subtasks) await s.writer.notifyCheckpointAborted!(id);
    } else if (r < 90) {
      const id = nextId++;
      what = `savepoint ${id}`;
      const taken = [...written];
      const states = await savepoint(subtasks, id);
      savepoints.push({ id, states, lines: taken, pristine: true });
    } else if (r < 94 && savepoints.length > 0) {
      const sp = rng.pick(savepoints);
      crash(subtasks);
      p = rng.int(1, 4);
      run = new FileSink<string>(dir, { bufferSize: 64 });
      what = `start from savepoint ${sp.id} at p=${p}${sp.pristine ? '' : ' (not pristine)'}`;
      let started: Subtask[] | undefined;
      try {
        started = await startAll(dir, p, sp.states, run, clock++);
      } catch (e) {
        if (sp.pristine || !(e instanceof PendingFileLostError)) throw e;
      }
      if (started === undefined) {
        // Refused before anything changed: the lost run is resumed instead.
        what += ', refused, --resume';
        savepoints = savepoints.filter((x) => x !== sp);
        subtasks = await startAll(dir, p, completed.at(-1)?.states, run, clock++);
        written = completed.length === 0 ? [] : [...completed.at(-1)!.lines];
        if (completed.length === 0) savepoints = []; // a new lineage (see above)
      } else {
        for (const other of savepoints) if (other !== sp) other.pristine = false;
        subtasks = started;
        written = [...sp.lines];
        completed = [{ states: sp.states, lines: sp.lines }]; // the new job restores it on failure
      }
      visible = [...written];
      outstanding = new Map();
      nextId = 1; // a new job numbers its checkpoints from 1
    } else {
      mustCrash = true;
      what = 'crash';
    }
    if (mustCrash) {
      crash(subtasks);
      // A restart in this process keeps the parallelism; --resume in a new one may change it.
      const resume = rng.bool(0.3);
      if (resume) {
        run = new FileSink<string>(dir, { bufferSize: 64 });
        p = rng.int(1, 4);
      }
      outstanding = new Map();
      if (completed.length === 0) {
        what += resume ? ', --resume from the beginning' : ', restart from the beginning';
        if (resume) savepoints = [];
        subtasks = await startAll(dir, p, undefined, run, clock++);
        written = [];
      } else {
        const k = rng.bool(0.7) ? completed.length - 1 : rng.int(0, completed.length - 1);
        const from = completed[k]!;
        if (k < completed.length - 1) for (const sp of savepoints) sp.pristine = false;
        completed = completed.slice(0, k + 1);
        what += `, ${resume ? '--resume' : 'restart'} from completed #${k} at p=${p}`;
        subtasks = await startAll(dir, p, from.states, run, clock++);
        written = [...from.lines];
      }
      visible = [...written];
      if (rng.bool(0.3)) {
        what += ', ids from 1';
        nextId = 1;
      }
    }
    expect(visibleLines(dir), where(step, what)).toEqual(sorted(visible));
  }
  // The end of input: finish, the final checkpoint, its completion, close.
  for (const s of subtasks) await s.writer.finish!();
  const id = nextId++;
  await checkpoint(subtasks, id);
  await complete(subtasks, id);
  for (const s of subtasks) await s.writer.close!();
  expect(visibleLines(dir), `seed ${seed} at the end`).toEqual(sorted(written));
  expect(hidden(dir, '.inprogress'), `seed ${seed} at the end`).toEqual([]);
}
