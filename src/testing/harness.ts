// Operator test harnesses (ARCHITECTURE.md §12): one operator subtask driven directly, with
// records in, output and state out, snapshot and restore, and no job, task or channel around it.
// The harness does what a task does around an operator (key scoping, error attribution, the
// per-subtask copy of the function) so that what passes here behaves the same in a job.
import { randomUUID } from 'node:crypto';
import { generatedOperatorId, operatorIdFromUid } from '../graph/operator-id.js';
import type {
  Collector,
  FilterFunction,
  FlatMapFunction,
  KeyedProcessFunction,
  KeySelector,
  MapFunction,
  ProcessFunction,
} from '../runtime/functions.js';
import { attribute } from '../runtime/operator-failure.js';
import { FilterOperator } from '../runtime/operators/filter-operator.js';
import { FlatMapOperator } from '../runtime/operators/flat-map-operator.js';
import { MapOperator } from '../runtime/operators/map-operator.js';
import { KeyedProcessOperator, ProcessOperator } from '../runtime/operators/process-operator.js';
import { ReduceOperator } from '../runtime/operators/reduce-operator.js';
import {
  WindowOperator,
  type WindowFunctionSpec,
  type WindowSettings,
} from '../runtime/operators/window-operator.js';
import { CountWindowOperator, type CountWindowFunction } from '../runtime/operators/count-window-operator.js';
import type { OutputTag } from '../runtime/output-tag.js';
import type { WindowAssigner } from '../runtime/time-window.js';
import {
  copyFunction,
  type OperatorInfo,
  type OperatorSubtaskState,
  type StreamOperator,
} from '../runtime/stream-operator.js';
import { cloneValue } from '../state/clone-value.js';
import type { MapStateDescriptor, ReduceFunction } from '../state/descriptors.js';
import { CoProcessOperator, KeyedCoProcessOperator } from '../runtime/operators/co-process-operator.js';
import {
  BroadcastProcessOperator,
  KeyedBroadcastProcessOperator,
} from '../runtime/operators/broadcast-process-operator.js';
import {
  IntervalJoinOperator,
  type IntervalJoinBounds,
  type ProcessJoinFunction,
} from '../runtime/operators/interval-join-operator.js';
import type {
  BroadcastProcessFunction,
  CoProcessFunction,
  KeyedBroadcastProcessFunction,
  KeyedCoProcessFunction,
} from '../runtime/two-input-functions.js';
import { copyKeyedSnapshot, HeapKeyedStateBackend } from '../state/keyed-state-backend.js';
import {
  DEFAULT_MAX_PARALLELISM,
  keyGroupOf,
  KeyGroupRange,
  subtaskForKeyGroup,
  type KeyGroup,
  type KeyValue,
} from '../state/key-group.js';
import type { KeyedStateSnapshot } from '../state/snapshot.js';
import { fromStateKey, toStateKey } from '../state/state-key.js';
import { StateAccessError } from '../state/state.js';
import { stateForSubtask } from './subtask-state.js';
import { TaskTime } from '../runtime/timer-service.js';

/** What `KeyedOperatorTestHarness.forWindow` sets on the window, as WindowedStream's methods do. */
export interface WindowHarnessOptions<IN> {
  readonly allowedLateness?: number;
  readonly trigger?: WindowSettings<IN>['trigger'];
  readonly evictor?: WindowSettings<IN>['evictor'];
  /** Late records go to this side output (read it with `sideOutput(tag)`) instead of being dropped. */
  readonly sideOutputLateData?: OutputTag<IN>;
}

/** Where the harnessed operator runs: which subtask of which parallelism, and its names. */
export interface HarnessOptions {
  /** Parallelism of the operator the harness is one subtask of (default 1). */
  readonly parallelism?: number;
  /** Which subtask the harness is, in `[0, parallelism)` (default 0). */
  readonly subtaskIndex?: number;
  /** The number of key groups (default 128, a job's default). */
  readonly maxParallelism?: number;
  /** The operator name errors carry (default: the DataStream API's name, e.g. 'KeyedProcess'). */
  readonly name?: string;
  readonly uid?: string;
  /** What `RuntimeContext.jobName` returns (default 'test job'). */
  readonly jobName?: string;
  /** Processing time at the start, in epoch ms (default 0); move it with `setProcessingTime`. */
  readonly processingTime?: number;
}

