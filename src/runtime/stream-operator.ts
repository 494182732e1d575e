// The base of every operator in a chain: wires the output, the state stores and the lifecycle of
// the user function (initializeState → open → records → finish → close), and snapshots state.
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../state/descriptors.js';
import type { HeapKeyedStateBackend, KeyedStateCapture } from '../state/keyed-state-backend.js';
import { OperatorStateStore } from '../state/operator-state-store.js';
import type { KeyedStateSnapshot, OperatorStateSnapshot } from '../state/snapshot.js';
import { StateAccessError } from '../state/state.js';
import type {
  CheckpointedFunction,
  CheckpointListener,
  Collector,
  RichFunction,
  RuntimeContext,
} from './functions.js';
import type { OperatorIdentity } from './operator-failure.js';
import {
  TaskTime,
  TimerService,
  type RestoredTimers,
  type TimeDomain,
  type TimerCapture,
} from './timer-service.js';
import { fromStateKey } from '../state/state-key.js';
import type { OutputTag } from './output-tag.js';

export interface OperatorInfo extends OperatorIdentity {
  readonly jobName: string;
  readonly jobId: string;
  readonly operatorId: string;
  readonly maxParallelism: number;
  /** When this attempt of the job was deployed (ms since the epoch), the same for all its tasks. */
  readonly attemptStartTime?: number;
}

/** The state one operator subtask hands to a snapshot and gets back on restore. */
export interface OperatorSubtaskState {
  keyed?: KeyedStateSnapshot | undefined;
  operator?: OperatorStateSnapshot | undefined;
  /** Timers of the key groups this subtask restores (any key groups: others are skipped). */
  timers?: readonly RestoredTimers[] | undefined;
}

/**
 * What one operator hands to a checkpoint in the synchronous part: a copy-on-write capture of
 * its keyed state, a copy of its operator state, and the asynchronous pre-commit work of its
 * function (a sink flushing), which the checkpoint waits for before it is acknowledged.
 */
export interface OperatorSnapshotParts {
  readonly operatorId: string;
  readonly keyed: KeyedStateCapture | undefined;
  readonly timers?: TimerCapture | undefined;
  readonly operator: OperatorStateSnapshot;
  readonly pending: Promise<void> | undefined;
}

type UserFunction = Partial<RichFunction & CheckpointedFunction & CheckpointListener>;

export abstract class StreamOperator<IN = unknown, OUT = unknown> {
  output!: Collector<OUT>;
  info!: OperatorInfo;
  keyedBackend: HeapKeyedStateBackend | undefined;
  readonly operatorState = new OperatorStateStore();
  private runtimeContext: RuntimeContext | undefined;
  /** Shared by the operators of a task: the current record's timestamp, processing time. */
  time: TaskTime = new TaskTime();
  /** Timers of keyed operators (per key group, like keyed state). */
  timers: TimerService | undefined;
  /** The largest watermark this operator has processed. */
  currentWatermark = Number.NEGATIVE_INFINITY;
  /** Consumers of this operator's side outputs, by tag id; a tag nobody reads is absent. */
  sideOutputs: ReadonlyMap<string, Collector<unknown>> = new Map();
  /** Where watermarks go after this operator: the next operator of the chain, or the task's outputs. */
  watermarkOutput: (watermark: number) => void = () => undefined;

  /** The user's function object, whose lifecycle hooks this operator drives. */
  protected abstract get userFunction(): unknown;

  setup(
    info: OperatorInfo,
    output: Collector<OUT>,
    keyedBackend: HeapKeyedStateBackend | undefined,
    time?: TaskTime,
  ): void {
    this.info = info;
    this.output = output;
    this.keyedBackend = keyedBackend;
    if (time !== undefined) this.time = time;
    if (keyedBackend !== undefined) this.timers = new TimerService(keyedBackend.range);
    const owner = `operator '${info.name}'${info.uid === undefined ? '' : ` (uid '${info.uid}')`}`;
    this.operatorState.owner = owner;
    if (keyedBackend !== undefined) keyedBackend.owner = owner;
  }

