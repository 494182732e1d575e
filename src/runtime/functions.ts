// The interfaces user functions implement. A function is either a plain function or an object
// (often a class instance) with the method and optional lifecycle hooks. Each subtask works on
// its own shallow copy of a function object, so fields set in `open` belong to one subtask.
import type { KeyedStateStore } from '../state/keyed-state-backend.js';
import type { OperatorStateStore } from '../state/operator-state-store.js';
import type { OutputTag } from './output-tag.js';

/** Receives the records a function emits. */
export interface Collector<T> {
  collect(record: T): void;
}

/** What a function can learn about where it runs, and (on a keyed stream) its keyed state. */
export interface RuntimeContext extends KeyedStateStore {
  readonly jobName: string;
  /**
   * The id of the job's run (Flink's job id): the same across its restarts, and across
   * `--resume`; a new one for a run started afresh or from a savepoint.
   */
  readonly jobId: string;
  /** The operator's id in the job graph: its uid's hash, or derived from its place in the graph. */
  readonly operatorId: string;
  readonly operatorName: string;
  readonly uid: string | undefined;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  readonly maxParallelism: number;
}

/** Optional lifecycle hooks every function object may have. */
export interface RichFunction {
  /** Called once per subtask before the first record: create state handles here. */
  open?(ctx: RuntimeContext): void | Promise<void>;
  /** Called once when the subtask ends, whether it finished or failed. */
  close?(): void | Promise<void>;
}

export interface FunctionInitializationContext {
  /** True when the job was started from a checkpoint or savepoint. */
  readonly isRestored: boolean;
  readonly operatorStateStore: OperatorStateStore;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  /**
   * When this attempt of the job (a start, a restart, a resume) was deployed, in ms since the
   * epoch: the same for every subtask of the attempt, and later for a later attempt while the
   * clock does not go back. Absent where no job deploys the function (a test calling it).
   */
  readonly attemptStartTime?: number;
}

export interface FunctionSnapshotContext {
  readonly checkpointId: number;
  readonly timestamp: number;
  /**
   * True for a savepoint: the user's snapshot, which a failover never restores, so what a sink
   * pre-commits for it must outlive a restore of an older checkpoint (`-s` may start from it
   * later). Absent or false for a checkpoint.
   */
  readonly isSavepoint?: boolean;
}

/**
 * Implemented by functions that keep operator (non-keyed) state, such as sources and sinks
 * keeping positions. `initializeState` runs before `open` (restoring, or starting empty);
 * `snapshotState` runs at every snapshot and must leave the function's list state up to date.
 */
export interface CheckpointedFunction {
  initializeState(ctx: FunctionInitializationContext): void | Promise<void>;
  /**
   * May return a promise: asynchronous pre-commit work (a sink flushing and syncing its file).
   * Records keep flowing meanwhile; the checkpoint is acknowledged only when it resolves, and
   * declined when it rejects. The list state must be up to date when the call returns.
   */
  snapshotState(ctx: FunctionSnapshotContext): void | Promise<void>;
}

/** Told when a checkpoint completed: the place to commit side effects (two-phase commit). */
export interface CheckpointListener {
  notifyCheckpointComplete?(checkpointId: number): void | Promise<void>;
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
}

type Fn<M extends string, F> = F | (RichFunction & Partial<CheckpointedFunction> & { [K in M]: F });

export type MapFunction<I, O> = Fn<'map', (value: I) => O>;
export type FilterFunction<I> = Fn<'filter', (value: I) => boolean>;
/** Emits through `out`, or returns the outputs as an iterable (an array is fastest). */
export type FlatMapFunction<I, O> = Fn<'flatMap', (value: I, out: Collector<O>) => Iterable<O> | void>;
export type KeySelector<T, K> = (value: T) => K;

export interface ProcessContext {
  /** The subtask processing the record. */
  readonly subtaskIndex: number;
  /** The event timestamp of the record (or of the firing timer), if the stream has event time. */
  timestamp(): number | undefined;
  /**
   * Emits `value` to the side output `tag` (read with `stream.getSideOutput(tag)`), with the
   * current record's timestamp. A side output nobody reads drops its records.
   */
  output<X>(tag: OutputTag<X>, value: X): void;
}

export interface KeyedProcessContext<K> extends ProcessContext {
  /** The key of the record being processed. */
  getCurrentKey(): K;
  /** Timers of the current key, and the operator's notion of time. */
  readonly timerService: TimerServiceView;
}

/**
 * Timers of a keyed function: each (key, timestamp) is one timer however often it is registered;
 * `onTimer` runs with the key set. Timers are state: they are in every checkpoint and savepoint.
 */
export interface TimerServiceView {
  /** Processing time (epoch ms) from the job's clock. */
  currentProcessingTime(): number;
  /** The operator's event-time watermark; −Infinity before the first. */
  currentWatermark(): number;
  /** Fires once the watermark reaches `timestamp`. */
  registerEventTimeTimer(timestamp: number): void;
  deleteEventTimeTimer(timestamp: number): void;
  /** Fires once processing time reaches `timestamp`. */
  registerProcessingTimeTimer(timestamp: number): void;
  deleteProcessingTimeTimer(timestamp: number): void;
}

export interface OnTimerContext<K> extends KeyedProcessContext<K> {
  /** Which kind of timer fired. */
  readonly timeDomain: 'event' | 'processing';
}

export interface ProcessFunction<I, O>
  extends RichFunction, Partial<CheckpointedFunction>, CheckpointListener {
  processElement(value: I, ctx: ProcessContext, out: Collector<O>): void;
  /** Called when the input has ended: emit anything still buffered. */
  endInput?(out: Collector<O>): void;
}

/**
 * A process function on a keyed stream: keyed state from the runtime context is scoped to the
 * key of the current record.
 * @example
 * class Counter implements KeyedProcessFunction<string, string, string> {
 *   count!: ValueState<number>;
 *   open(ctx: RuntimeContext) { this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 })); }
 *   processElement(word: string, _ctx: KeyedProcessContext<string>, out: Collector<string>) {
 *     const n = this.count.value()! + 1;
 *     this.count.update(n);
 *     out.collect(`${word},${n}`);
 *   }
 * }
 */
export interface KeyedProcessFunction<K, I, O>
  extends RichFunction, Partial<CheckpointedFunction>, CheckpointListener {
  processElement(value: I, ctx: KeyedProcessContext<K>, out: Collector<O>): void;
  /** A timer of the current key fired; what it emits carries the timer's timestamp. */
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}
