// The interval join as a golden test, three runs one output: straight through; with checkpoints
// and an injected failure; stopped with a savepoint at p=2 and resumed at p=3. Each must equal a
// plain nested-loop computation over the same two inputs: every pair exactly once.
import { describe, expect, it } from 'vitest';
import {
  OutputTag,
  StreamExecutionEnvironment,
  WatermarkStrategy,
  type ProcessJoinFunction,
} from '../../src/index.js';
import { CollectionSource } from '../../src/connectors/collection-source.js';
import { Rng } from '../state/gen.js';
import { runGoldenJob } from './golden-job.js';
import { KeyedOperatorTestHarness } from '../../src/testing/index.js';

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

/** The join job, failing once at the left record `failAt` when given. */
const build =
  (left: Ev[], right: Ev[], failAt?: number) => (env: StreamExecutionEnvironment, slow: <T>(x: T) => T) => {
    let failed = false;
    const strategy = WatermarkStrategy.forBoundedOutOfOrderness<Ev>(100).withTimestampAssigner((e) => e.t);
    const orders = env
      .fromSource(new CollectionSource(left), strategy, 'left')
      .uid('left')
      .map((e) => {
        if (failAt !== undefined && !failed && e === left[failAt]) {
          failed = true;
          throw new Error('injected');
        }
        return slow(e);
      });
    const shipments = env.fromSource(new CollectionSource(right), strategy, 'right').uid('right');
    return orders
      .keyBy((e) => e.key)
      .intervalJoin(shipments.keyBy((e) => e.key))
      .between(LOWER, UPPER)
      .process(pairs)
      .uid('join');
  };

const options = { batchSize: 64, watermarkIntervalMs: 0 };

describe('interval join: three runs, one output', () => {
  const left = events('L', 6000, 11, 90);
  const right = events('R', 6000, 12, 90);
  const expected = plain(left, right);

  it('has pairs to find (the data is not degenerate)', () => {
    expect(expected.split('\n').length).toBeGreaterThan(2000);
  });

  it.each([1, 3])('straight through at p=%i', async (p) => {
    expect((await runGoldenJob('ij', { ...options, parallelism: p }, build(left, right))).lines).toBe(
      expected,
    );
  });

  it('with checkpoints and an injected failure at p=2', async () => {
    const r = await runGoldenJob(
      'ij',
      { ...options, parallelism: 2, checkpointMs: 20, slowMs: 0.01 },
      build(left, right, 4500),
    );
    expect(r.lines).toBe(expected);
  });

  it('stopped with a savepoint at p=2 and resumed at p=3', async () => {
    const first = await runGoldenJob(
      'ij',
      { ...options, parallelism: 2, checkpointMs: 1_000_000, slowMs: 0.1, stopAfterRecords: 3000 },
      build(left, right),
    );
    expect(first.savepointPath).toBeDefined();
    expect(first.lines.split('\n').length).toBeLessThan(expected.split('\n').length);
    const second = await runGoldenJob(
      'ij',
      { ...options, parallelism: 3, out: first.out, restoreFrom: first.savepointPath },
      build(left, right),
    );
    expect(second.lines).toBe(expected);
  });
});

describe('interval join bounds', () => {
  it('exclusive bounds leave out exactly the edge offsets, however often they are asked for', async () => {
    const at = (id: string, t: number): Ev => ({ id, t, key: 'k' });
    const left = [at('L', 1000)];
    const right = [-3, -2, -1, 0, 1, 2, 3].map((d) => at(`R${d}`, 1000 + d));
    const r = await runGoldenJob('ij-bounds', { ...options, parallelism: 1 }, (env) => {
      const strategy = WatermarkStrategy.forBoundedOutOfOrderness<Ev>(100).withTimestampAssigner((e) => e.t);
      return env
        .fromSource(new CollectionSource(left), strategy, 'left')
        .keyBy((e) => e.key)
        .intervalJoin(env.fromSource(new CollectionSource(right), strategy, 'right').keyBy((e) => e.key))
        .between(-2, 2)
        .lowerBoundExclusive()
        .lowerBoundExclusive()
        .upperBoundExclusive()
        .upperBoundExclusive()
        .process(pairs);
    });
    expect(r.lines.split('\n').map((l) => l.split(',')[2])).toEqual(['R-1', 'R0', 'R1']);
  });
});