  abstract processElement(record: IN): void;

  /** A record of the second input (two-input operators only). */
  processElement2(_record: unknown): void {
    throw new Error(`internal: operator '${this.info.name}' has one input but got a record on a second one`);
  }

  /** Emits to the side output `tag`, with the current record's timestamp; dropped when nobody reads it. */
  emitToSide<T>(tag: OutputTag<T>, record: T): void {
    this.sideOutputs.get(tag.id)?.collect(record);
  }

  /** After each input batch; returns a promise when the operator has I/O to finish (sinks). */
  endBatch(): void | Promise<void> {}

  async initializeState(restored: OperatorSubtaskState | undefined): Promise<void> {
    if (restored?.keyed !== undefined) {
      if (this.keyedBackend === undefined)
        throw new StateAccessError('keyed state was restored for an operator that is not keyed');
      // The restored state is this operator's own (the loader decoded it for this attempt): a
      // copy would double the memory of a restore.
      this.keyedBackend.restore([restored.keyed], { copy: false });
    }
    if (restored?.operator !== undefined) this.operatorState.restore(restored.operator);
    if (restored?.timers !== undefined && restored.timers.length > 0) {
      if (this.timers === undefined)
        throw new StateAccessError('timers were restored for an operator that is not keyed');
      this.timers.restore(restored.timers);
      this.requestProcessingWakeup();
    }
    const fn = this.fnObject();
    if (typeof fn?.initializeState === 'function') {
      await fn.initializeState({
        isRestored: restored !== undefined,
        operatorStateStore: this.operatorState,
        subtaskIndex: this.info.subtaskIndex,
        parallelism: this.info.parallelism,
        ...(this.info.attemptStartTime === undefined ? {} : { attemptStartTime: this.info.attemptStartTime }),
      });
    }
  }

  async open(): Promise<void> {
    const fn = this.fnObject();
    if (typeof fn?.open === 'function') await fn.open(this.getRuntimeContext());
  }

  /** End of input: emit whatever is buffered. */
  finish(): void | Promise<void> {}

  async close(): Promise<void> {
    const fn = this.fnObject();
    if (typeof fn?.close === 'function') await fn.close();
  }

  snapshotState(checkpointId: number, timestamp: number): OperatorSubtaskState {
    const fn = this.fnObject();
    if (typeof fn?.snapshotState === 'function') {
      const r: unknown = fn.snapshotState({ checkpointId, timestamp });
      if (r instanceof Promise) {
        r.catch(() => undefined);
        throw new Error(
          `operator '${this.info.name}': its snapshotState is asynchronous; take this snapshot through a checkpoint (snapshotForCheckpoint)`,
        );
      }
    }
    return {
      keyed: this.keyedBackend?.snapshot(),
      operator: this.operatorState.snapshot(),
      ...(this.timers !== undefined ? { timers: [...this.timers.entries()] } : {}),
    };
  }

  /**
   * Event time advanced to `watermark`: fires the event-time timers due, then passes the
   * watermark on, so what the timers emit precedes it downstream.
   */
  processWatermark(watermark: number): void {
    if (watermark <= this.currentWatermark) return;
    this.currentWatermark = watermark;
    if (this.timers !== undefined && this.timers.size('event') > 0)
      this.timers.advance('event', watermark, this.fireTimer);
    this.watermarkOutput(watermark);
  }

  /** Processing time reached `now`: fires the processing-time timers due. */
  advanceProcessingTime(now: number): void {
    if (this.timers === undefined || this.timers.size('processing') === 0) return;
    this.timers.advance('processing', now, this.fireTimer);
    this.requestProcessingWakeup();
  }

  /** Asks the task to wake this operator at its next processing-time timer. */
  requestProcessingWakeup(): void {
    const next = this.timers?.nextTimestamp('processing');
    if (next !== undefined) this.time.requestWakeup(next);
  }

