// Triggers decide when a window fires and when its contents are purged (Flink's Trigger). The
// contract and the two default triggers live here, beside the window operator that uses them;
// the other built-ins are in api/triggers.ts.
//
// A trigger's timers and state belong to one (key, window). The operator keeps both inside the
// window's entry in its `_windows` map state — the timestamps each window asked for and a record
// of named state values — so they are in every checkpoint and savepoint and move with the key on
// a rescale, and so a timer the key shares with other windows fires exactly the windows that
// registered it.
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../state/descriptors.js';
import type { AggregatingState, ListState, ReducingState, ValueState } from '../state/state.js';
import { maxTimestamp, type TimeWindow } from './time-window.js';
import type { TimeDomain } from './timer-service.js';

/**
 * What a trigger asks of its window: CONTINUE (nothing), FIRE (emit the window's result, keep
 * its contents), PURGE (drop the contents without emitting), FIRE_AND_PURGE (both).
 */
export type TriggerResult = 'CONTINUE' | 'FIRE' | 'PURGE' | 'FIRE_AND_PURGE';
export const TriggerResult = {
  CONTINUE: 'CONTINUE',
  FIRE: 'FIRE',
  PURGE: 'PURGE',
  FIRE_AND_PURGE: 'FIRE_AND_PURGE',
} as const satisfies Record<TriggerResult, TriggerResult>;

/** The state descriptors a trigger may use per window. */
export type TriggerStateDescriptor =
  | ValueStateDescriptor<any>
  | ListStateDescriptor<any>
  | ReducingStateDescriptor<any>
  | AggregatingStateDescriptor<any, any, any>;

/** What a trigger can do while it is called for one window of one key. */
export interface TriggerContext {
  /** The operator's watermark. */
  currentWatermark(): number;
  currentProcessingTime(): number;
  /** Calls `onEventTime(time, window)` once the watermark reaches `time`; once per window and time. */
  registerEventTimeTimer(time: number): void;
  /** Calls `onProcessingTime(time, window)` once the clock reaches `time`. */
  registerProcessingTimeTimer(time: number): void;
  deleteEventTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
  /**
   * State of this key and this window, under the descriptor's name; it is in checkpoints and goes
   * away when the window is cleaned up (clear it yourself in `clear`, as in Flink, to be safe).
   */
  getPartitionedState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getPartitionedState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getPartitionedState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getPartitionedState<IN, ACC, OUT>(
    descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  ): AggregatingState<IN, OUT>;
}

/** The context of `onMerge`: the state it reads is the merged window's. */
export interface OnMergeContext extends TriggerContext {
  /**
   * Folds this state of every window being merged into the merged window's (reducing state with
   * its reduce function, aggregating state with the aggregate's `merge`, list state by
   * concatenation; value state cannot be merged).
   */
  mergePartitionedState(descriptor: TriggerStateDescriptor): void;
}

/**
 * Decides when a window fires. Every call is for one window of the current key; keep what you
 * need to remember in `ctx.getPartitionedState(...)`, not on `this` (one trigger object serves
 * every key and window).
 * @example
 * // Fires every 100 records of a window and when the window ends.
 * const everyHundred: Trigger<Event> = {
 *   onElement(_e, _t, window, ctx) {
 *     ctx.registerEventTimeTimer(window.end - 1);
 *     const n = ctx.getPartitionedState(new ReducingStateDescriptor<number>('n', (a, b) => a + b));
 *     n.add(1);
 *     if (n.get()! % 100 === 0) return TriggerResult.FIRE;
 *     return TriggerResult.CONTINUE;
 *   },
 *   onEventTime: (time, window) => (time === window.end - 1 ? TriggerResult.FIRE : TriggerResult.CONTINUE),
 *   onProcessingTime: () => TriggerResult.CONTINUE,
 *   clear(window, ctx) {
 *     ctx.deleteEventTimeTimer(window.end - 1);
 *     ctx.getPartitionedState(new ReducingStateDescriptor<number>('n', (a, b) => a + b)).clear();
 *   },
 * };
 */
export interface Trigger<T = unknown> {
  /** A record was added to `window`; `timestamp` is its event timestamp (undefined when it has none). */
  onElement(
    element: T,
    timestamp: number | undefined,
    window: TimeWindow,
    ctx: TriggerContext,
  ): TriggerResult;
  /** An event-time timer this window registered fired. */
  onEventTime(time: number, window: TimeWindow, ctx: TriggerContext): TriggerResult;
  /** A processing-time timer this window registered fired. */
  onProcessingTime(time: number, window: TimeWindow, ctx: TriggerContext): TriggerResult;
  /** True when the trigger works with merging (session) windows: it has `onMerge`. Absent: false. */
  canMerge?(): boolean;
  /** Windows were merged into `window`: take over their state and register the timers it needs. */
  onMerge?(window: TimeWindow, ctx: OnMergeContext): void;
  /** The window is cleaned up (or merged away): delete its timers and clear its state. */
  clear(window: TimeWindow, ctx: TriggerContext): void;
  /** For messages and the job graph. */
  describe?(): string;
}

