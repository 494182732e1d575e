// The source contract. A source creates one reader per subtask; the task polls the reader
// between batches, which is where checkpoint barriers go, so a reader's position state always
// describes exactly the records it has emitted. A reader never blocks: with nothing to emit it
// says so and hands back a promise that resolves when it may have more.
import type { CheckpointedFunction, CheckpointListener, RuntimeContext } from './functions.js';

export type InputStatus = 'more-available' | 'nothing-available' | 'end-of-input';

export interface SourceOutput<T> {
  /** Emits a record; `timestamp` is its event time if the source knows one (a watermark strategy's assigner may set it). */
  collect(record: T, timestamp?: number): void;
}

export interface SourceReaderContext extends RuntimeContext {
  /** A good number of records to emit per poll. */
  readonly batchSize: number;
}

export interface SourceReader<T> extends Partial<CheckpointedFunction>, CheckpointListener {
  /** Called after initializeState, before the first poll. */
  start?(): void | Promise<void>;
  /** Emits some records (about `batchSize`) and says whether more may follow. Must not block. */
  pollNext(output: SourceOutput<T>): InputStatus;
  /**
   * After 'nothing-available': resolves when pollNext may have records again (a rejection fails
   * the task). The task may ask again before it settles (mails wake it); handing out the same
   * promise until it settles is fine and costs nothing per ask. Any promise-like will do (another
   * library's promise, a thenable).
   */
  isAvailable?(): PromiseLike<void>;
  close?(): void | Promise<void>;
}

export interface Source<T> {
  /** 'bounded' sources end, and with them the job; 'unbounded' ones run until cancelled. */
  readonly boundedness: 'bounded' | 'unbounded';
  /** Set to 1 for a source that cannot run in parallel (e.g. a fixed collection). */
  readonly maxParallelism?: number;
  createReader(ctx: SourceReaderContext): SourceReader<T>;
}
