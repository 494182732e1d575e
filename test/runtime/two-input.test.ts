// Two inputs and side outputs in running jobs: connect (co-map, co-flatMap, co-process, keyed),
// a keyed stream connected to a broadcast stream (broadcast state, applyToKeyedState), window
// joins and co-groups, and side outputs read chained and across a network edge. The stateful
// ones run across a failure with checkpoints and across a stop at p=2 resumed at p=3.
import { describe, expect, it } from 'vitest';
import {
  CollectSink,
  GraphValidationError,
  JobFailedError,
  ListStateDescriptor,
  MapStateDescriptor,
  OutputTag,
  StreamExecutionEnvironment,
  TumblingEventTimeWindows,
  ValueStateDescriptor,
  WatermarkStrategy,
  type CoGroupFunction,
  type Collector,
  type KeyedBroadcastContext,
  type KeyedBroadcastProcessFunction,
  type KeyedProcessFunction,
  type KeyedProcessContext,
  type KeyedReadOnlyBroadcastContext,
  type ListState,
  type RuntimeContext,
  type ValueState,
} from '../../src/index.js';
import { CollectionSource } from '../../src/connectors/collection-source.js';
import { buildJobGraph } from '../../src/graph/job-graph-builder.js';
import { Rng } from '../state/gen.js';
import { runGoldenJob as runJob, sorted } from './golden-job.js';
import { MatchPayments, type Order, type Payment } from './match-payments.js';

describe('side outputs', () => {
  it('a process function splits records off; readers chained, over the network at another parallelism, and none', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    const odd = new OutputTag<number>('odd');
    const big = new OutputTag<string>('big');
    const unread = new OutputTag<number>('unread');
    const main = env.fromSequence(1, 2000).process<number>({
      processElement(n, ctx, out) {
        if (n % 2 === 1) ctx.output(odd, n);
        else out.collect(n);
        if (n > 1990) ctx.output(big, `big ${n}`);
        ctx.output(unread, n);
      },
    });
    const evens = new CollectSink<number>();
    const odds = new CollectSink<number>();
    const bigs = new CollectSink<string>();
    main.sinkTo(evens);
    main.getSideOutput(odd).sinkTo(odds); // chained: same parallelism, forward
    main
      .getSideOutput(big)
      .map((s) => s.toUpperCase())
      .setParallelism(1)
      .sinkTo(bigs); // network
    await env.execute('side outputs');
    expect(evens.results.sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => 2 * i + 2));
    expect(odds.results.sort((a, b) => a - b)).toEqual(Array.from({ length: 1000 }, (_, i) => 2 * i + 1));
    expect(bigs.results.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `BIG ${1991 + i}`).sort());
  });

  it('a keyed process function emits to a side output with the record timestamp', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    const dup = new OutputTag<string>('dup');
    type E = { t: number; k: string };
    const evs: E[] = Array.from({ length: 300 }, (_, i) => ({ t: 1000 + i, k: `k${i % 7}` }));
    class SplitRepeats implements KeyedProcessFunction<string, E, string> {
      seen!: ValueState<number>;
      open(ctx: RuntimeContext): void {
        this.seen = ctx.getState(new ValueStateDescriptor<number>('n', { defaultValue: 0 }));
      }
      processElement(e: E, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
        const n = this.seen.value()! + 1;
        this.seen.update(n);
        if (n > 40) ctx.output(dup, `${ctx.getCurrentKey()}@${ctx.timestamp()}`);
        else out.collect(e.k);
      }
    }
    const main = env
      .fromSource(
        new CollectionSource(evs),
        WatermarkStrategy.forMonotonousTimestamps<E>().withTimestampAssigner((e) => e.t),
        'evs',
      )
      .keyBy((e) => e.k)
      .process(new SplitRepeats());
    const dups = new CollectSink<string>();
    main.getSideOutput(dup).sinkTo(dups);
    await env.execute('keyed side output');
    const want = evs.filter((_, i) => Math.floor(i / 7) >= 40).map((e) => `${e.k}@${e.t}`);
    expect(sorted(dups.results)).toBe(sorted(want));
  });

  it('getSideOutput on a union is refused with a message', () => {
    const env = new StreamExecutionEnvironment();
    const a = env.fromSequence(1, 2);
    expect(() => a.union(env.fromSequence(3, 4)).getSideOutput(new OutputTag<number>('x'))).toThrow(
      /getSideOutput\(\) applies to an operator/,
    );
  });
});