/**
 * Fires once when the watermark passes the window's end, and again for every late record within
 * the allowed lateness: the default of event-time windows.
 */
export class EventTimeTrigger implements Trigger {
  private static readonly instance = new EventTimeTrigger();
  private constructor() {}
  static create(): EventTimeTrigger {
    return EventTimeTrigger.instance;
  }
  onElement(_e: unknown, _t: number | undefined, window: TimeWindow, ctx: TriggerContext): TriggerResult {
    if (maxTimestamp(window) <= ctx.currentWatermark()) return 'FIRE'; // late, within the allowed lateness
    ctx.registerEventTimeTimer(maxTimestamp(window));
    return 'CONTINUE';
  }
  onEventTime(time: number, window: TimeWindow): TriggerResult {
    return time === maxTimestamp(window) ? 'FIRE' : 'CONTINUE';
  }
  onProcessingTime(): TriggerResult {
    return 'CONTINUE';
  }
  canMerge(): boolean {
    return true;
  }
  onMerge(window: TimeWindow, ctx: OnMergeContext): void {
    // A merged window already past the watermark fires with its next record, not by a timer.
    if (maxTimestamp(window) > ctx.currentWatermark()) ctx.registerEventTimeTimer(maxTimestamp(window));
  }
  clear(window: TimeWindow, ctx: TriggerContext): void {
    ctx.deleteEventTimeTimer(maxTimestamp(window));
  }
  describe(): string {
    return 'EventTimeTrigger';
  }
}

/** Fires once when the clock passes the window's end: the default of processing-time windows. */
export class ProcessingTimeTrigger implements Trigger {
  private static readonly instance = new ProcessingTimeTrigger();
  private constructor() {}
  static create(): ProcessingTimeTrigger {
    return ProcessingTimeTrigger.instance;
  }
  onElement(_e: unknown, _t: number | undefined, window: TimeWindow, ctx: TriggerContext): TriggerResult {
    ctx.registerProcessingTimeTimer(maxTimestamp(window));
    return 'CONTINUE';
  }
  onEventTime(): TriggerResult {
    return 'CONTINUE';
  }
  onProcessingTime(): TriggerResult {
    return 'FIRE';
  }
  canMerge(): boolean {
    return true;
  }
  onMerge(window: TimeWindow, ctx: OnMergeContext): void {
    if (maxTimestamp(window) > ctx.currentProcessingTime())
      ctx.registerProcessingTimeTimer(maxTimestamp(window));
  }
  clear(window: TimeWindow, ctx: TriggerContext): void {
    ctx.deleteProcessingTimeTimer(maxTimestamp(window));
  }
  describe(): string {
    return 'ProcessingTimeTrigger';
  }
}

/** The trigger a window assigner of this time domain has when none is given. */
export function defaultTrigger(domain: TimeDomain): Trigger {
  return domain === 'event' ? EventTimeTrigger.create() : ProcessingTimeTrigger.create();
}

/**
 * A user mistake in a trigger's use of its context, found when it runs (a graph cannot know which
 * descriptors a trigger will ask for).
 */
export class TriggerStateError extends Error {
  override readonly name = 'TriggerStateError';
}

/** The parts of a window's stored entry that belong to its trigger (persisted inside `_windows`). */
export interface TriggerScope {
  /** Named state of the trigger for this window; absent while empty. */
  triggerState?: Record<string, unknown>;
  /** The event-time timers this window registered (its cleanup timer included), sorted by nothing. */
  eventTimers?: number[];
  processingTimers?: number[];
}

/** What the trigger context needs from the window operator. */
export interface TriggerHost {
  currentWatermark(): number;
  currentProcessingTime(): number;
  registerTimer(scope: TriggerScope, domain: TimeDomain, time: number): void;
  deleteTimer(scope: TriggerScope, domain: TimeDomain, time: number): void;
}

/** The timers of one domain of a scope. */
export function scopeTimers(scope: TriggerScope, domain: TimeDomain): number[] | undefined {
  return domain === 'event' ? scope.eventTimers : scope.processingTimers;
}

type Handle = { readonly kind: TriggerStateDescriptor['kind']; readonly state: unknown };

/**
 * The one trigger context of a window operator, pointed at a window before each trigger call
 * (no allocation per record). State handles are made once per descriptor name and read the
 * window the context points at.
 */
export class WindowTriggerContext implements OnMergeContext {
  scope: TriggerScope = {};
  /** The scopes of the windows being merged, during `onMerge` only. */
  merging: readonly TriggerScope[] = [];
  private readonly handles = new Map<string, Handle>();

  constructor(private readonly host: TriggerHost) {}

  currentWatermark(): number {
    return this.host.currentWatermark();
  }
  currentProcessingTime(): number {
    return this.host.currentProcessingTime();
  }
  registerEventTimeTimer(time: number): void {
    this.host.registerTimer(this.scope, 'event', checkTime(time));
  }
  registerProcessingTimeTimer(time: number): void {
    this.host.registerTimer(this.scope, 'processing', checkTime(time));
  }
  deleteEventTimeTimer(time: number): void {
    this.host.deleteTimer(this.scope, 'event', time);
  }
  deleteProcessingTimeTimer(time: number): void {
    this.host.deleteTimer(this.scope, 'processing', time);
  }

