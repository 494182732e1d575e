// Built-in window evictors (Flink's), for `WindowedStream.evictor(...)`; the contract is in
// runtime/window-evictor.ts.
import type { Evictor, EvictorContext, TimestampedValue } from '../runtime/window-evictor.js';

export type { Evictor, EvictorContext, TimestampedValue };

/** An evictor that applies its rule either before the window function or after it. */
abstract class BeforeOrAfterEvictor implements Evictor {
  protected constructor(readonly doEvictAfter: boolean) {}
  evictBefore<T>(elements: readonly TimestampedValue<T>[]): readonly TimestampedValue<T>[] {
    return this.doEvictAfter ? elements : this.evict(elements);
  }
  evictAfter<T>(elements: readonly TimestampedValue<T>[]): readonly TimestampedValue<T>[] {
    return this.doEvictAfter ? this.evict(elements) : elements;
  }
  protected abstract evict<T>(elements: readonly TimestampedValue<T>[]): readonly TimestampedValue<T>[];
}

/**
 * Keeps the last `maxCount` records of a window (the earliest arrivals go first), before the
 * window function or, with `doEvictAfter`, after it.
 * @example .window(SlidingEventTimeWindows.of(60_000, 10_000)).evictor(CountEvictor.of(100)) // the function sees the last 100 records
 */
export class CountEvictor extends BeforeOrAfterEvictor {
  private constructor(
    readonly maxCount: number,
    doEvictAfter: boolean,
  ) {
    super(doEvictAfter);
  }
  static of(maxCount: number, doEvictAfter = false): CountEvictor {
    if (!Number.isSafeInteger(maxCount) || maxCount < 0)
      throw new RangeError(`CountEvictor.of(maxCount) needs a whole number, 0 or more, got ${maxCount}`);
    return new CountEvictor(maxCount, doEvictAfter);
  }
  protected evict<T>(elements: readonly TimestampedValue<T>[]): readonly TimestampedValue<T>[] {
    return elements.length <= this.maxCount ? elements : elements.slice(elements.length - this.maxCount);
  }
}

/**
 * Keeps the records of the last `windowSizeMs` of event time: those with a timestamp above the
 * largest timestamp in the window minus `windowSizeMs`. A window whose records have no timestamps
 * keeps them all.
 * @example .window(TumblingEventTimeWindows.of(60_000)).trigger(CountTrigger.of(10)).evictor(TimeEvictor.of(5_000))
 */
export class TimeEvictor extends BeforeOrAfterEvictor {
  private constructor(
    readonly windowSizeMs: number,
    doEvictAfter: boolean,
  ) {
    super(doEvictAfter);
  }
  static of(windowSizeMs: number, doEvictAfter = false): TimeEvictor {
    if (!Number.isSafeInteger(windowSizeMs) || windowSizeMs < 0)
      throw new RangeError(
        `TimeEvictor.of(windowSizeMs) needs a whole number of ms, 0 or more, got ${windowSizeMs}`,
      );
    return new TimeEvictor(windowSizeMs, doEvictAfter);
  }
  protected evict<T>(elements: readonly TimestampedValue<T>[]): readonly TimestampedValue<T>[] {
    let latest = Number.NEGATIVE_INFINITY;
    for (const e of elements) if (e.timestamp !== undefined && e.timestamp > latest) latest = e.timestamp;
    if (latest === Number.NEGATIVE_INFINITY) return elements;
    const cutoff = latest - this.windowSizeMs;
    return elements.filter((e) => e.timestamp === undefined || e.timestamp > cutoff);
  }
}