/**
 * Where a harness is in the operator lifecycle. Calling a method in a phase that does not allow
 * it throws a HarnessLifecycleError, because a job would never make that call.
 */
export type HarnessPhase =
  /** Built; `open()` or `restore()` comes next. */
  | 'created'
  /** initializeState and open ran: takes records, snapshots, checkpoint notifications. */
  | 'open'
  /** `endInput()` ran: no more records; snapshots are still allowed. */
  | 'finished'
  /** initializeState or open threw: only `close()` remains, as in a job. */
  | 'failed'
  /** `close()` ran; state and output stay readable. */
  | 'closed';

/** A harness method was called in a phase of the lifecycle where a job never calls it. */
export class HarnessLifecycleError extends Error {
  override readonly name = 'HarnessLifecycleError';
}

/**
 * A keyed harness was given a record whose key group belongs to another subtask: in a job the
 * record would be sent there, so processing it here would test something that cannot happen.
 */
export class KeyNotOwnedError extends Error {
  override readonly name = 'KeyNotOwnedError';
  constructor(
    readonly key: unknown,
    readonly keyGroup: KeyGroup,
    /** The subtask index (of the harness's parallelism) that owns `keyGroup`. */
    readonly owningSubtask: number,
    readonly harnessSubtask: number,
    readonly range: KeyGroupRange,
  ) {
    super(
      `the record's key ${formatKey(key)} is in key group ${keyGroup}, which subtask index ${owningSubtask} owns; ` +
        `this harness is subtask index ${harnessSubtask} (key groups ${range}) and would never receive it in a job. ` +
        `Send it to a harness with subtaskIndex: ${owningSubtask}, or use parallelism 1`,
    );
  }
}

interface CompiledOptions {
  readonly info: OperatorInfo;
  readonly range: KeyGroupRange;
  readonly processingTime: number;
}

function compile(options: HarnessOptions, defaultName: string): CompiledOptions {
  const parallelism = options.parallelism ?? 1;
  const subtaskIndex = options.subtaskIndex ?? 0;
  const maxParallelism = options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
  // Validates all three, with the same messages a job gives.
  const range = KeyGroupRange.forSubtask(subtaskIndex, parallelism, maxParallelism);
  const uid = options.uid;
  const processingTime = options.processingTime ?? 0;
  if (!Number.isFinite(processingTime)) throw new RangeError('processingTime must be a number of epoch ms');
  return {
    range,
    processingTime,
    info: {
      name: options.name ?? defaultName,
      uid,
      operatorId: uid === undefined ? generatedOperatorId(0, []) : operatorIdFromUid(uid),
      subtaskIndex,
      parallelism,
      maxParallelism,
      jobName: options.jobName ?? 'test job',
      jobId: randomUUID(), // each harness a run of its own
    },
  };
}

/** What a side output captured: its records and their event timestamps, in order. */
interface CapturedSideOutput {
  readonly records: unknown[];
  readonly timestamps: Array<number | undefined>;
}

/**
 * The operator's side-output consumers: one for every tag it emits to. In a job a tag nobody
 * reads is dropped; here every tag is read, so a test sees what the operator emitted whatever it
 * asks for, and a test that asks for a tag the operator never used gets nothing, not an error.
 */
class CapturingSideOutputs extends Map<string, Collector<unknown>> {
  readonly captured = new Map<string, CapturedSideOutput>();
  constructor(private readonly time: TaskTime) {
    super();
  }
  override get(id: string): Collector<unknown> {
    let c = super.get(id);
    if (c === undefined) {
      const out: CapturedSideOutput = { records: [], timestamps: [] };
      this.captured.set(id, out);
      c = {
        collect: (record) => {
          out.records.push(record);
          out.timestamps.push(this.time.timestamp);
        },
      };
      this.set(id, c);
    }
    return c;
  }
}

