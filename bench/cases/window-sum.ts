// Event-time windows (issue 5): a tumbling-window sum per key (1 s windows) and a sliding-window
// sum (10 s windows every 1 s) over generated events (1 000 keys, 100 events per millisecond of
// event time, so a key has about 100 events per second of event time), with exactly-once
// checkpoints every 1 s, each beside a plain loop that computes the same window sums in Maps.
// Checked: the number of window results and the sum of their values.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DiscardingSink,
  SlidingEventTimeWindows,
  StreamExecutionEnvironment,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type WindowAssigner,
} from '../../src/index.js';
import type { BenchCase, PreparedCase, RunResult } from '../lib/harness.js';
import { GeneratedEventSource, KEY_STRIDE, type BenchEvent } from '../lib/generated-events.js';

const KEYS = 1000;
/** Event i happens at millisecond ⌊i / EVENTS_PER_MS⌋. */
const EVENTS_PER_MS = 100;

async function windowJob(events: number, assigner: WindowAssigner): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-bench-win-'));
  try {
    const total = { outputs: 0, sum: 0 };
    const env = new StreamExecutionEnvironment({ jobName: 'bench window-sum' });
    env.enableCheckpointing(1000);
    env.checkpointConfig.setCheckpointStorage(dir);
    env
      .fromSource(
        new GeneratedEventSource(events, KEYS),
        WatermarkStrategy.forMonotonousTimestamps<BenchEvent>().withTimestampAssigner((e) =>
          Math.floor(e.ts / EVENTS_PER_MS),
        ),
        'events',
      )
      .uid('events')
      .keyBy((e) => e.key)
      .window(assigner)
      .reduce((a, b) => ({ key: a.key, ts: a.ts, value: a.value + b.value }))
      .uid('window')
      .map((e) => {
        total.outputs++;
        total.sum += e.value;
        return e;
      })
      .sinkTo(new DiscardingSink<BenchEvent>())
      .uid('sink');
    await env.execute();
    return { outputs: total.outputs, checksum: total.sum };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same windows in a loop: per window start, a Map from key to sum; a window is emitted when event time passes its end. */
function windowLoop(events: number, size: number, slide: number): RunResult {
  const open = new Map<number, Map<string, number>>();
  let outputs = 0;
  let sum = 0;
  let nextEnd = Number.POSITIVE_INFINITY;
  const flush = (upTo: number): void => {
    for (const [start, sums] of open) {
      if (start + size - 1 > upTo) continue;
      for (const v of sums.values()) {
        outputs++;
        sum += v;
      }
      open.delete(start);
    }
    nextEnd = Number.POSITIVE_INFINITY;
    for (const start of open.keys()) nextEnd = Math.min(nextEnd, start + size - 1);
  };
  for (let i = 0; i < events; i++) {
    const e: BenchEvent = {
      key: 'key-' + ((i * KEY_STRIDE) % KEYS),
      ts: Math.floor(i / EVENTS_PER_MS),
      value: 1,
    };
    if (e.ts > nextEnd) flush(e.ts - 1);
    const last = e.ts - (e.ts % slide);
    for (let start = last; start > e.ts - size; start -= slide) {
      let sums = open.get(start);
      if (sums === undefined) {
        sums = new Map();
        open.set(start, sums);
        nextEnd = Math.min(nextEnd, start + size - 1);
      }
      sums.set(e.key, (sums.get(e.key) ?? 0) + e.value);
    }
  }
  flush(Number.POSITIVE_INFINITY);
  return { outputs, checksum: sum };
}

function windowCase(
  name: string,
  description: string,
  size: number,
  slide: number,
  assigner: () => WindowAssigner,
): BenchCase {
  return {
    name,
    unit: 'events/s',
    itemName: 'events',
    defaultItems: 2_000_000,
    description,
    prepare(events: number): PreparedCase {
      return {
        items: events,
        expected: windowLoop(events, size, slide),
        engine: () => windowJob(events, assigner()),
        baseline: () => windowLoop(events, size, slide),
      };
    },
  };
}

export const tumblingWindowSum = windowCase(
  'window-tumbling-chk-1s',
  'tumbling 1 s event-time windows, sum per key (1 000 keys), checkpoints every 1 s; baseline sums the same windows in Maps',
  1000,
  1000,
  () => TumblingEventTimeWindows.of(1000),
);

export const slidingWindowSum = windowCase(
  'window-sliding-chk-1s',
  'sliding 10 s / 1 s event-time windows, sum per key (1 000 keys), checkpoints every 1 s; baseline sums the same windows in Maps',
  10_000,
  1000,
  () => SlidingEventTimeWindows.of(10_000, 1000),
);