describe('connect', () => {
  it('co-map and co-flatMap see both inputs, each record once', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    const nums = env.fromSequence(1, 500);
    const words = env.fromElements('a b', 'c', 'd e f').rebalance();
    const mapped = new CollectSink<string>();
    const flat = new CollectSink<string>();
    nums
      .connect(words)
      .map({ map1: (n) => `n${n}`, map2: (w) => `w${w}` })
      .sinkTo(mapped);
    nums
      .connect(words)
      .flatMap({
        flatMap1: (n) => (n % 100 === 0 ? [`n${n}`] : []),
        flatMap2: (w, out) => w.split(' ').forEach((x) => out.collect(x)),
      })
      .sinkTo(flat);
    await env.execute('connect');
    expect(sorted(mapped.results)).toBe(
      sorted([...Array.from({ length: 500 }, (_, i) => `n${i + 1}`), 'wa b', 'wc', 'wd e f']),
    );
    expect(sorted(flat.results)).toBe(
      sorted(['n100', 'n200', 'n300', 'n400', 'n500', 'a', 'b', 'c', 'd', 'e', 'f']),
    );
  });

  it('a two-input operator heads its own chain, and mixing keyed with non-keyed is refused', () => {
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    const a = env.fromSequence(1, 10);
    a.connect(a.map((x) => x * 2))
      .map({ map1: (x) => x, map2: (x) => x })
      .print();
    const g = buildJobGraph(
      'g',
      (env as unknown as { graph: { transformations: never[] } }).graph.transformations,
      {
        parallelism: 2,
        maxParallelism: 128,
        chaining: true,
      },
    );
    const co = g.vertices.find((v) => v.operators[0]!.name === 'CoMap')!;
    expect(co.inputs.map((e) => e.inputIndex).sort()).toEqual([0, 1]);
    expect(() => a.keyBy((x) => x).connect(a)).toThrow(GraphValidationError);
    expect(() => a.keyBy((x) => x).connect(a)).toThrow(/broadcast the other/);
  });
});

describe('keyed connect: three runs, one output', () => {
  const n = 6000;
  const rng = new Rng(3);
  const orders: Order[] = Array.from({ length: n }, (_, i) => ({ id: i, amount: rng.int(1, 999) }));
  const payments: Payment[] = orders.map((o) => ({ orderId: o.id, paid: o.amount * 2 }));
  for (let i = payments.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [payments[i], payments[j]] = [payments[j]!, payments[i]!];
  }
  const expected = sorted(orders.map((o) => `${o.id},${o.amount},${o.amount * 2}`));
  let failed = false;
  const build = (failAt?: number) => (env: StreamExecutionEnvironment, slow: <T>(x: T) => T) =>
    env
      .fromCollection(orders)
      .uid('orders')
      .map((o) => {
        if (failAt !== undefined && !failed && o.id === failAt) {
          failed = true;
          throw new Error('injected');
        }
        return slow(o);
      })
      .connect(env.fromCollection(payments).uid('payments'))
      .keyBy(
        (o) => o.id,
        (p) => p.orderId,
      )
      .process(new MatchPayments())
      .uid('match');

  it('straight through at p=3', async () => {
    expect((await runJob('match', { parallelism: 3 }, build())).lines).toBe(expected);
  });

  it('with checkpoints and an injected failure at p=2', async () => {
    failed = false;
    const r = await runJob('match', { parallelism: 2, checkpointMs: 20, slowMs: 0.02 }, build(4000));
    expect(failed).toBe(true);
    expect(r.lines).toBe(expected);
  });

  it('stopped with a savepoint at p=2 and resumed at p=3', async () => {
    const first = await runJob(
      'match',
      { parallelism: 2, checkpointMs: 1_000_000, slowMs: 0.1, stopAfterRecords: 3000 },
      build(),
    );
    expect(first.savepointPath).toBeDefined();
    expect(first.lines.split('\n').length).toBeLessThan(n);
    const second = await runJob(
      'match',
      { parallelism: 3, out: first.out, restoreFrom: first.savepointPath },
      build(),
    );
    expect(second.lines).toBe(expected);
  });
});

// Events wait per user until the rate of their category is known; a rate arriving on the
// broadcast side converts what waits for it in every key (applyToKeyedState). The result does
// not depend on how the two inputs interleave.
type Ev = { user: string; cat: string; v: number };
type Rate = { cat: string; rate: number };
const RATES = new MapStateDescriptor<string, number>('rates');
const PENDING = new ListStateDescriptor<Ev>('pending');

