// The interval join as a golden test, three runs one output: straight through; with checkpoints
// and an injected failure; stopped with a savepoint at p=2 and resumed at p=3. Each must equal a
// plain nested-loop computation over the same two inputs: every pair exactly once.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FileSink,
  MapStateDescriptor,
  OutputTag,
  StreamExecutionEnvironment,
  WatermarkStrategy,
  type ProcessJoinFunction,
} from '../../src/index.js';
import { CollectionSource } from '../../src/connectors/collection-source.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { Rng } from '../state/gen.js';
import { committedLines } from '../connectors/helpers.js';
import { IntervalJoinOperator } from '../../src/runtime/operators/interval-join-operator.js';
import { HeapKeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange } from '../../src/state/key-group.js';
import { TaskTime } from '../../src/runtime/timer-service.js';

type Ev = { id: string; t: number; key: string };

const LOWER = -40;
const UPPER = 120;

function events(prefix: string, n: number, seed: number, disorder: number): Ev[] {
  const rng = new Rng(seed);
  let t = 1_700_000_000_000;
  return Array.from({ length: n }, (_, i) => {
    t += rng.int(0, 20);
    return { id: `${prefix}${i}`, t: t - rng.int(0, disorder), key: `k${rng.int(0, 40)}` };
  });
}

function plain(left: readonly Ev[], right: readonly Ev[]): string {
  const byKey = new Map<string, Ev[]>();
  for (const r of right) byKey.set(r.key, [...(byKey.get(r.key) ?? []), r]);
  const out: string[] = [];
  for (const l of left)
    for (const r of byKey.get(l.key) ?? [])
      if (r.t >= l.t + LOWER && r.t <= l.t + UPPER)
        out.push(`${l.key},${l.id},${r.id},${Math.max(l.t, r.t)}`);
  return out.sort().join('\n');
}

const pairs: ProcessJoinFunction<Ev, Ev, string> = {
  processElement(l, r, ctx, out) {
    out.collect(`${l.key},${l.id},${r.id},${ctx.timestamp}`);
  },
};

async function run(
  left: Ev[],
  right: Ev[],
  o: {
    parallelism: number;
    failAt?: number;
    checkpointMs?: number;
    out?: string;
    restoreFrom?: string;
    onStart?: (m: JobMaster) => void;
    result?: { savepointPath?: string | undefined };
    slowMs?: number;
  },
): Promise<string> {
  const out = o.out ?? mkdtempSync(join(tmpdir(), 'weir-ij-'));
  const env = new StreamExecutionEnvironment({
    parallelism: o.parallelism,
    execution: { batchSize: 64, watermarkIntervalMs: 0 },
  });
  if (o.checkpointMs !== undefined) {
    env.enableCheckpointing(o.checkpointMs);
    env.checkpointConfig.setCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-ij-chk-')));
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 10 });
  }
  let failed = false;
  const strategy = WatermarkStrategy.forBoundedOutOfOrderness<Ev>(100).withTimestampAssigner((e) => e.t);
  const orders = env
    .fromSource(new CollectionSource(left), strategy, 'left')
    .uid('left')
    .map((e) => {
      if (o.failAt !== undefined && !failed && e === left[o.failAt]) {
        failed = true;
        throw new Error('injected');
      }
      if (o.slowMs !== undefined) {
        const until = performance.now() + o.slowMs;
        while (performance.now() < until);
      }
      return e;
    });
  const shipments = env.fromSource(new CollectionSource(right), strategy, 'right').uid('right');
  orders
    .keyBy((e) => e.key)
    .intervalJoin(shipments.keyBy((e) => e.key))
    .between(LOWER, UPPER)
    .process(pairs)
    .uid('join')
    .sinkTo(new FileSink<string>(out))
    .uid('sink');
  const r = await env.execute('interval-join', {
    restoreFrom: o.restoreFrom,
    savepointDir: mkdtempSync(join(tmpdir(), 'weir-ij-sp-')),
    onStart: o.onStart,
  });
  if (o.result !== undefined) o.result.savepointPath = r.savepointPath;
  return committedLines(out).join('\n');
}

