// The exactly-once file sink: lines become visible only when a checkpoint completes, pending
// files survive a crash and are committed on restore, and a restore from an older checkpoint
// removes what newer ones committed. Writers are driven directly, as the runtime drives them.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileSink, StreamExecutionEnvironment, type SinkWriter } from '../../src/index.js';
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
afterAll(() => {
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

interface Subtask {
  writer: SinkWriter<string>;
  store: OperatorStateStore;
}

async function open(
  dir: string,
  index: number,
  p: number,
  restored?: OperatorStateSnapshot,
): Promise<Subtask> {
  const writer = await new FileSink<string>(dir, { bufferSize: 64 }).createWriter(fakeContext(index, p));
  const store = new OperatorStateStore();
  if (restored !== undefined) store.restore(restored);
  await writer.initializeState!({
    isRestored: restored !== undefined,
    operatorStateStore: store,
    subtaskIndex: index,
    parallelism: p,
  });
  return { writer, store };
}

/** The runtime's part of checkpoint `id` for one subtask: snapshotState, then the operator state copy. */
async function snapshot(s: Subtask, id: number): Promise<OperatorStateSnapshot> {
  const pending = s.writer.snapshotState!({ checkpointId: id, timestamp: id });
  const state = s.store.snapshot();
  await pending;
  return state;
}

describe('FileSink (exactly-once)', () => {
  it('makes lines visible only when the checkpoint after them completes', async () => {
    const dir = newDir();
    const s = await open(dir, 0, 1);
    await s.writer.write(['a', 'b']);
    expect(visibleLines(dir)).toEqual([]);
    await snapshot(s, 1);
    await s.writer.write(['c']);
    expect(visibleLines(dir)).toEqual([]);
    await s.writer.notifyCheckpointComplete!(1);
    expect(visibleLines(dir)).toEqual(['a', 'b']);
    // Aborted checkpoint 2: its file stays pending and is committed by checkpoint 3.
    await snapshot(s, 2);
    await s.writer.notifyCheckpointAborted?.(2);
    await s.writer.write(['d']);
    await snapshot(s, 3);
    expect(visibleLines(dir)).toEqual(['a', 'b']);
    await s.writer.notifyCheckpointComplete!(3);
    expect(visibleLines(dir)).toEqual(['a', 'b', 'c', 'd']);
    await s.writer.close!();
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('commits the pending files of the restored checkpoint after a crash, and drops what came after', async () => {
    const dir = newDir();
    const a = await open(dir, 0, 1);
    await a.writer.write(['1', '2']);
    await snapshot(a, 1);
    await a.writer.notifyCheckpointComplete!(1);
    await a.writer.write(['3']);
    const state2 = await snapshot(a, 2); // the process dies before "2 complete" arrives
    await a.writer.write(['4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14']);
    expect(fs.readdirSync(dir).some((n) => n.endsWith('.inprogress'))).toBe(true);
    const b = await open(dir, 0, 1, state2);
    expect(visibleLines(dir)).toEqual(sorted(['1', '2', '3']));
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('.'))).toEqual([]);
    // Restoring the same checkpoint again (a second crash) changes nothing.
    await open(dir, 0, 1, state2);
    expect(visibleLines(dir)).toEqual(sorted(['1', '2', '3']));
    await b.writer.close!();
  });

  it('removes files committed by checkpoints newer than the one restored', async () => {
    const dir = newDir();
    const a = await open(dir, 0, 1);
    await a.writer.write(['x']);
    const state1 = await snapshot(a, 1);
    await a.writer.notifyCheckpointComplete!(1);
    await a.writer.write(['y']);
    await snapshot(a, 2);
    await a.writer.notifyCheckpointComplete!(2);
    expect(visibleLines(dir)).toEqual(['x', 'y']);
    await open(dir, 0, 1, state1); // checkpoint 2 turned out unreadable: back to 1
    expect(visibleLines(dir)).toEqual(['x']);
  });

  for (const [from, to] of [
    [3, 2],
    [1, 4],
  ] as const) {
    it(`recovers every pending file exactly once when restored from p=${from} at p=${to}`, async () => {
      const dir = newDir();
      const old = await Promise.all(Array.from({ length: from }, (_, i) => open(dir, i, from)));
      const expected: string[] = [];
      for (const [i, s] of old.entries()) {
        const lines = Array.from({ length: 20 }, (_, k) => `s${i}-${k}`);
        expected.push(...lines);
        await s.writer.write(lines);
      }
      const states = await Promise.all(old.map((s) => snapshot(s, 5)));
      for (const s of old) await s.writer.write(['lost after the snapshot']);
      const next = redistributeOperatorState(states, to);
      const fresh = await Promise.all(next.map((st, i) => open(dir, i, to, st)));
      // The new attempt writes and commits on top; nothing of it may be removed by the recovery.
      for (const [i, s] of fresh.entries()) await s.writer.write([`new-${i}`]);
      await Promise.all(fresh.map((s) => snapshot(s, 6)));
      for (const s of fresh) await s.writer.notifyCheckpointComplete!(6);
      expect(visibleLines(dir)).toEqual(sorted([...expected, ...fresh.map((_, i) => `new-${i}`)]));
    });
  }

  it('keeps exactly the lines up to the last committed or restored checkpoint over random crashes', async () => {
    for (let seed = 1; seed <= 8; seed++) {
      const rng = new Rng(seed);
      const dir = newDir();
      let p = rng.int(1, 3);
      let subtasks = await Promise.all(Array.from({ length: p }, (_, i) => open(dir, i, p)));
      let committed: string[] = [];
      let lastState: { id: number; states: OperatorStateSnapshot[]; lines: string[] } | undefined;
      let written: string[] = [];
      let id = 0;
      for (let step = 0; step < 40; step++) {
        const r = rng.int(0, 9);
        if (r <= 5) {
          const i = rng.int(0, p - 1);
          const lines = Array.from({ length: rng.int(1, 5) }, () => `l${seed}-${step}-${rng.int(0, 1e6)}`);
          written.push(...lines);
          await subtasks[i]!.writer.write(lines);
        } else if (r <= 7) {
          id++;
          const states = await Promise.all(subtasks.map((s) => snapshot(s, id)));
          lastState = { id, states, lines: [...written] };
          if (rng.bool(0.7)) {
            for (const s of subtasks) await s.writer.notifyCheckpointComplete!(id);
            committed = [...written];
          }
        } else {
          // Crash: restore every subtask from the newest snapshot, at a random parallelism.
          p = rng.int(1, 3);
          const from = lastState;
          const next = from === undefined ? undefined : redistributeOperatorState(from.states, p);
          subtasks = await Promise.all(Array.from({ length: p }, (_, i) => open(dir, i, p, next?.[i])));
          written = from === undefined ? [] : [...from.lines];
          committed = [...written];
        }
        expect(visibleLines(dir), `seed ${seed} step ${step}`).toEqual(sorted(committed));
      }
    }
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
    expect(fs.readdirSync(out).filter((n) => n.startsWith('.'))).toEqual([]);
    expect(visibleLines(out)).toEqual(sorted(records));
  });

  it('formats non-string records with formatRecord, or with the format option', async () => {
    const dir = newDir();
    const env = new StreamExecutionEnvironment();
    env
      .fromCollection<unknown>([1, 'two', { three: 3 }, [4n], true])
      .sinkTo(new FileSink<unknown>(path.join(dir, 'default')));
    env.fromCollection([{ id: 1, name: 'a' }]).sinkTo(
      new FileSink<{ id: number; name: string }>(path.join(dir, 'custom'), {
        format: (r) => `${r.id}:${r.name}`,
      }),
    );
    await env.execute('formats');
    expect(visibleLines(path.join(dir, 'default'))).toEqual(
      sorted(['1', 'two', '{ three: 3 }', '[ 4n ]', 'true']),
    );
    expect(visibleLines(path.join(dir, 'custom'))).toEqual(['1:a']);
  });

  it('rejects a bad buffer size and names an unusable directory', async () => {
    expect(() => new FileSink('x', { bufferSize: 0 })).toThrow(/bufferSize must be a positive integer/);
    const file = path.join(newDir(), 'a-file');
    fs.writeFileSync(file, '');
    await expect(new FileSink(path.join(file, 'sub')).createWriter(fakeContext(0, 1))).rejects.toThrow(
      /a-file/,
    );
  });
});
