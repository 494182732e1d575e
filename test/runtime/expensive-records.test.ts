// Records that cost milliseconds each: a task still hands the thread back to the event loop every
// time slice (docs/runtime.md), in the middle of a batch if it must, so timers, I/O and the REST
// server keep running. A whole batch of 1024 such records used to run in one go: seconds without a
// turn of the loop. Cutting batches into slices changes nothing in what the job computes, nor in
// the order of records and watermarks.
import { describe, expect, it } from 'vitest';
import {
  CollectSink,
  CollectionSource,
  StreamExecutionEnvironment,
  TumblingEventTimeWindows,
  ValueStateDescriptor,
  WatermarkStrategy,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type ProcessWindowFunction,
  type RuntimeContext,
  type ValueState,
  type WindowContext,
} from '../../src/index.js';

const RECORD_MS = 2;

/** The cost of the expensive records processed since the event loop last had a turn. */
let workSinceTurn = 0;

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* an expensive function: a heavy parse, a synchronous hash */
  }
  workSinceTurn += ms;
}

/**
 * Runs `job` while a 1 ms interval timer measures the longest stretch of expensive work done
 * without a turn of the event loop: the sum of the records' nominal costs between two ticks.
 * Not the wall-clock gap: on a loaded machine the process waits for a core now and then (a 2 ms
 * spin took 6 ms of wall time on a machine with 8 runnable threads on 2 cores), which no task can
 * help; counted so, the stretch is what the tasks decided, ~5 ms of it a turn.
 */
async function longestStretch(job: () => Promise<unknown>): Promise<number> {
  workSinceTurn = 0;
  let longest = 0;
  const probe = setInterval(() => {
    longest = Math.max(longest, workSinceTurn);
    workSinceTurn = 0;
  }, 1);
  try {
    await job();
  } finally {
    clearInterval(probe);
  }
  return Math.max(longest, workSinceTurn);
}

interface Ev {
  readonly key: string;
  readonly t: number;
}

class SlowRunningCount implements KeyedProcessFunction<string, Ev, string> {
  count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }
  processElement(e: Ev, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    spin(RECORD_MS);
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect(`${ctx.getCurrentKey()}@${e.t}#${n}`);
  }
}

const countWindow: ProcessWindowFunction<Ev, string, string> = {
  process(key: string, ctx: WindowContext, elements: Iterable<Ev>, out: Collector<string>) {
    out.collect(`${key}:${ctx.window.start}:${[...elements].length}`);
  },
};

function windowCounts(evs: readonly Ev[], size: number): string[] {
  const m = new Map<string, number>();
  for (const e of evs) {
    const k = `${e.key}:${e.t - (e.t % size)}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return [...m].map(([k, n]) => `${k}:${n}`).sort();
}

describe('a task with expensive records', () => {
  it('yields to the event loop in the middle of a source poll, and emits everything in order', async () => {
    const n = 300;
    const env = new StreamExecutionEnvironment({ parallelism: 1, execution: { batchSize: 1024 } });
    const sink = new CollectSink<number>();
    env
      .fromSequence(1, n)
      .map((x) => {
        spin(RECORD_MS);
        return x * 2;
      })
      .sinkTo(sink);
    expect(env.getJobGraph().vertices.length).toBe(1); // the map runs in the source's task
    const stretch = await longestStretch(() => env.execute('expensive-source'));
    expect(sink.results).toEqual(Array.from({ length: n }, (_, i) => 2 * (i + 1)));
    expect(stretch).toBeLessThan(50); // was the whole poll: n × RECORD_MS
  });

  it('yields in the middle of an input batch; records, keyed state and watermarks keep their order', async () => {
    const n = 300;
    const evs: Ev[] = Array.from({ length: n }, (_, i) => ({ key: `k${(i * 7) % 5}`, t: i * 10 }));
    const env = new StreamExecutionEnvironment({
      parallelism: 1,
      execution: { batchSize: 1024, watermarkIntervalMs: 0 },
    });
    const counts = new CollectSink<string>();
    const windows = new CollectSink<string>();
    const keyed = env
      .fromSource(
        new CollectionSource(evs),
        WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.t),
        'events',
      )
      .keyBy((e) => e.key);
    keyed.process(new SlowRunningCount()).sinkTo(counts);
    // Slow records before a window: one behind a watermark it should precede would be late, and dropped.
    keyed
      .process<Ev>({
        processElement(e: Ev, _ctx: KeyedProcessContext<string>, out: Collector<Ev>) {
          spin(RECORD_MS / 2);
          out.collect(e);
        },
      })
      .keyBy((e) => e.key)
      .window(TumblingEventTimeWindows.of(100))
      .process(countWindow)
      .sinkTo(windows);
    const stretch = await longestStretch(() => env.execute('expensive-input'));
    const seen = new Map<string, number>();
    const expected = evs.map((e) => {
      const c = (seen.get(e.key) ?? 0) + 1;
      seen.set(e.key, c);
      return `${e.key}@${e.t}#${c}`;
    });
    expect(counts.results).toEqual(expected); // one subtask: the input's order, record by record
    expect([...windows.results].sort()).toEqual(windowCounts(evs, 100));
    expect(stretch).toBeLessThan(50); // was a whole batch: n × RECORD_MS
  });

  it('yields between slices of event-time records a source emits, before their watermark', async () => {
    const n = 300;
    const evs: Ev[] = Array.from({ length: n }, (_, i) => ({ key: `k${i % 3}`, t: i * 10 }));
    const env = new StreamExecutionEnvironment({
      parallelism: 1,
      execution: { batchSize: 1024, watermarkIntervalMs: 0 },
    });
    const windows = new CollectSink<string>();
    env
      .fromSource(
        new CollectionSource(evs),
        WatermarkStrategy.forMonotonousTimestamps<Ev>().withTimestampAssigner((e) => e.t),
        'events',
      )
      .map((e) => {
        spin(RECORD_MS);
        return e;
      })
      .keyBy((e) => e.key)
      .window(TumblingEventTimeWindows.of(100))
      .process(countWindow)
      .sinkTo(windows);
    const stretch = await longestStretch(() => env.execute('expensive-event-time-source'));
    expect([...windows.results].sort()).toEqual(windowCounts(evs, 100));
    expect(stretch).toBeLessThan(50);
  });
});
