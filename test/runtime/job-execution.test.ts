import { describe, expect, it } from 'vitest';
import {
  CollectSink,
  JobFailedError,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type DataStream,
  type KeyedStream,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type ProcessFunction,
  type RuntimeContext,
  type ValueState,
} from '../../src/index.js';

class RunningCount implements KeyedProcessFunction<string, string, string> {
  count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }
  processElement(word: string, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect(`${ctx.getCurrentKey()},${n}`);
  }
}

function words(n: number, vocabulary: number): string[] {
  const out: string[] = [];
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.push(`w${x % vocabulary}`);
  }
  return out;
}

/** For every word, the counts it was emitted with must be exactly 1..n. */
function expectRunningCounts(lines: readonly string[], input: readonly string[]): void {
  const seen = new Map<string, number[]>();
  for (const l of lines) {
    const i = l.lastIndexOf(',');
    const w = l.slice(0, i);
    let a = seen.get(w);
    if (a === undefined) seen.set(w, (a = []));
    a.push(Number(l.slice(i + 1)));
  }
  const expected = new Map<string, number>();
  for (const w of input) expected.set(w, (expected.get(w) ?? 0) + 1);
  expect(seen.size).toBe(expected.size);
  for (const [w, n] of expected) {
    expect(seen.get(w), w).toEqual(Array.from({ length: n }, (_, k) => k + 1));
  }
}