describe('interval join operator', () => {
  const late = new OutputTag<Ev>('late-left');
  const ev = (id: string, t: number, key = 'k'): Ev => ({ id, t, key });
  const harness = (
    bounds: { lower: number; upper: number },
    options: { parallelism?: number; subtaskIndex?: number; late?: boolean } = {},
  ) =>
    KeyedOperatorTestHarness.forIntervalJoin<string, Ev, Ev, string>(
      { processElement: (l, r, ctx, out) => out.collect(`${l.id}-${r.id}@${ctx.timestamp}`) },
      bounds,
      (e) => e.key,
      (e) => e.key,
      { ...options, ...(options.late === false ? {} : { sideOutputLeftLateData: late }) },
    );
  const left = (h: ReturnType<typeof harness>, e: Ev) => h.processElement(e, e.t);
  const right = (h: ReturnType<typeof harness>, e: Ev) => h.processElement2(e, e.t);
  const buckets = (h: ReturnType<typeof harness>, name: string) =>
    h.stateFor<Map<number, Ev[]>>(name, 'k')?.size ?? 0;

  it('joins both ways within inclusive bounds and stamps the later timestamp', async () => {
    const h = harness({ lower: -10, upper: 10 });
    await h.open();
    right(h, ev('r989', 989));
    right(h, ev('r990', 990));
    left(h, ev('a', 1000)); // meets r990 only
    right(h, ev('r1010', 1010)); // meets a (1010 = 1000 + 10)
    right(h, ev('r1011', 1011)); // outside
    right(h, ev('other', 1000, 'other-key')); // another key
    expect(h.output).toEqual(['a-r990@1000', 'a-r1010@1010']);
    expect(h.outputTimestamps).toEqual([1000, 1010]);
  });

  it('exclusive bounds (given as lower + 1, upper − 1) leave the edges out', async () => {
    const h = harness({ lower: -9, upper: 9 });
    await h.open();
    left(h, ev('a', 1000));
    for (const t of [990, 991, 1009, 1010]) right(h, ev(`r${t}`, t));
    expect(h.output).toEqual(['a-r991@1000', 'a-r1009@1009']);
  });

  it('drops buffered records once the watermark passes their last chance, and sends late records to the side output', async () => {
    const h = harness({ lower: -10, upper: 10 });
    await h.open();
    left(h, ev('a', 1000));
    right(h, ev('r', 1005));
    h.processWatermark(1010); // a's last chance was a right record at 1010: cleaned up
    right(h, ev('r2', 1010)); // not late (1010 is not behind 1010) but a is gone, as in Flink
    left(h, ev('b', 1012)); // meets r (1005, kept until the watermark passes 1015) and r2
    left(h, ev('old', 1009)); // behind the watermark: late
    expect(h.output).toEqual(['a-r@1005', 'b-r@1012', 'b-r2@1012']);
    expect(h.sideOutput(late).map((e) => e.id)).toEqual(['old']);
    expect(h.lateRecordsDropped).toBe(0); // sent to the side output, not dropped
    expect([buckets(h, '_join_left'), buckets(h, '_join_right')]).toEqual([1, 2]); // b; r, r2
    h.processWatermark(1_000_000);
    expect([buckets(h, '_join_left'), buckets(h, '_join_right')]).toEqual([0, 0]); // every bucket's timer fired
    const noTag = harness({ lower: -10, upper: 10 }, { late: false });
    await noTag.open();
    noTag.processWatermark(2000);
    left(noTag, ev('old', 1999));
    expect(noTag.lateRecordsDropped).toBe(1);
  });

  it('buffers and cleanup timers restore at p=2: the subtask owning the key finds the pairs and cleans up', async () => {
    const h = harness({ lower: 0, upper: 50 });
    await h.open();
    left(h, ev('a', 1000));
    right(h, ev('r', 1020));
    h.processWatermark(990);
    const snapshot = h.snapshot(1);
    await h.close();
    let owners = 0;
    for (let i = 0; i < 2; i++) {
      const r = harness({ lower: 0, upper: 50 }, { parallelism: 2, subtaskIndex: i });
      await r.restore([snapshot]);
      if (!r.ownsKey('k')) {
        expect([r.state('_join_left').size, r.state('_join_right').size]).toEqual([0, 0]);
        continue;
      }
      owners++;
      expect(h.output).toEqual(['a-r@1020']);
      left(r, ev('b', 1010)); // meets the restored r
      right(r, ev('r2', 1040)); // meets the restored a and b
      // Left buckets live until t + 50, right ones until t (no later left record can reach them).
      r.processWatermark(1051);
      expect([buckets(r, '_join_left'), buckets(r, '_join_right')]).toEqual([1, 0]); // b
      expect(r.output).toEqual(['b-r@1020', 'a-r2@1040', 'b-r2@1040']);
    }
    expect(owners).toBe(1);
  });
});
