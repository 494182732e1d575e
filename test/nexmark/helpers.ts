// Shared by the Nexmark tests: the generated events as a plain array (what the expected results
// are computed from, without weir), and one run of a query into a collecting sink.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CollectSink,
  StreamExecutionEnvironment,
  type DataStream,
  type ProcessingClock,
} from '../../src/index.js';
import { NexmarkGenerator, type GeneratorOptions } from '../../bench/nexmark/generator.js';
import type { NexmarkEvent } from '../../bench/nexmark/model.js';
import type { NexmarkQuery, QueryParams } from '../../bench/nexmark/queries/query.js';
import { nexmarkEvents, type NexmarkStreamOptions } from '../../bench/nexmark/source.js';

/** A slow event rate, so that 50 k events span 50 s of event time: several 10 s windows. */
export const TEST_RATE = 1000;

export function generate(
  events: number,
  options: GeneratorOptions = { eventsPerSecond: TEST_RATE },
): NexmarkEvent[] {
  const g = new NexmarkGenerator(options);
  const out: NexmarkEvent[] = [];
  for (let n = 0; n < events; n++) out.push(g.event(n));
  return out;
}

export interface RunOptions {
  parallelism?: number;
  /** Exactly-once checkpoints this often (ms); default none. */
  checkpointMs?: number;
  params?: QueryParams;
  source?: Partial<NexmarkStreamOptions>;
  clock?: ProcessingClock;
  /** Applied to the events before the query (e.g. to drive a test clock). */
  through?: (events: DataStream<NexmarkEvent>) => DataStream<NexmarkEvent>;
}

export async function runQuery<O>(query: NexmarkQuery<O>, events: number, o: RunOptions = {}): Promise<O[]> {
  const dir = mkdtempSync(join(tmpdir(), 'weir-nexmark-test-'));
  try {
    const env = new StreamExecutionEnvironment({
      parallelism: o.parallelism ?? 1,
      execution: { batchSize: 256, ...(o.clock !== undefined ? { clock: o.clock } : {}) },
    });
    if (o.checkpointMs !== undefined) {
      env.enableCheckpointing(o.checkpointMs);
      env.checkpointConfig.setCheckpointStorage(dir);
    }
    const sink = new CollectSink<O>();
    let stream = nexmarkEvents(env, { events, eventsPerSecond: TEST_RATE, ...o.source });
    if (o.through !== undefined) stream = o.through(stream);
    query.build(stream, sink, o.params);
    await env.execute(`nexmark ${query.name} test`);
    return sink.results;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Records as sorted JSON lines: outputs compare whatever their order. */
export const sortedJson = (xs: readonly unknown[]): string[] => xs.map((x) => JSON.stringify(x)).sort();