/** What both harnesses share: the lifecycle, the output, snapshots and operator state. */
abstract class HarnessBase<IN, OUT, IN2 = never> {
  private currentPhase: HarnessPhase = 'created';
  private emitted: OUT[] = [];
  private emittedTimestamps: Array<number | undefined> = [];
  private emittedWatermarks: number[] = [];
  private now: number;
  protected readonly info: OperatorInfo;
  /** The operator's time: the harness sets each record's timestamp and the processing time. */
  private readonly time: TaskTime;

  protected constructor(
    protected readonly operator: StreamOperator<IN, OUT>,
    compiled: CompiledOptions,
    keyedBackend: HeapKeyedStateBackend | undefined,
  ) {
    this.info = compiled.info;
    this.now = compiled.processingTime;
    this.time = new TaskTime({ now: () => this.now });
    const collector: Collector<OUT> = {
      collect: (record) => {
        this.emitted.push(record);
        this.emittedTimestamps.push(this.time.timestamp);
      },
    };
    operator.setup(compiled.info, collector, keyedBackend, this.time);
    operator.watermarkOutput = (w) => void this.emittedWatermarks.push(w);
    this.sideOutputs = new CapturingSideOutputs(this.time);
    operator.sideOutputs = this.sideOutputs;
  }

  private readonly sideOutputs: CapturingSideOutputs;

  /**
   * The records the operator emitted to the side output `tag` so far (late records of a window,
   * records a process function split off), in order; empty when it emitted none.
   * @example
   * const late = new OutputTag<Ev>('late');
   * const h = KeyedOperatorTestHarness.forWindow(assigner, fn, byKey, { sideOutputLateData: late });
   * // … records and watermarks …
   * expect(h.sideOutput(late)).toEqual([lateEvent]);
   */
  sideOutput<T>(tag: OutputTag<T>): readonly T[] {
    return (this.sideOutputs.captured.get(tag.id)?.records ?? []) as T[];
  }

  /** The event timestamps of `sideOutput(tag)`, one per record. */
  sideOutputTimestamps(tag: OutputTag<unknown>): readonly (number | undefined)[] {
    return this.sideOutputs.captured.get(tag.id)?.timestamps ?? [];
  }

  /** The event timestamps of `output`, one per record (undefined where the record has none). */
  get outputTimestamps(): readonly (number | undefined)[] {
    return this.emittedTimestamps;
  }

  /** The watermarks the operator passed on, in order. */
  get watermarks(): readonly number[] {
    return this.emittedWatermarks;
  }

  /** Event time advances to `watermark`: due event-time timers fire (and windows close). */
  processWatermark(watermark: number): void {
    this.expectPhase('processWatermark()', 'open', 'finished');
    try {
      this.operator.processWatermark(watermark);
    } catch (e) {
      throw attribute(e, this.info, 'onTimer');
    } finally {
      this.operator.keyedBackend?.clearCurrentKey();
    }
  }

  /** Processing time moves to `now` (it never goes back): due processing-time timers fire. */
  setProcessingTime(now: number): void {
    // Not after endInput(): a task drops its processing-time timers at the end of its input.
    this.expectPhase('setProcessingTime()', 'open');
    if (now < this.now) throw new RangeError(`processing time cannot go back from ${this.now} to ${now}`);
    this.now = now;
    try {
      this.operator.advanceProcessingTime(now);
    } catch (e) {
      throw attribute(e, this.info, 'onTimer');
    } finally {
      this.operator.keyedBackend?.clearCurrentKey();
    }
  }

  get phase(): HarnessPhase {
    return this.currentPhase;
  }

  get name(): string {
    return this.info.name;
  }

  get subtaskIndex(): number {
    return this.info.subtaskIndex;
  }

  get parallelism(): number {
    return this.info.parallelism;
  }

  get maxParallelism(): number {
    return this.info.maxParallelism;
  }

  /** Everything emitted so far, in order (since the last `takeOutput()`). */
  get output(): readonly OUT[] {
    return this.emitted;
  }

  /** Returns the output so far and starts a new one, to check the effect of the next records alone. */
  takeOutput(): OUT[] {
    const out = this.emitted;
    this.emitted = [];
    this.emittedTimestamps = [];
    return out;
  }

