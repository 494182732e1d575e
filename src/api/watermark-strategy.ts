// Event time: how a source gives each record its timestamp
// and tells the job how far event time has progressed. A watermark W promises that no record
// with a timestamp ≤ W follows; event-time timers and windows fire on it.

import { SYSTEM_CLOCK, type ProcessingClock } from '../runtime/timer-service.js';

import type {
  TimestampAssigner,
  WatermarkGenerator,
  WatermarkOutput,
} from '../runtime/watermark-generator.js';

export type { ProcessingClock, TimestampAssigner, WatermarkGenerator, WatermarkOutput };

/** Max out-of-orderness: the watermark trails the largest timestamp seen by `bound` ms. */
export class BoundedOutOfOrdernessWatermarks<T> implements WatermarkGenerator<T> {
  private maxTimestamp: number;
  constructor(private readonly bound: number) {
    if (!Number.isFinite(bound) || bound < 0)
      throw new RangeError(`the out-of-orderness bound must be a duration of 0 ms or more, got ${bound}`);
    // So that the first watermark, before any record, is the smallest one.
    this.maxTimestamp = Number.MIN_SAFE_INTEGER + bound + 1;
  }
  onEvent(_event: T, timestamp: number): void {
    if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp;
  }
  onPeriodicEmit(output: WatermarkOutput): void {
    // As in Flink: a record at exactly max − bound is still on time, so the watermark is one less.
    output.emitWatermark(this.maxTimestamp - this.bound - 1);
  }
}

/**
 * Marks the input idle when no record arrived for `timeoutMs` of processing time, so a quiet
 * split or partition does not stop event time for the whole job; active again with the next one.
 */
export class WatermarksWithIdleness<T> implements WatermarkGenerator<T> {
  private lastEvent: number;
  private idle = false;
  constructor(
    private readonly inner: WatermarkGenerator<T>,
    private readonly timeoutMs: number,
    private readonly clock: ProcessingClock,
  ) {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new RangeError(`the idle timeout must be a positive duration, got ${timeoutMs}`);
    this.lastEvent = clock.now();
  }
  onEvent(event: T, timestamp: number, output: WatermarkOutput): void {
    this.lastEvent = this.clock.now();
    if (this.idle) {
      this.idle = false;
      output.markActive();
    }
    this.inner.onEvent(event, timestamp, output);
  }
  onPeriodicEmit(output: WatermarkOutput): void {
    if (this.idle) return;
    if (this.clock.now() - this.lastEvent >= this.timeoutMs) {
      this.idle = true;
      output.markIdle();
      return;
    }
    this.inner.onPeriodicEmit(output);
  }
}

/**
 * How records get their timestamps and the job its watermarks.
 * @example
 * env.fromSource(source, WatermarkStrategy.forBoundedOutOfOrderness<Event>(5000)
 *   .withTimestampAssigner((e) => e.time)
 *   .withIdleness(60_000));
 */
export class WatermarkStrategy<T> {
  private constructor(
    private readonly generator: (() => WatermarkGenerator<T>) | undefined,
    readonly timestampAssigner: TimestampAssigner<T> | undefined,
    readonly idleTimeoutMs: number | undefined,
  ) {}

  /** For records whose timestamps lag the largest seen by at most `maxOutOfOrdernessMs`. */
  static forBoundedOutOfOrderness<T>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    const bound = maxOutOfOrdernessMs;
    new BoundedOutOfOrdernessWatermarks<T>(bound); // checks the bound now, not at the first record
    return new WatermarkStrategy<T>(
      () => new BoundedOutOfOrdernessWatermarks<T>(bound),
      undefined,
      undefined,
    );
  }

  /** For records whose timestamps never decrease (per split). */
  static forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    return WatermarkStrategy.forBoundedOutOfOrderness<T>(0);
  }

  /** Your own generator; one is created per source split. */
  static forGenerator<T>(create: () => WatermarkGenerator<T>): WatermarkStrategy<T> {
    if (typeof create !== 'function')
      throw new TypeError(
        'WatermarkStrategy.forGenerator needs a function that creates a WatermarkGenerator',
      );
    return new WatermarkStrategy<T>(create, undefined, undefined);
  }

  /** Timestamps only, no watermarks: event time never advances (until the end of the input). */
  static noWatermarks<T>(): WatermarkStrategy<T> {
    return new WatermarkStrategy<T>(undefined, undefined, undefined);
  }

  withTimestampAssigner(assigner: TimestampAssigner<T>): WatermarkStrategy<T> {
    if (typeof assigner !== 'function')
      throw new TypeError('withTimestampAssigner needs a function (event, recordTimestamp) => epoch millis');
    return new WatermarkStrategy<T>(this.generator, assigner, this.idleTimeoutMs);
  }

  /** Marks a split idle after `timeoutMs` without records (processing time). */
  withIdleness(timeoutMs: number): WatermarkStrategy<T> {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
      throw new RangeError(`withIdleness needs a positive duration in ms, got ${timeoutMs}`);
    return new WatermarkStrategy<T>(this.generator, this.timestampAssigner, timeoutMs);
  }

  /** A new generator (per split or subtask); undefined for noWatermarks(). */
  createGenerator(clock: ProcessingClock = SYSTEM_CLOCK): WatermarkGenerator<T> | undefined {
    if (this.generator === undefined) return undefined;
    const g = this.generator();
    return this.idleTimeoutMs === undefined ? g : new WatermarksWithIdleness(g, this.idleTimeoutMs, clock);
  }
}
