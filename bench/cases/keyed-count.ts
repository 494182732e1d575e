// keyed-count: generated events over 100k distinct keys, parallelism 1:
// source → keyBy(key) → count in keyed ValueState → discarding sink.
// Baseline: the same events generated in a loop, counted in a Map<string, number>.
import {
  DiscardingSink,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type RuntimeContext,
  type ValueState,
} from '../../src/index.js';
import type { BenchCase, PreparedCase, RunResult } from '../lib/harness.js';
import { GeneratedEventSource, KEY_STRIDE, type BenchEvent } from '../lib/generated-events.js';

const KEYS = 100_000;

/** Counts events per key; emits the key's new count and adds it to a shared total (the checksum). */
class CountPerKey implements KeyedProcessFunction<string, BenchEvent, number> {
  private count!: ValueState<number>;

  constructor(private readonly total: { sum: number }) {}

  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }

  processElement(_event: BenchEvent, _ctx: KeyedProcessContext<string>, out: Collector<number>): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    this.total.sum += n;
    out.collect(n);
  }
}

/** The keyed-count job; with `checkpoints`, exactly-once checkpoints into `dir` every `intervalMs`. */
export async function keyedCountJob(
  events: number,
  checkpoints: { intervalMs: number; dir: string } | undefined,
): Promise<RunResult> {
  const total = { sum: 0 };
  const sink = new DiscardingSink<number>();
  const env = new StreamExecutionEnvironment({ jobName: 'bench keyed-count' });
  if (checkpoints !== undefined) {
    env.enableCheckpointing(checkpoints.intervalMs);
    env.checkpointConfig.setCheckpointStorage(checkpoints.dir);
  }
  env
    .fromSource(new GeneratedEventSource(events, KEYS), 'events')
    .uid('events')
    .keyBy((e) => e.key)
    .process(new CountPerKey(total))
    .uid('count')
    .sinkTo(sink)
    .uid('sink');
  await env.execute();
  return { outputs: sink.count, checksum: total.sum };
}

function baseline(events: number): RunResult {
  const keys = KEYS;
  const counts = new Map<string, number>();
  let sum = 0;
  let outputs = 0;
  for (let i = 0; i < events; i++) {
    const e: BenchEvent = { key: 'key-' + ((i * KEY_STRIDE) % keys), ts: i, value: 1 };
    const n = (counts.get(e.key) ?? 0) + 1;
    counts.set(e.key, n);
    sum += n;
    outputs++;
  }
  return { outputs, checksum: sum };
}

/** Every key is hit ⌊N/K⌋ times and the first N mod K keys once more; the running counts of a key hit c times sum to c(c+1)/2. */
function expected(events: number): RunResult {
  const f = Math.floor(events / KEYS);
  const r = events % KEYS;
  return { outputs: events, checksum: (r * (f + 1) * (f + 2)) / 2 + ((KEYS - r) * f * (f + 1)) / 2 };
}

export const keyedCount: BenchCase = {
  name: 'keyed-count',
  unit: 'events/s',
  itemName: 'events',
  defaultItems: 5_000_000,
  description:
    'generated events, 100k keys, p=1: source → keyBy → count in ValueState → discarding sink; baseline counts in a Map<string, number>',
  prepare(events: number): PreparedCase {
    return {
      items: events,
      expected: expected(events),
      engine: () => keyedCountJob(events, undefined),
      baseline: () => baseline(events),
    };
  },
};
