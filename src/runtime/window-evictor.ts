// Evictors remove records from a window when it fires, before and/or after the window function
// (Flink's Evictor). A window with an evictor keeps every record with its timestamp instead of an
// accumulator, since any of them may be evicted; the built-ins are in api/evictors.ts.
import type { TimeWindow } from './time-window.js';

/** A record of a window with its event timestamp (undefined when the stream has none). */
export interface TimestampedValue<T> {
  readonly value: T;
  readonly timestamp: number | undefined;
}

export interface EvictorContext {
  currentWatermark(): number;
  currentProcessingTime(): number;
}

/**
 * Chooses which records of a firing window stay. Both methods get the window's records in
 * arrival order and return the ones to keep (the same array keeps them all); what
 * `evictBefore` keeps is what the window function sees, what `evictAfter` keeps is what the
 * window holds afterwards. Unlike Flink's, which removes through an iterator, these return.
 * @example
 * // Keep only records with a positive value, before the function.
 * const positive: Evictor<Event> = {
 *   evictBefore: (records) => records.filter((r) => r.value.amount > 0),
 *   evictAfter: (records) => records,
 * };
 */
export interface Evictor<T = unknown> {
  evictBefore(
    elements: readonly TimestampedValue<T>[],
    window: TimeWindow,
    ctx: EvictorContext,
  ): readonly TimestampedValue<T>[];
  evictAfter(
    elements: readonly TimestampedValue<T>[],
    window: TimeWindow,
    ctx: EvictorContext,
  ): readonly TimestampedValue<T>[];
}