  /**
   * Runs initializeState (from `restored`, the state of exactly this subtask, or empty) and open.
   * To restore from the snapshots of all subtasks of an earlier run, use `restore`.
   */
  async open(restored?: OperatorSubtaskState): Promise<void> {
    this.expectPhase('open()', 'created');
    // A job closes every operator whose open was attempted, so close() must stay allowed.
    this.currentPhase = 'failed';
    await this.guard('initializeState', () => this.operator.initializeState(restored));
    await this.guard('open', () => this.operator.open());
    this.currentPhase = 'open';
  }

  /**
   * Opens from the snapshots of every subtask of an earlier run (in subtask order, at any
   * parallelism), giving this subtask what a restore in a job gives it: the keyed state of its
   * key groups and its share of the operator list state.
   */
  async restore(snapshots: readonly OperatorSubtaskState[]): Promise<void> {
    this.expectPhase('restore()', 'created');
    // A copy: the operator takes the restored state as its own, and a test may restore one
    // snapshot into several harnesses.
    const { keyed, ...rest } = stateForSubtask(snapshots, this.info.parallelism, this.info.subtaskIndex);
    await this.open({
      ...cloneValue(rest),
      keyed: keyed === undefined ? undefined : copyKeyedSnapshot(keyed),
    });
  }

  /**
   * Processes one record, with its event timestamp if the stream has event time. A user-function
   * error is thrown as an OperatorFailure naming the operator.
   */
  processElement(record: IN, timestamp?: number): void {
    this.expectPhase('processElement()', 'open');
    this.recordTimestamp = timestamp;
    this.processRecord(record);
  }

  /**
   * Two-input operators: processes one record of the second input (the broadcast side of a
   * broadcast process function), with its event timestamp if the stream has event time.
   */
  processElement2(record: IN2, timestamp?: number): void {
    this.expectPhase('processElement2()', 'open');
    this.recordTimestamp = timestamp;
    this.processRecord2(record);
  }

  /** The same as `processElement2`, named for broadcast process functions. */
  processBroadcastElement(record: IN2, timestamp?: number): void {
    this.processElement2(record, timestamp);
  }

  processElements(records: Iterable<IN>): void {
    this.expectPhase('processElements()', 'open');
    this.recordTimestamp = undefined;
    for (const r of records) this.processRecord(r);
  }

  /** Ends the input: the operator emits what it buffered (ProcessFunction.endInput). */
  async endInput(): Promise<void> {
    this.expectPhase('endInput()', 'open');
    await this.guard('finish', () => this.operator.finish());
    this.currentPhase = 'finished';
  }

  /** Takes a snapshot as a checkpoint would: the function's snapshotState runs first. */
  snapshot(checkpointId: number, timestamp = 0): OperatorSubtaskState {
    this.expectPhase('snapshot()', 'open', 'finished');
    try {
      return this.operator.snapshotState(checkpointId, timestamp);
    } catch (e) {
      throw attribute(e, this.info, 'snapshotState');
    }
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    this.expectPhase('notifyCheckpointComplete()', 'open', 'finished');
    await this.guard('notifyCheckpointComplete', () => this.operator.notifyCheckpointComplete(checkpointId));
  }

  /** Closes the function; does nothing when it was never opened or is closed already. */
  async close(): Promise<void> {
    const was = this.currentPhase;
    this.currentPhase = 'closed';
    if (was === 'created' || was === 'closed') return;
    await this.guard('close', () => this.operator.close());
  }

  /**
   * A detached copy of the entries of one operator list state, as the function last left them
   * (take a `snapshot()` first to see what its snapshotState writes).
   */
  operatorState<T = unknown>(name: string): T[] {
    const states = this.operator.operatorState.snapshot().states;
    const st = states.find((s) => s.name === name);
    if (st === undefined) {
      throw new StateAccessError(
        `operator '${this.info.name}' has no operator state named '${name}'; it has ${listNames(states)}`,
      );
    }
    return st.entries as T[];
  }

  /** The event timestamp the next records carry (undefined: none), as a source would give them. */
  protected recordTimestamp: number | undefined;

  protected processRecord(record: IN): void {
    this.time.timestamp = this.recordTimestamp;
    try {
      this.operator.processElement(record);
    } catch (e) {
      throw attribute(e, this.info, 'processElement');
    } finally {
      this.time.timestamp = undefined;
    }
  }

