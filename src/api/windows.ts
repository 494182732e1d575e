// Window assigners: which windows a record belongs to. Time windows are half-open intervals
// [start, end) of epoch milliseconds, aligned to the epoch plus an optional offset, as in Flink,
// so the same record lands in the same window whatever the parallelism or restart.
import {
  cover,
  intersects,
  maxTimestamp,
  windowStart,
  type TimeWindow,
  type WindowAssigner,
  type WindowTimeDomain,
} from '../runtime/time-window.js';

export { maxTimestamp, windowStart, type TimeWindow, type WindowAssigner, type WindowTimeDomain };

function checkDuration(what: string, ms: number, allowZero = false): void {
  if (!Number.isSafeInteger(ms) || ms < 0 || (!allowZero && ms === 0))
    throw new RangeError(
      `${what} must be a whole number of milliseconds${allowZero ? '' : ' above 0'}, got ${ms}`,
    );
}

class Tumbling implements WindowAssigner {
  readonly merging = false;
  constructor(
    readonly domain: WindowTimeDomain,
    private readonly size: number,
    private readonly offset: number,
  ) {
    checkDuration('a tumbling window size', size);
    if (!Number.isSafeInteger(offset) || Math.abs(offset) >= size)
      throw new RangeError(
        `a window offset must be a whole number of ms smaller than the size (${size}), got ${offset}`,
      );
  }
  assign(timestamp: number): TimeWindow[] {
    const start = windowStart(timestamp, this.offset, this.size);
    return [{ start, end: start + this.size }];
  }
  describe(): string {
    return `tumbling ${this.domain}-time windows of ${this.size} ms`;
  }
}

class Sliding implements WindowAssigner {
  readonly merging = false;
  constructor(
    readonly domain: WindowTimeDomain,
    private readonly size: number,
    private readonly slide: number,
    private readonly offset: number,
  ) {
    checkDuration('a sliding window size', size);
    checkDuration('a window slide', slide);
    if (slide > size)
      throw new RangeError(
        `a sliding window's slide (${slide} ms) cannot be larger than its size (${size} ms)`,
      );
    if (!Number.isSafeInteger(offset) || Math.abs(offset) >= slide)
      throw new RangeError(
        `a window offset must be a whole number of ms smaller than the slide (${slide}), got ${offset}`,
      );
  }
  assign(timestamp: number): TimeWindow[] {
    const out: TimeWindow[] = [];
    const last = windowStart(timestamp, this.offset, this.slide);
    for (let start = last; start > timestamp - this.size; start -= this.slide)
      out.push({ start, end: start + this.size });
    return out;
  }
  describe(): string {
    return `sliding ${this.domain}-time windows of ${this.size} ms every ${this.slide} ms`;
  }
}

class Session implements WindowAssigner {
  readonly merging = true;
  constructor(
    readonly domain: WindowTimeDomain,
    private readonly gap: number,
  ) {
    checkDuration('a session gap', gap);
  }
  assign(timestamp: number): TimeWindow[] {
    return [{ start: timestamp, end: timestamp + this.gap }];
  }
  describe(): string {
    return `${this.domain}-time session windows with a gap of ${this.gap} ms`;
  }
}

/**
 * Groups windows that intersect (sorted by start) and returns, for each group of more than one,
 * the covering window and its members: how session windows merge.
 */
export function mergeWindows(
  windows: readonly TimeWindow[],
): Array<{ merged: TimeWindow; members: TimeWindow[] }> {
  const sorted = [...windows].sort((a, b) => a.start - b.start);
  const groups: Array<{ merged: TimeWindow; members: TimeWindow[] }> = [];
  for (const w of sorted) {
    const last = groups.at(-1);
    if (last !== undefined && intersects(last.merged, w)) {
      last.merged = cover(last.merged, w);
      last.members.push(w);
    } else groups.push({ merged: w, members: [w] });
  }
  return groups.filter((g) => g.members.length > 1);
}

/** @example stream.keyBy(e => e.user).window(TumblingEventTimeWindows.of(60_000)) */
export const TumblingEventTimeWindows = {
  of: (sizeMs: number, offsetMs = 0): WindowAssigner => new Tumbling('event', sizeMs, offsetMs),
};
export const TumblingProcessingTimeWindows = {
  of: (sizeMs: number, offsetMs = 0): WindowAssigner => new Tumbling('processing', sizeMs, offsetMs),
};
/** @example .window(SlidingEventTimeWindows.of(10_000, 1_000)) — 10 s windows every second */
export const SlidingEventTimeWindows = {
  of: (sizeMs: number, slideMs: number, offsetMs = 0): WindowAssigner =>
    new Sliding('event', sizeMs, slideMs, offsetMs),
};
export const SlidingProcessingTimeWindows = {
  of: (sizeMs: number, slideMs: number, offsetMs = 0): WindowAssigner =>
    new Sliding('processing', sizeMs, slideMs, offsetMs),
};
/** @example .window(EventTimeSessionWindows.withGap(30 * 60_000)) */
export const EventTimeSessionWindows = {
  withGap: (gapMs: number): WindowAssigner => new Session('event', gapMs),
};
export const ProcessingTimeSessionWindows = {
  withGap: (gapMs: number): WindowAssigner => new Session('processing', gapMs),
};