class Convert implements KeyedBroadcastProcessFunction<string, Ev, Rate, string> {
  pending!: ListState<Ev>;
  open(ctx: RuntimeContext): void {
    this.pending = ctx.getListState(PENDING);
  }
  processElement(e: Ev, ctx: KeyedReadOnlyBroadcastContext<string>, out: Collector<string>): void {
    const rate = ctx.getBroadcastState(RATES).get(e.cat);
    if (rate === undefined) this.pending.add(e);
    else out.collect(`${ctx.getCurrentKey()},${e.cat},${e.v * rate}`);
  }
  processBroadcastElement(r: Rate, ctx: KeyedBroadcastContext<string>, out: Collector<string>): void {
    ctx.getBroadcastState(RATES).put(r.cat, r.rate);
    ctx.applyToKeyedState(PENDING, (user, state) => {
      const keep: Ev[] = [];
      for (const e of state.get()) {
        if (e.cat === r.cat) out.collect(`${user},${e.cat},${e.v * r.rate}`);
        else keep.push(e);
      }
      if (keep.length === 0) state.clear();
      else state.update(keep);
    });
  }
}

describe('keyed broadcast: three runs, one output', () => {
  const rng = new Rng(9);
  const cats = Array.from({ length: 12 }, (_, i) => `c${i}`);
  const evs: Ev[] = Array.from({ length: 5000 }, () => ({
    user: `u${rng.int(0, 200)}`,
    cat: cats[rng.int(0, 11)]!,
    v: rng.int(1, 100),
  }));
  const rates: Rate[] = cats.map((cat, i) => ({ cat, rate: i + 2 }));
  const expected = sorted(evs.map((e) => `${e.user},${e.cat},${e.v * (Number(e.cat.slice(1)) + 2)}`));
  const build = (env: StreamExecutionEnvironment, slow: <T>(x: T) => T) =>
    env
      .fromCollection(evs)
      .uid('events')
      .map((e) => slow(e))
      .keyBy((e) => e.user)
      .connect(
        env
          .fromCollection(rates)
          .uid('rates')
          .map((r) => slow(slow(slow(r)))) // rates trickle in while events flow
          .broadcast(RATES),
      )
      .process(new Convert())
      .uid('convert');

  it('straight through at p=3', async () => {
    expect((await runJob('convert', { parallelism: 3 }, build)).lines).toBe(expected);
  });

  it('stopped with a savepoint at p=2 and resumed at p=3: broadcast state reaches every new subtask', async () => {
    const first = await runJob(
      'convert',
      { parallelism: 2, checkpointMs: 1_000_000, slowMs: 0.2, stopAfterRecords: 2500 },
      build,
    );
    expect(first.savepointPath).toBeDefined();
    expect(first.lines.split('\n').length).toBeLessThan(evs.length);
    const second = await runJob(
      'convert',
      { parallelism: 3, out: first.out, restoreFrom: first.savepointPath },
      build,
    );
    expect(second.lines).toBe(expected);
  });

  it('the non-broadcast side may not write the broadcast state, nor use an undeclared one', async () => {
    for (const [fn, message] of [
      [
        (e: Ev, ctx: KeyedReadOnlyBroadcastContext<string>) =>
          (ctx.getBroadcastState(RATES) as unknown as { put(k: string, v: number): void }).put(e.cat, 1),
        /read-only outside processBroadcastElement/,
      ],
      [
        (_e: Ev, ctx: KeyedReadOnlyBroadcastContext<string>) =>
          ctx.getBroadcastState(new MapStateDescriptor('other')),
        /broadcast state 'other' was not declared; declare it in broadcast\(\.\.\.\) \(declared: 'rates'\)/,
      ],
    ] as const) {
      const env = new StreamExecutionEnvironment();
      env
        .fromElements<Ev>({ user: 'u', cat: 'c', v: 1 })
        .keyBy((e) => e.user)
        .connect(env.fromElements<Rate>().broadcast(RATES))
        .process<string, string>({ processElement: fn, processBroadcastElement: () => undefined })
        .sinkTo(new CollectSink());
      const err = await env.execute('ro').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(JobFailedError);
      expect(String((err as Error).message) + String((err as { cause?: Error }).cause?.message)).toMatch(
        message,
      );
    }
  });
});