  protected processRecord2(record: IN2): void {
    this.time.timestamp = this.recordTimestamp;
    try {
      this.operator.processElement2(record);
    } catch (e) {
      throw attribute(e, this.info, 'processElement2');
    } finally {
      this.time.timestamp = undefined;
    }
  }

  private expectPhase(call: string, ...allowed: HarnessPhase[]): void {
    const phase = this.currentPhase;
    if (allowed.includes(phase)) return;
    const hint: Record<HarnessPhase, string> = {
      created: 'call open() or restore() first',
      open: 'the harness is open already',
      finished: 'endInput() was called',
      failed: 'initializeState or open failed; only close() is allowed',
      closed: 'the harness is closed',
    };
    throw new HarnessLifecycleError(
      `${call} is not allowed in phase '${phase}' of operator '${this.info.name}': ${hint[phase]}`,
    );
  }

  private async guard(phase: string, action: () => void | Promise<void>): Promise<void> {
    try {
      await action();
    } catch (e) {
      throw attribute(e, this.info, phase);
    }
  }
}

/**
 * Drives one non-keyed operator: a process, map, flatMap or filter function, with operator state
 * through `initializeState`/`snapshotState`.
 * @example
 * const h = OperatorTestHarness.forMap((s: string) => s.length);
 * await h.open();
 * h.processElements(['a', 'bcd']);
 * expect(h.output).toEqual([1, 3]);
 * await h.close();
 */
export class OperatorTestHarness<IN, OUT, IN2 = never> extends HarnessBase<IN, OUT, IN2> {
  private constructor(operator: StreamOperator<IN, OUT>, defaultName: string, options: HarnessOptions) {
    super(operator, compile(options, defaultName), undefined);
  }

  /** The function is copied as each subtask of a job copies it; `fn` itself is not opened. */
  static forProcessFunction<IN, OUT>(
    fn: ProcessFunction<IN, OUT>,
    options: HarnessOptions = {},
  ): OperatorTestHarness<IN, OUT> {
    return new OperatorTestHarness(new ProcessOperator(copyFunction(fn)), 'Process', options);
  }

  static forMap<IN, OUT>(
    fn: MapFunction<IN, OUT>,
    options: HarnessOptions = {},
  ): OperatorTestHarness<IN, OUT> {
    return new OperatorTestHarness(new MapOperator(copyFunction(fn)), 'Map', options);
  }

  static forFlatMap<IN, OUT>(
    fn: FlatMapFunction<IN, OUT>,
    options: HarnessOptions = {},
  ): OperatorTestHarness<IN, OUT> {
    return new OperatorTestHarness(new FlatMapOperator(copyFunction(fn)), 'FlatMap', options);
  }

  static forFilter<T>(fn: FilterFunction<T>, options: HarnessOptions = {}): OperatorTestHarness<T, T> {
    return new OperatorTestHarness(new FilterOperator(copyFunction(fn)), 'Filter', options);
  }

  /** Connected (non-keyed) streams: `processElement` feeds input 1, `processElement2` input 2. */
  static forCoProcessFunction<I1, I2, OUT>(
    fn: CoProcessFunction<I1, I2, OUT>,
    options: HarnessOptions = {},
  ): OperatorTestHarness<I1, OUT, I2> {
    return new OperatorTestHarness<I1, OUT, I2>(
      new CoProcessOperator<I1, I2, OUT>(copyFunction(fn)),
      'CoProcess',
      options,
    );
  }

  /**
   * A stream connected to a broadcast stream with the broadcast states `descriptors`:
   * `processElement` for the stream, `processBroadcastElement` for the broadcast side.
   */
  static forBroadcastProcessFunction<IN, BC, OUT>(
    fn: BroadcastProcessFunction<IN, BC, OUT>,
    descriptors: readonly MapStateDescriptor<any, any>[],
    options: HarnessOptions = {},
  ): OperatorTestHarness<IN, OUT, BC> {
    return new OperatorTestHarness<IN, OUT, BC>(
      new BroadcastProcessOperator<IN, BC, OUT>(copyFunction(fn), descriptors),
      'BroadcastProcess',
      options,
    );
  }
}

