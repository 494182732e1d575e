// Built-in window triggers (Flink's), for `WindowedStream.trigger(...)`. The contract and the two
// defaults (EventTimeTrigger, ProcessingTimeTrigger) are in runtime/window-trigger.ts, beside the
// operator that falls back to them.
import { ReducingStateDescriptor } from '../state/descriptors.js';
import { maxTimestamp, type TimeWindow } from '../runtime/time-window.js';
import {
  EventTimeTrigger,
  ProcessingTimeTrigger,
  TriggerResult,
  type OnMergeContext,
  type Trigger,
  type TriggerContext,
} from '../runtime/window-trigger.js';

export {
  EventTimeTrigger,
  ProcessingTimeTrigger,
  TriggerResult,
  type OnMergeContext,
  type Trigger,
  type TriggerContext,
};

function checkCount(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1)
    throw new RangeError(`${what} needs a whole number of at least 1, got ${n}`);
}

/**
 * Fires a window every `maxCount` records it gets (and never by time: the window is still
 * cleaned up at its end plus the allowed lateness, without firing).
 * @example .window(TumblingEventTimeWindows.of(60_000)).trigger(CountTrigger.of(1_000))
 */
export class CountTrigger implements Trigger {
  private readonly count: ReducingStateDescriptor<number>;
  private constructor(readonly maxCount: number) {
    this.count = new ReducingStateDescriptor<number>('count', (a, b) => a + b);
  }
  static of(maxCount: number): CountTrigger {
    checkCount('CountTrigger.of(maxCount)', maxCount);
    return new CountTrigger(maxCount);
  }
  onElement(_e: unknown, _t: number | undefined, _w: TimeWindow, ctx: TriggerContext): TriggerResult {
    const count = ctx.getPartitionedState(this.count);
    count.add(1);
    if (count.get()! < this.maxCount) return 'CONTINUE';
    count.clear();
    return 'FIRE';
  }
  onEventTime(): TriggerResult {
    return 'CONTINUE';
  }
  onProcessingTime(): TriggerResult {
    return 'CONTINUE';
  }
  canMerge(): boolean {
    return true;
  }
  onMerge(_w: TimeWindow, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.count);
  }
  clear(_w: TimeWindow, ctx: TriggerContext): void {
    ctx.getPartitionedState(this.count).clear();
  }
  describe(): string {
    return `CountTrigger(${this.maxCount})`;
  }
}

/**
 * Fires a window early every `intervalMs` of event time (aligned to the interval, from the
 * window's first record) and when the watermark passes its end — results of a long window while
 * it is still open.
 * @example .window(TumblingEventTimeWindows.of(3_600_000)).trigger(ContinuousEventTimeTrigger.of(60_000))
 */
export class ContinuousEventTimeTrigger implements Trigger {
  /** The next early firing of the window; the smallest wins when sessions merge. */
  private readonly fireTime = new ReducingStateDescriptor<number>('fire-time', (a, b) => Math.min(a, b));
  private constructor(readonly intervalMs: number) {}
  static of(intervalMs: number): ContinuousEventTimeTrigger {
    checkCount('ContinuousEventTimeTrigger.of(intervalMs)', intervalMs);
    return new ContinuousEventTimeTrigger(intervalMs);
  }
  onElement(
    _e: unknown,
    timestamp: number | undefined,
    window: TimeWindow,
    ctx: TriggerContext,
  ): TriggerResult {
    if (maxTimestamp(window) <= ctx.currentWatermark()) return 'FIRE'; // late, within the allowed lateness
    ctx.registerEventTimeTimer(maxTimestamp(window));
    const fireTime = ctx.getPartitionedState(this.fireTime);
    if (fireTime.get() === undefined && timestamp !== undefined)
      this.scheduleNext(timestamp - (timestamp % this.intervalMs), window, ctx);
    return 'CONTINUE';
  }
  onEventTime(time: number, window: TimeWindow, ctx: TriggerContext): TriggerResult {
    if (time === maxTimestamp(window)) return 'FIRE';
    const fireTime = ctx.getPartitionedState(this.fireTime);
    if (fireTime.get() !== time) return 'CONTINUE';
    fireTime.clear();
    this.scheduleNext(time, window, ctx);
    return 'FIRE';
  }
  onProcessingTime(): TriggerResult {
    return 'CONTINUE';
  }
  canMerge(): boolean {
    return true;
  }
  onMerge(_w: TimeWindow, ctx: OnMergeContext): void {
    ctx.mergePartitionedState(this.fireTime);
    const next = ctx.getPartitionedState(this.fireTime).get();
    if (next !== undefined) ctx.registerEventTimeTimer(next);
  }
  clear(_w: TimeWindow, ctx: TriggerContext): void {
    const fireTime = ctx.getPartitionedState(this.fireTime);
    const next = fireTime.get();
    if (next === undefined) return;
    ctx.deleteEventTimeTimer(next);
    fireTime.clear();
  }
  describe(): string {
    return `ContinuousEventTimeTrigger(${this.intervalMs} ms)`;
  }

  private scheduleNext(time: number, window: TimeWindow, ctx: TriggerContext): void {
    const next = Math.min(time + this.intervalMs, maxTimestamp(window));
    ctx.getPartitionedState(this.fireTime).add(next);
    ctx.registerEventTimeTimer(next);
  }
}

/**
 * Turns every FIRE of `trigger` into FIRE_AND_PURGE: each firing emits only what arrived since
 * the one before.
 * @example .trigger(PurgingTrigger.of(CountTrigger.of(100))) // every 100 records, those 100
 */
export class PurgingTrigger<T = unknown> implements Trigger<T> {
  private constructor(readonly nested: Trigger<T>) {}
  static of<T>(trigger: Trigger<T>): PurgingTrigger<T> {
    if (typeof trigger?.onElement !== 'function')
      throw new TypeError(
        'PurgingTrigger.of(...) needs a trigger, e.g. PurgingTrigger.of(CountTrigger.of(10))',
      );
    return new PurgingTrigger(trigger);
  }
  onElement(
    element: T,
    timestamp: number | undefined,
    window: TimeWindow,
    ctx: TriggerContext,
  ): TriggerResult {
    return purging(this.nested.onElement(element, timestamp, window, ctx));
  }
  onEventTime(time: number, window: TimeWindow, ctx: TriggerContext): TriggerResult {
    return purging(this.nested.onEventTime(time, window, ctx));
  }
  onProcessingTime(time: number, window: TimeWindow, ctx: TriggerContext): TriggerResult {
    return purging(this.nested.onProcessingTime(time, window, ctx));
  }
  canMerge(): boolean {
    return this.nested.canMerge?.() === true;
  }
  onMerge(window: TimeWindow, ctx: OnMergeContext): void {
    this.nested.onMerge?.(window, ctx);
  }
  clear(window: TimeWindow, ctx: TriggerContext): void {
    this.nested.clear(window, ctx);
  }
  describe(): string {
    return `PurgingTrigger(${this.nested.describe?.() ?? 'a custom trigger'})`;
  }
}

function purging(r: TriggerResult): TriggerResult {
  return r === 'FIRE' ? 'FIRE_AND_PURGE' : r;
}