  getPartitionedState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getPartitionedState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getPartitionedState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getPartitionedState<IN, ACC, OUT>(
    descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  ): AggregatingState<IN, OUT>;
  getPartitionedState(d: TriggerStateDescriptor): unknown {
    const known = this.handles.get(d?.name);
    if (known !== undefined) {
      if (known.kind !== d.kind)
        throw new TriggerStateError(
          `trigger state '${d.name}' is ${known.kind} state and cannot also be ${d.kind} state; give it another name`,
        );
      return known.state;
    }
    checkDescriptor(d);
    const state = this.createHandle(d);
    this.handles.set(d.name, { kind: d.kind, state });
    return state;
  }

  mergePartitionedState(d: TriggerStateDescriptor): void {
    checkDescriptor(d);
    const values = this.merging.map((s) => s.triggerState?.[d.name]).filter((v) => v !== undefined);
    if (values.length === 0) return;
    const own = this.read(d.name);
    const all = own === undefined ? values : [own, ...values];
    let merged: unknown;
    switch (d.kind) {
      case 'reducing':
        merged = all.reduce((a, b) => d.reduce(a, b));
        break;
      case 'aggregating': {
        const merge = d.aggregate.merge;
        if (typeof merge !== 'function')
          throw new TriggerStateError(
            `trigger state '${d.name}' is merged for session windows, so its aggregate function needs merge(a, b)`,
          );
        merged = all.reduce((a, b) => merge.call(d.aggregate, a, b));
        break;
      }
      case 'list':
        merged = (all as unknown[][]).flat();
        break;
      case 'value':
        throw new TriggerStateError(
          `trigger state '${d.name}' is value state, which cannot be merged; use a ReducingStateDescriptor for state that session windows merge`,
        );
    }
    this.write(d.name, merged);
  }

  private read(name: string): unknown {
    return this.scope.triggerState?.[name];
  }

  private write(name: string, value: unknown): void {
    const scope = this.scope;
    if (value === undefined) {
      if (scope.triggerState === undefined) return;
      delete scope.triggerState[name];
      for (const _ in scope.triggerState) return;
      delete scope.triggerState;
    } else (scope.triggerState ??= {})[name] = value;
  }

  private createHandle(d: TriggerStateDescriptor): unknown {
    const name = d.name;
    switch (d.kind) {
      case 'value':
        return {
          value: () => this.read(name) ?? d.defaultValue,
          update: (v: unknown) => this.write(name, v),
          clear: () => this.write(name, undefined),
        } satisfies ValueState<unknown>;
      case 'reducing':
        return {
          get: () => this.read(name),
          add: (v: unknown) => {
            const cur = this.read(name);
            this.write(name, cur === undefined ? v : d.reduce(cur, v));
          },
          clear: () => this.write(name, undefined),
        } satisfies ReducingState<unknown>;
      case 'aggregating':
        return {
          get: () => {
            const acc = this.read(name);
            return acc === undefined ? undefined : d.aggregate.getResult(acc);
          },
          add: (v: unknown) => {
            const acc = this.read(name);
            this.write(name, d.aggregate.add(v, acc === undefined ? d.aggregate.createAccumulator() : acc));
          },
          clear: () => this.write(name, undefined),
        } satisfies AggregatingState<unknown, unknown>;
      case 'list':
        return {
          get: () => (this.read(name) as unknown[] | undefined) ?? [],
          add: (v: unknown) => {
            const cur = this.read(name) as unknown[] | undefined;
            // In place is safe: the window's entry is the copy a running snapshot does not read.
            if (cur === undefined) this.write(name, [v]);
            else cur.push(v);
          },
          addAll: (vs: Iterable<unknown>) => {
            const next = [...((this.read(name) as unknown[] | undefined) ?? []), ...vs];
            this.write(name, next.length === 0 ? undefined : next);
          },
          update: (vs: Iterable<unknown>) => {
            const next = [...vs];
            this.write(name, next.length === 0 ? undefined : next);
          },
          clear: () => this.write(name, undefined),
        } satisfies ListState<unknown>;
    }
  }
}

function checkTime(time: number): number {
  if (!Number.isFinite(time))
    throw new RangeError(`a trigger timer needs a finite timestamp in epoch milliseconds, got ${time}`);
  return time;
}

function checkDescriptor(d: TriggerStateDescriptor): void {
  const kinds = ['value', 'list', 'reducing', 'aggregating'];
  if (typeof d?.name !== 'string' || !kinds.includes(d.kind))
    throw new TriggerStateError(
      'a trigger keeps value, list, reducing or aggregating state per window: pass a ValueStateDescriptor, ListStateDescriptor, ReducingStateDescriptor or AggregatingStateDescriptor',
    );
  if (d.serializer !== undefined || d.version !== 1 || d.migrate !== undefined)
    throw new TriggerStateError(
      `trigger state '${d.name}' is stored inside its window with weir's codec: leave out serializer, version and migrate`,
    );
}