/**
 * Drives one keyed operator (a keyed process function or a rolling reduce) as one subtask of a
 * keyed stream: each record's key is taken with the key selector and its keyed state scoped to
 * it, as after `keyBy`. Keyed state is readable per state name; snapshots restore at any
 * parallelism, each subtask getting exactly the key groups it owns.
 *
 * Records must belong to the harness's key groups (a KeyNotOwnedError otherwise), errors from
 * the function or the key selector are OperatorFailures naming the operator, and keyed state
 * used outside `processElement` throws a StateAccessError, as the state contract says.
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
 *
 * const h = KeyedOperatorTestHarness.forProcessFunction(new Counter(), (w: string) => w);
 * await h.open();
 * h.processElements(['a', 'b', 'a']);
 * expect(h.output).toEqual(['a,1', 'b,1', 'a,2']);
 * expect(h.state<number>('count')).toEqual(new Map([['a', 2], ['b', 1]]));
 * const snapshot = h.snapshot(1);
 * await h.close();
 *
 * // The same state at parallelism 2: each subtask restores the keys of its key groups.
 * const right = KeyedOperatorTestHarness.forProcessFunction(new Counter(), (w: string) => w, { parallelism: 2, subtaskIndex: 1 });
 * await right.restore([snapshot]);
 */
export class KeyedOperatorTestHarness<K extends KeyValue, IN, OUT, IN2 = never> extends HarnessBase<
  IN,
  OUT,
  IN2
