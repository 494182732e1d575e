// What a Nexmark query is: a name, a description, and a function that builds the query on the
// stream of generated events and ends it in the sink the runner chooses (a discarding sink for
// the benchmark, a collecting one in tests). Every stateful operator gets a uid.
import type { DataStream, Sink } from '../../../src/index.js';
import type { NexmarkEvent } from '../model.js';

export interface QueryParams {
  /** Window size of q5, q7, q8, q12 and the session gap of q11 (ms; default 10 000, Flink's Nexmark). */
  readonly windowMs?: number;
  /** Slide of q5's sliding windows (ms; default 2 000, Flink's Nexmark SQL). */
  readonly slideMs?: number;
}

export interface NexmarkQuery<O> {
  readonly name: string;
  readonly description: string;
  build(events: DataStream<NexmarkEvent>, sink: Sink<O>, params?: QueryParams): void;
}

export const DEFAULT_WINDOW_MS = 10_000;
export const DEFAULT_SLIDE_MS = 2_000;