describe('window join and co-group', () => {
  type Click = { ad: string; t: number };
  type View = { ad: string; t: number; page: string };
  const rng = new Rng(21);
  const clicks: Click[] = [];
  const views: View[] = [];
  for (let i = 0, t = 1_000_000; i < 3000; i++) {
    t += rng.int(0, 5);
    if (rng.int(0, 2) === 0) clicks.push({ ad: `a${rng.int(0, 20)}`, t });
    else views.push({ ad: `a${rng.int(0, 20)}`, t, page: `p${i}` });
  }
  const win = (t: number): number => Math.floor(t / 500) * 500;
  const strategy = <T extends { t: number }>() =>
    WatermarkStrategy.forMonotonousTimestamps<T>().withTimestampAssigner((e) => e.t);
  const sources = (env: StreamExecutionEnvironment) => ({
    c: env.fromSource(new CollectionSource(clicks), strategy<Click>(), 'clicks'),
    v: env.fromSource(new CollectionSource(views), strategy<View>(), 'views'),
  });

  it('join: every pair of a key and window, once', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    const { c, v } = sources(env);
    const sink = new CollectSink<string>();
    c.join(v)
      .where((x) => x.ad)
      .equalTo((x) => x.ad)
      .window(TumblingEventTimeWindows.of(500))
      .apply((x, y) => `${x.ad},${x.t},${y.page}`)
      .sinkTo(sink);
    await env.execute('join');
    const want: string[] = [];
    for (const x of clicks)
      for (const y of views)
        if (x.ad === y.ad && win(x.t) === win(y.t)) want.push(`${x.ad},${x.t},${y.page}`);
    expect(want.length).toBeGreaterThan(1000);
    expect(sorted(sink.results)).toBe(sorted(want));
  });

  it('a co-group function object is opened per subtask: keyed state kept on it counts per key', async () => {
    class WindowsPerAd implements CoGroupFunction<Click, View, string> {
      seen!: ValueState<number>;
      opened = 0;
      open(ctx: RuntimeContext): void {
        this.opened++;
        this.seen = ctx.getState(new ValueStateDescriptor<number>('windows', { defaultValue: 0 }));
      }
      coGroup(xs: readonly Click[], ys: readonly View[], out: Collector<string>): void {
        const n = this.seen.value()! + 1;
        this.seen.update(n);
        out.collect(`${(xs[0] ?? ys[0])!.ad},${n}`);
      }
    }
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    const { c, v } = sources(env);
    const sink = new CollectSink<string>();
    const fn = new WindowsPerAd();
    c.coGroup(v)
      .where((x) => x.ad)
      .equalTo((x) => x.ad)
      .window(TumblingEventTimeWindows.of(500))
      .apply<string>(fn)
      .sinkTo(sink);
    await env.execute('cogroup-state');
    expect(fn.opened).toBe(0); // each subtask opened its own copy
    const windows = new Map<string, Set<number>>();
    for (const e of [...clicks, ...views])
      (windows.get(e.ad) ?? windows.set(e.ad, new Set()).get(e.ad)!).add(win(e.t));
    const want = [...windows].flatMap(([ad, ws]) => [...ws].map((_, i) => `${ad},${i + 1}`));
    expect(sorted(sink.results)).toBe(sorted(want));
  });

  it('coGroup: per key and window both lists, also when one is empty', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    const { c, v } = sources(env);
    const sink = new CollectSink<string>();
    c.coGroup(v)
      .where((x) => x.ad)
      .equalTo((x) => x.ad)
      .window(TumblingEventTimeWindows.of(500))
      .apply<string>({
        coGroup(xs, ys, out) {
          out.collect(`${(xs[0] ?? ys[0])!.ad},${win((xs[0] ?? ys[0])!.t)},${xs.length},${ys.length}`);
        },
      })
      .sinkTo(sink);
    await env.execute('cogroup');
    const m = new Map<string, [number, number]>();
    for (const x of clicks)
      (m.get(`${x.ad},${win(x.t)}`) ?? m.set(`${x.ad},${win(x.t)}`, [0, 0]).get(`${x.ad},${win(x.t)}`)!)[0]++;
    for (const y of views)
      (m.get(`${y.ad},${win(y.t)}`) ?? m.set(`${y.ad},${win(y.t)}`, [0, 0]).get(`${y.ad},${win(y.t)}`)!)[1]++;
    const want = [...m].map(([k, [a, b]]) => `${k},${a},${b}`);
    expect(want.some((w) => w.endsWith(',0'))).toBe(true);
    expect(sorted(sink.results)).toBe(sorted(want));
  });
});