describe('job execution', () => {
  for (const p of [1, 2, 3, 4]) {
    it(`keeps per-key running counts exactly at p=${p}`, async () => {
      const input = words(20_000, 500);
      const env = new StreamExecutionEnvironment({ parallelism: p });
      const sink = new CollectSink<string>();
      env
        .fromCollection(input)
        .rebalance()
        .keyBy((w) => w)
        .process(new RunningCount())
        .sinkTo(sink);
      await env.execute('counts');
      // In-order per key also proves each key is owned by one subtask.
      expectRunningCounts(sink.results, input);
    });
  }

  it('gives the same result with and without chaining', async () => {
    const run = async (chaining: boolean): Promise<number[]> => {
      const env = new StreamExecutionEnvironment({ parallelism: 2 });
      if (!chaining) env.disableOperatorChaining();
      const sink = new CollectSink<number>();
      env
        .fromSequence(1, 10_000)
        .map((n) => n * 3)
        .filter((n) => n % 2 === 0)
        .flatMap((n, out) => {
          out.collect(n);
          out.collect(-n);
        })
        .sinkTo(sink);
      const g = env.getJobGraph();
      expect(g.vertices.length).toBe(chaining ? 1 : 5);
      await env.execute();
      return sink.results.sort((a, b) => a - b);
    };
    const chained = await run(true);
    expect(chained.length).toBe(10_000);
    expect(await run(false)).toEqual(chained);
  });

  it('routes union, broadcast and rebalance', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    const sink = new CollectSink<string>();
    const a = env.fromElements('a1', 'a2');
    const b = env.fromElements('b1');
    a.union(b)
      .broadcast()
      .map((s) => s.toUpperCase())
      .setParallelism(3)
      .rebalance()
      .sinkTo(sink)
      .setParallelism(2);
    await env.execute();
    expect(sink.results.sort()).toEqual(['A1', 'A1', 'A1', 'A2', 'A2', 'A2', 'B1', 'B1', 'B1']);
  });

  it('accepts flatMap results returned as any iterable', async () => {
    const env = new StreamExecutionEnvironment();
    const sink = new CollectSink<number>();
    env
      .fromElements(3, 2)
      .flatMap(function* (n: number) {
        for (let i = 0; i < n; i++) yield i;
      })
      .sinkTo(sink);
    await env.execute();
    expect(sink.results).toEqual([0, 1, 2, 0, 1]);
  });

  it('computes rolling aggregations per key', async () => {
    type R = { k: string; v: number; tag: string };
    const data: R[] = [
      { k: 'a', v: 5, tag: 'x' },
      { k: 'b', v: 1, tag: 'y' },
      { k: 'a', v: 2, tag: 'z' },
      { k: 'a', v: 9, tag: 'w' },
    ];
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    const keyed = env.fromCollection(data).keyBy((r) => r.k);
    const sinks = {
      sum: keyed.sum('v'),
      min: keyed.min('v'),
      max: keyed.max('v'),
      minBy: keyed.minBy('v'),
      maxBy: keyed.maxBy('v'),
    };
    const collected = Object.fromEntries(
      Object.entries(sinks).map(([name, stream]) => {
        const sink = new CollectSink<R>();
        stream.sinkTo(sink);
        return [name, sink];
      }),
    );
    await env.execute();
    const forA = (name: string) =>
      collected[name]!.results.filter((r) => r.k === 'a').map((r) => [r.v, r.tag]);
    // sum/min/max change only the field and keep the key's first record otherwise (as in Flink).
    expect(forA('sum')).toEqual([
      [5, 'x'],
      [7, 'x'],
      [16, 'x'],
    ]);
    expect(forA('min')).toEqual([
      [5, 'x'],
      [2, 'x'],
      [2, 'x'],
    ]);
    expect(forA('max')).toEqual([
      [5, 'x'],
      [5, 'x'],
      [9, 'x'],
    ]);
    // minBy/maxBy emit the whole record holding the extreme value.
    expect(forA('minBy')).toEqual([
      [5, 'x'],
      [2, 'z'],
      [2, 'z'],
    ]);
    expect(forA('maxBy')).toEqual([
      [5, 'x'],
      [5, 'x'],
      [9, 'w'],
    ]);
  });

  type Rolling = (k: KeyedStream<unknown, string>) => DataStream<unknown>;
  it.each<[string, unknown[], Rolling, RegExp]>([
    [
      'strings without a field',
      ['a', 'b'],
      (k) => k.sum(),
      /operator 'Sum'.*sum\(\) adds up records that are numbers, but got a string \("a"\): map the records to numbers first, or name a numeric field/,
    ],
    [
      'a field that is missing',
      [{ k: 'a' }, { k: 'b' }],
      (k) => k.sum('nosuch' as never),
      /operator 'Sum'.*sum\('nosuch'\): field 'nosuch' of a record is undefined, not a number/,
    ],
    [
      'a field that is a string (maxBy)',
      [{ k: 'a' }, { k: 'b' }],
      (k) => k.maxBy('k' as never),
      /operator 'MaxBy'.*maxBy\('k'\): field 'k' of a record is a string \("a"\), not a number/,
    ],
  ])(
    'fails the job naming the operator when a rolling aggregation gets %s (+ would join strings)',
    async (_what, records, rolling, message) => {
      const env = new StreamExecutionEnvironment({ parallelism: 1 });
      env.setRestartStrategy({ type: 'none' });
      const keyed = env
        .fromCollection(records)
        .keyBy((r) => (typeof r === 'string' ? r : (r as { k: string }).k));
      rolling(keyed).sinkTo(new CollectSink<unknown>());
      const e = await env.execute().then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(JobFailedError);
      expect((e as Error).message).toMatch(message);
    },
  );

  it('sums a keyed stream of numbers and reduces with a function', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    const sums = new CollectSink<number>();
    const src = env.fromSequence(1, 100);
    src
      .keyBy((n) => n % 2)
      .sum()
      .sinkTo(sums);
    const maxes = new CollectSink<number>();
    src
      .keyBy((n) => n % 3)
      .reduce((a, b) => Math.max(a, b))
      .sinkTo(maxes);
    await env.execute();
    expect(Math.max(...sums.results)).toBe(2550); // evens: 2 + 4 + … + 100
    expect(sums.results).toContain(2500); // odds: 1 + 3 + … + 99
    expect(maxes.results.length).toBe(100);
    expect(new Set(maxes.results.filter((n) => n >= 98))).toEqual(new Set([98, 99, 100]));
  });

  it('keys by tuples, bigints and numbers', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    const sink = new CollectSink<string>();
    const data = Array.from({ length: 300 }, (_, i) => ({ a: `g${i % 3}`, b: i % 2, c: BigInt(i % 5) }));
    env
      .fromCollection(data)
      .keyBy((r) => [r.a, r.b, r.c] as const)
      .process(new TupleKeyCounter())
      .sinkTo(sink);
    await env.execute();
    // 3 × 2 × 5 = 30 distinct keys, 10 records each.
    expect(new Set(sink.results).size).toBe(30);
    expect(sink.results.length).toBe(30);
  });
});

