// The contract between a source's event time and the runtime: a generator turns timestamps into
// watermarks (api/watermark-strategy.ts has the strategies users pick from).

/** Where a generator reports watermarks and idleness. */
export interface WatermarkOutput {
  /** A watermark; one that does not advance the last one is ignored. */
  emitWatermark(timestamp: number): void;
  /** No records for a while: this input must not hold back the watermark of the job. */
  markIdle(): void;
  /** Records again (implied by every emitted watermark). */
  markActive(): void;
}

/**
 * Turns the timestamps a source sees into watermarks. `onEvent` is called for every record;
 * `onPeriodicEmit` after every batch the source emits (and while it waits for input), so
 * watermarks advance with the data and with time.
 */
export interface WatermarkGenerator<T> {
  onEvent(event: T, timestamp: number, output: WatermarkOutput): void;
  onPeriodicEmit(output: WatermarkOutput): void;
}

/** Gives a record its event timestamp (epoch milliseconds); `recordTimestamp` is the one it carries, if any. */
export type TimestampAssigner<T> = (event: T, recordTimestamp: number | undefined) => number;

/** What a source operator needs of a watermark strategy. */
export interface EventTimeSpec<T> {
  readonly timestampAssigner: TimestampAssigner<T> | undefined;
  createGenerator(clock: { now(): number }): WatermarkGenerator<T> | undefined;
}