> {
  /** The key groups this subtask owns. */
  readonly keyGroupRange: KeyGroupRange;
  private readonly backend: HeapKeyedStateBackend;

  private constructor(
    operator: StreamOperator<IN, OUT>,
    private readonly keySelector: KeySelector<IN, K>,
    defaultName: string,
    options: HarnessOptions,
    /** Two-input operators: the second input's key; undefined for a broadcast (unkeyed) second input. */
    private readonly keySelector2?: KeySelector<IN2, K>,
  ) {
    if (typeof keySelector !== 'function')
      throw new TypeError('a keyed harness needs a key selector function, e.g. (r) => r.id');
    const compiled = compile(options, defaultName);
    const backend = new HeapKeyedStateBackend(compiled.range, compiled.info.maxParallelism);
    super(operator, compiled, backend);
    this.backend = backend;
    this.keyGroupRange = compiled.range;
  }

  /** The function is copied as each subtask of a job copies it; `fn` itself is not opened. */
  static forProcessFunction<K extends KeyValue, IN, OUT>(
    fn: KeyedProcessFunction<K, IN, OUT>,
    keySelector: KeySelector<IN, K>,
    options: HarnessOptions = {},
  ): KeyedOperatorTestHarness<K, IN, OUT> {
    return new KeyedOperatorTestHarness(
      new KeyedProcessOperator(copyFunction(fn)),
      keySelector,
      'KeyedProcess',
      options,
    );
  }

  /**
   * Two keyed streams connected (`a.keyBy(key1).connect(b.keyBy(key2)).process(fn)`):
   * `processElement` feeds input 1 and `processElement2` input 2, each keyed by its selector.
   */
  static forKeyedCoProcessFunction<K extends KeyValue, I1, I2, OUT>(
    fn: KeyedCoProcessFunction<K, I1, I2, OUT>,
    key1: KeySelector<I1, K>,
    key2: KeySelector<I2, K>,
    options: HarnessOptions = {},
  ): KeyedOperatorTestHarness<K, I1, OUT, I2> {
    if (typeof key2 !== 'function')
      throw new TypeError('forKeyedCoProcessFunction needs a key selector per input');
    return new KeyedOperatorTestHarness<K, I1, OUT, I2>(
      new KeyedCoProcessOperator<K, I1, I2, OUT>(copyFunction(fn)),
      key1,
      'KeyedCoProcess',
      options,
      key2,
    );
  }

  /**
   * A keyed stream connected to a broadcast stream: `processElement` for the keyed side,
   * `processBroadcastElement` for the broadcast side (outside any key, as in a job).
   */
  static forKeyedBroadcastProcessFunction<K extends KeyValue, IN, BC, OUT>(
    fn: KeyedBroadcastProcessFunction<K, IN, BC, OUT>,
    key: KeySelector<IN, K>,
    descriptors: readonly MapStateDescriptor<any, any>[],
    options: HarnessOptions = {},
  ): KeyedOperatorTestHarness<K, IN, OUT, BC> {
    return new KeyedOperatorTestHarness<K, IN, OUT, BC>(
      new KeyedBroadcastProcessOperator<K, IN, BC, OUT>(copyFunction(fn), descriptors),
      key,
      'KeyedBroadcastProcess',
      options,
    );
  }

  /**
   * An interval join (`left.keyBy(key1).intervalJoin(right.keyBy(key2)).between(lower, upper)`):
   * `processElement(left, t)` and `processElement2(right, t)` with timestamps.
   */
  static forIntervalJoin<K extends KeyValue, L, R, OUT>(
    fn: ProcessJoinFunction<L, R, OUT>,
    bounds: IntervalJoinBounds,
    key1: KeySelector<L, K>,
    key2: KeySelector<R, K>,
    options: HarnessOptions & {
      sideOutputLeftLateData?: OutputTag<L>;
      sideOutputRightLateData?: OutputTag<R>;
    } = {},
  ): KeyedOperatorTestHarness<K, L, OUT, R> {
    if (typeof key2 !== 'function') throw new TypeError('forIntervalJoin needs a key selector per input');
    return new KeyedOperatorTestHarness<K, L, OUT, R>(
      new IntervalJoinOperator<L, R, OUT>(copyFunction(fn), bounds, {
        left: options.sideOutputLeftLateData,
        right: options.sideOutputRightLateData,
      }),
      key1,
      'IntervalJoin',
      options,
      key2,
    );
  }

  /**
   * A window operator (`keyBy(...).window(assigner)` with reduce, aggregate or process). Feed
   * records with their timestamps (`processElement(r, t)`) and move event time with
   * `processWatermark`, processing time with `setProcessingTime`.
   */
  static forWindow<K extends KeyValue, IN, OUT>(
    assigner: WindowAssigner,
    fn: WindowFunctionSpec<IN, OUT, K>,
    keySelector: KeySelector<IN, K>,
    options: HarnessOptions & WindowHarnessOptions<IN> = {},
  ): KeyedOperatorTestHarness<K, IN, OUT> {
    const settings: WindowSettings<IN> = {
      allowedLateness: options.allowedLateness ?? 0,
      trigger: options.trigger,
      evictor: options.evictor,
      lateDataTag: options.sideOutputLateData,
    };
    return new KeyedOperatorTestHarness(
      new WindowOperator<K, IN, OUT>(assigner, fn, settings),
      keySelector,
      'Window',
      options,
    );
  }

  /**
   * A count window (`keyBy(...).countWindow(size)`, or `countWindow(size, slide)` with
   * `options.slide`) with a reduce or aggregate function.
   */
  static forCountWindow<K extends KeyValue, IN, OUT>(
    size: number,
    fn: CountWindowFunction<IN>,
    keySelector: KeySelector<IN, K>,
    options: HarnessOptions & { slide?: number } = {},
  ): KeyedOperatorTestHarness<K, IN, OUT> {
    return new KeyedOperatorTestHarness(
      new CountWindowOperator<IN, OUT>(size, fn, options.slide ?? size),
      keySelector,
      'CountWindow',
      options,
    );
  }

  /**
   * Window operators: records dropped as too late for every window (those sent to a late-data
   * side output are not counted); interval joins: records behind the watermark; 0 for others.
   */
  get lateRecordsDropped(): number {
    const op = this.operator;
    return op instanceof WindowOperator || op instanceof IntervalJoinOperator ? op.lateRecordsDropped : 0;
  }

  /** A rolling reduce (`keyBy(...).reduce(fn)`): emits the reduced value after every record. */
  static forReduce<T, K extends KeyValue>(
    fn: ReduceFunction<T>,
    keySelector: KeySelector<T, K>,
    options: HarnessOptions = {},
  ): KeyedOperatorTestHarness<K, T, T> {
    return new KeyedOperatorTestHarness(new ReduceOperator<T>(fn), keySelector, 'Reduce', options);
  }

  /** The subtask index (of the harness's parallelism) that a job would send `key` to. */
  subtaskFor(key: K): number {
    return subtaskForKeyGroup(
      keyGroupOf(key, this.info.maxParallelism),
      this.info.parallelism,
      this.info.maxParallelism,
    );
  }

  /** True when records with `key` belong to this subtask. */
  ownsKey(key: K): boolean {
    return this.keyGroupRange.contains(keyGroupOf(key, this.info.maxParallelism));
  }

  /** Names of the keyed states registered so far (including restored ones). */
  stateNames(): string[] {
    return this.backend.stateNames();
  }

  /**
   * Every key's stored value of one keyed state, as detached copies: a list state's array, a map
   * state's Map, the accumulator of an aggregating state. Keys with nothing stored are absent (a
   * value state's default is not stored). Array keys are new arrays, so look them up with `stateFor`.
   */
  state<V = unknown>(name: string): Map<K, V> {
    const st = this.stateSnapshot(name);
    const out = new Map<K, V>();
    for (const kg of st.keyGroups)
      for (const [k, v] of kg.entries) out.set(fromStateKey(k) as K, decodeValue(st.kind, v) as V);
    return out;
  }

  /** The stored value of one keyed state for one key (a detached copy), or undefined. */
  stateFor<V = unknown>(name: string, key: K): V | undefined {
    const st = this.stateSnapshot(name);
    const keyGroup = keyGroupOf(key, this.info.maxParallelism);
    const stateKey = toStateKey(key);
    for (const kg of st.keyGroups) {
      if (kg.keyGroup !== keyGroup) continue;
      for (const [k, v] of kg.entries) if (sameValueZero(k, stateKey)) return decodeValue(st.kind, v) as V;
    }
    return undefined;
  }

  protected override processRecord(record: IN): void {
    this.setKeyOf(record, this.keySelector);
    try {
      super.processRecord(record);
    } finally {
      // Keyed state has no key outside processElement; leaving the last one set would let a
      // test pass that reads state in close() or endInput().
      this.backend.clearCurrentKey();
    }
  }

  protected override processRecord2(record: IN2): void {
    if (this.keySelector2 !== undefined) this.setKeyOf(record, this.keySelector2);
    else this.backend.clearCurrentKey(); // a broadcast input has no key
    try {
      super.processRecord2(record);
    } finally {
      this.backend.clearCurrentKey();
    }
  }

  private setKeyOf<R>(record: R, selector: KeySelector<R, K>): void {
    let key: unknown;
    let keyGroup: KeyGroup;
    try {
      key = selector(record);
      keyGroup = keyGroupOf(key, this.info.maxParallelism);
    } catch (e) {
      // In a job the key is taken by the sender, and attributed to this operator the same way.
      throw attribute(e, this.info, 'its key selector');
    }
    if (!this.keyGroupRange.contains(keyGroup)) {
      const owner = subtaskForKeyGroup(keyGroup, this.info.parallelism, this.info.maxParallelism);
      throw new KeyNotOwnedError(key, keyGroup, owner, this.info.subtaskIndex, this.keyGroupRange);
    }
    this.backend.setCurrentKey(key, keyGroup);
  }

  private stateSnapshot(name: string): KeyedStateSnapshot['states'][number] {
    const states = this.backend.snapshot().states;
    const st = states.find((s) => s.name === name);
    if (st === undefined) {
      throw new StateAccessError(
        `operator '${this.info.name}' has no keyed state named '${name}' (yet); it has ${listNames(states)}. ` +
          'State exists once the function asks for it (usually in open) or once it is restored',
      );
    }
    return st;
  }
}

function decodeValue(kind: KeyedStateSnapshot['states'][number]['kind'], value: unknown): unknown {
  if (kind !== 'map') return value;
  const out = new Map<unknown, unknown>();
  for (const [k, v] of value as Map<unknown, unknown>) out.set(fromStateKey(k), v);
  return out;
}

function sameValueZero(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

function listNames(states: ReadonlyArray<{ name: string }>): string {
  return states.length === 0 ? 'none' : states.map((s) => `'${s.name}'`).join(', ');
}

function formatKey(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'bigint') return `${key}n`;
  if (Array.isArray(key)) return `[${key.map(formatKey).join(', ')}]`;
  return Object.is(key, -0) ? '-0' : String(key);
}