  private readonly fireTimer = (
    domain: TimeDomain,
    stateKey: unknown,
    kgIndex: number,
    timestamp: number,
  ): void => {
    const backend = this.keyedBackend!;
    backend.setCurrentKey(fromStateKey(stateKey), backend.range.start + kgIndex);
    const saved = this.time.timestamp;
    this.time.timestamp = domain === 'event' ? timestamp : undefined;
    try {
      this.onTimer(domain, timestamp);
    } finally {
      this.time.timestamp = saved;
    }
  };

  /** A timer of the current key fired (keyed operators that use timers override this). */
  protected onTimer(_domain: TimeDomain, _timestamp: number): void {}

  /** The synchronous part of a checkpoint; `withKeyedState` false skips keyed state (a commit-only snapshot). */
  snapshotForCheckpoint(
    checkpointId: number,
    timestamp: number,
    withKeyedState = true,
    isSavepoint = false,
  ): OperatorSnapshotParts {
    const fn = this.fnObject();
    let pending: Promise<void> | undefined;
    if (typeof fn?.snapshotState === 'function') {
      const r: unknown = fn.snapshotState({ checkpointId, timestamp, isSavepoint });
      if (r instanceof Promise) pending = r;
    }
    return {
      operatorId: this.info.operatorId,
      keyed: withKeyedState ? this.keyedBackend?.capture() : undefined,
      timers:
        withKeyedState &&
        this.timers !== undefined &&
        this.timers.size('event') + this.timers.size('processing') > 0
          ? this.timers.capture()
          : undefined,
      operator: this.operatorState.snapshot(),
      pending,
    };
  }

  async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    const fn = this.fnObject();
    if (typeof fn?.notifyCheckpointAborted === 'function') await fn.notifyCheckpointAborted(checkpointId);
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    const fn = this.fnObject();
    if (typeof fn?.notifyCheckpointComplete === 'function') await fn.notifyCheckpointComplete(checkpointId);
  }

  protected fnObject(): UserFunction | undefined {
    const f = this.userFunction;
    return typeof f === 'object' && f !== null ? (f as UserFunction) : undefined;
  }

  getRuntimeContext(): RuntimeContext {
    this.runtimeContext ??= createRuntimeContext(this.info, this.keyedBackend);
    return this.runtimeContext;
  }
}

function createRuntimeContext(
  info: OperatorInfo,
  backend: HeapKeyedStateBackend | undefined,
): RuntimeContext {
  const keyed = <T>(what: string, name: string): T => {
    if (backend === undefined) {
      throw new StateAccessError(
        `operator '${info.name}' asked for keyed ${what} '${name}' but its input is not keyed; ` +
          'apply keyBy(...) before it, or use operator state through initializeState',
      );
    }
    return backend as T;
  };
  type B = HeapKeyedStateBackend;
  return {
    jobName: info.jobName,
    jobId: info.jobId,
    operatorId: info.operatorId,
    operatorName: info.name,
    uid: info.uid,
    subtaskIndex: info.subtaskIndex,
    parallelism: info.parallelism,
    maxParallelism: info.maxParallelism,
    getState: <T>(d: ValueStateDescriptor<T>) => keyed<B>('state', d.name).getState(d),
    getListState: <T>(d: ListStateDescriptor<T>) => keyed<B>('list state', d.name).getListState(d),
    getMapState: <UK, UV>(d: MapStateDescriptor<UK, UV>) => keyed<B>('map state', d.name).getMapState(d),
    getReducingState: <T>(d: ReducingStateDescriptor<T>) =>
      keyed<B>('reducing state', d.name).getReducingState(d),
    getAggregatingState: <I, A, O>(d: AggregatingStateDescriptor<I, A, O>) =>
      keyed<B>('aggregating state', d.name).getAggregatingState(d),
  };
}

/**
 * Gives a subtask its own copy of a function object (as Flink does by deserializing it), so
 * that handles stored on `this` in `open` are per subtask. Plain functions are shared.
 */
export function copyFunction<F>(fn: F): F {
  if (typeof fn !== 'object' || fn === null) return fn;
  return Object.assign(Object.create(Object.getPrototypeOf(fn) as object) as object, fn) as F;
}