describe('interval join: three runs, one output', () => {
  const left = events('L', 6000, 11, 90);
  const right = events('R', 6000, 12, 90);
  const expected = plain(left, right);

  it('has pairs to find (the data is not degenerate)', () => {
    expect(expected.split('\n').length).toBeGreaterThan(2000);
  });

  it.each([1, 3])('straight through at p=%i', async (p) => {
    expect(await run(left, right, { parallelism: p })).toBe(expected);
  });

  it('with checkpoints and an injected failure at p=2', async () => {
    expect(await run(left, right, { parallelism: 2, checkpointMs: 20, failAt: 4500, slowMs: 0.01 })).toBe(
      expected,
    );
  });

  it('stopped with a savepoint at p=2 and resumed at p=3', async () => {
    const out = mkdtempSync(join(tmpdir(), 'weir-ij-stop-'));
    const result: { savepointPath?: string | undefined } = {};
    await run(left, right, {
      parallelism: 2,
      checkpointMs: 1_000_000,
      slowMs: 0.1,
      out,
      result,
      onStart: (m) => {
        const poll = setInterval(() => {
          if (m.status().state !== 'running' || m.status().recordsIn < 3000) return;
          clearInterval(poll);
          m.stop({});
        }, 5);
      },
    });
    expect(result.savepointPath).toBeDefined();
    const before = committedLines(out).length;
    expect(before).toBeLessThan(expected.split('\n').length);
    await run(left, right, { parallelism: 3, out, restoreFrom: result.savepointPath });
    expect(committedLines(out).join('\n')).toBe(expected);
  });
});

/** The operator alone, driven record by record: key, timestamp and watermark set by hand. */
async function operatorAlone(bounds: { lower: number; upper: number }, late: OutputTag<Ev>) {
  const op = new IntervalJoinOperator<Ev, Ev, string>(
    { processElement: (l, r, ctx, out) => out.collect(`${l.id}-${r.id}@${ctx.timestamp}`) },
    bounds,
    { left: late },
  );
  const backend = new HeapKeyedStateBackend(KeyGroupRange.forSubtask(0, 1, 128), 128);
  const time = new TaskTime();
  const out: string[] = [];
  const lateOut: Ev[] = [];
  op.setup(
    {
      name: 'join',
      uid: 'join',
      operatorId: 'x',
      subtaskIndex: 0,
      parallelism: 1,
      maxParallelism: 128,
      jobName: 't',
    },
    { collect: (s) => void out.push(s) },
    backend,
    time,
  );
  op.sideOutputs = new Map([[late.id, { collect: (e: unknown) => void lateOut.push(e as Ev) }]]);
  await op.initializeState(undefined);
  await op.open();
  const feed = (side: 1 | 2, e: Ev): void => {
    backend.setCurrentKeyComputingGroup(e.key);
    time.timestamp = e.t;
    if (side === 1) op.processElement(e);
    else op.processElement2(e);
  };
  return { op, backend, out, lateOut, feed };
}

describe('interval join operator', () => {
  const late = new OutputTag<Ev>('late-left');
  const ev = (id: string, t: number, key = 'k'): Ev => ({ id, t, key });

  it('joins both ways within inclusive bounds and stamps the later timestamp', async () => {
    const { out, feed } = await operatorAlone({ lower: -10, upper: 10 }, late);
    feed(2, ev('r989', 989));
    feed(2, ev('r990', 990));
    feed(1, ev('a', 1000)); // meets r990 only
    feed(2, ev('r1010', 1010)); // meets a (1010 = 1000 + 10)
    feed(2, ev('r1011', 1011)); // outside
    feed(2, ev('other', 1000, 'other-key')); // another key
    expect(out).toEqual(['a-r990@1000', 'a-r1010@1010']);
  });

  it('exclusive bounds (given as lower + 1, upper − 1) leave the edges out', async () => {
    const { out, feed } = await operatorAlone({ lower: -9, upper: 9 }, late);
    feed(1, ev('a', 1000));
    for (const t of [990, 991, 1009, 1010]) feed(2, ev(`r${t}`, t));
    expect(out).toEqual(['a-r991@1000', 'a-r1009@1009']);
  });

  it('drops buffered records once the watermark passes their last chance, and sends late records to the side output', async () => {
    const { op, out, lateOut, feed, backend } = await operatorAlone({ lower: -10, upper: 10 }, late);
    feed(1, ev('a', 1000));
    feed(2, ev('r', 1005));
    op.processWatermark(1010); // a's last chance was a right record at 1010: cleaned up
    feed(2, ev('r2', 1010)); // not late (1010 is not behind 1010) but a is gone, as in Flink
    feed(1, ev('b', 1012)); // meets r (1005, kept until the watermark passes 1015) and r2
    feed(1, ev('old', 1009)); // behind the watermark: late
    expect(out).toEqual(['a-r@1005', 'b-r@1012', 'b-r2@1012']);
    expect(lateOut.map((e) => e.id)).toEqual(['old']);
    expect(op.lateRecordsDropped).toBe(1);
    const ctx = op.getRuntimeContext();
    const buffers = () =>
      ['_join_left', '_join_right'].map(
        (n) => [...ctx.getMapState(new MapStateDescriptor<number, Ev[]>(n)).keys()].length,
      );
    backend.setCurrentKeyComputingGroup('k');
    expect(buffers()).toEqual([1, 2]); // left: b (a was dropped, old never kept); right: r, r2
    op.processWatermark(1_000_000);
    backend.setCurrentKeyComputingGroup('k');
    expect(buffers()).toEqual([0, 0]); // every bucket's timer fired and dropped it
  });
});
