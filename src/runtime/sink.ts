// The sink contract: one writer per subtask receiving whole batches. A writer that does I/O
// returns a promise; the task waits for it before taking more input, which is how a slow sink
// backpressures the job.
import type { CheckpointedFunction, CheckpointListener, RuntimeContext } from './functions.js';

export interface SinkWriter<T> extends Partial<CheckpointedFunction>, CheckpointListener {
  /** Writes a batch. The array is the writer's to keep. */
  write(records: T[]): void | Promise<void>;
  /** Called once when the input has ended, before close: make everything written durable. */
  finish?(): void | Promise<void>;
  close?(): void | Promise<void>;
}

export interface Sink<T> {
  createWriter(ctx: RuntimeContext): SinkWriter<T> | Promise<SinkWriter<T>>;
  /** True for sinks whose writers keep state in snapshots (exactly-once sinks): they need a uid. */
  readonly stateful?: boolean;
}