describe('job failure', () => {
  it('names the operator and subtask of a throwing function', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    env
      .fromSequence(1, 5000)
      .map((n) => {
        if (n === 4321) throw new Error('bad record 4321');
        return n;
      })
      .name('parse')
      .uid('parse')
      .sinkTo(new CollectSink());
    const err = await env.execute('failing').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobFailedError);
    const msg = (err as Error).message;
    expect(msg).toContain("job 'failing' failed");
    expect(msg).toContain("operator 'parse' (uid 'parse'), subtask 2/2");
    expect(msg).toContain('bad record 4321');
  });

  it('names the chained operator that threw, not the head of the chain', async () => {
    const env = new StreamExecutionEnvironment();
    env
      .fromSequence(1, 10)
      .map((n) => n)
      .name('first')
      .filter(() => {
        throw new TypeError('boom');
      })
      .name('second')
      .sinkTo(new CollectSink());
    await expect(env.execute()).rejects.toThrow(/operator 'second'.*TypeError: boom/);
  });

  it('blames the consumer when a key selector fails', async () => {
    const env = new StreamExecutionEnvironment();
    env
      .fromElements({ id: 1 }, { id: 2 })
      .keyBy(() => ({ not: 'a key' }) as unknown as string)
      .reduce((a) => a)
      .name('merge')
      .sinkTo(new CollectSink());
    await expect(env.execute()).rejects.toThrow(/operator 'merge'.*key selector.*a key must be a string/);
  });

  it('explains keyed state on a stream without keyBy', async () => {
    const env = new StreamExecutionEnvironment();
    env
      .fromElements(1, 2)
      .process({
        open(ctx: RuntimeContext) {
          ctx.getState(new ValueStateDescriptor('x'));
        },
        processElement() {},
      })
      .name('stateful')
      .sinkTo(new CollectSink());
    await expect(env.execute()).rejects.toThrow(/operator 'stateful'.*failed in open.*not keyed.*keyBy/);
  });

  it('cancels the other tasks and closes every opened function', async () => {
    const closed: number[] = [];
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    env.fromSequence(1, 1_000_000).process(new FailAtHalfMillion(closed)).sinkTo(new CollectSink());
    await expect(env.execute()).rejects.toThrow(/stop/);
    expect(closed.sort()).toEqual([0, 1, 2]);
  });
});

type Tuple = readonly [string, number, bigint];

class TupleKeyCounter implements KeyedProcessFunction<Tuple, unknown, string> {
  private count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('n', { defaultValue: 0 }));
  }
  processElement(_r: unknown, ctx: KeyedProcessContext<Tuple>, out: Collector<string>): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    const [a, b, c] = ctx.getCurrentKey();
    if (n === 10) out.collect(`${a}/${b}/${c}`);
  }
}

class FailAtHalfMillion implements ProcessFunction<number, number> {
  private sub = -1;
  constructor(private readonly closed: number[]) {}
  open(ctx: RuntimeContext): void {
    this.sub = ctx.subtaskIndex;
  }
  processElement(n: number, _ctx: unknown, out: Collector<number>): void {
    if (n === 500_000) throw new Error('stop');
    out.collect(n);
  }
  close(): void {
    this.closed.push(this.sub);
  }
}
