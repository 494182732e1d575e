// Time windows and their assigners' contract; the assigners themselves are in api/windows.ts.

/** [start, end): a record at `end` belongs to the next window. */
export interface TimeWindow {
  readonly start: number;
  readonly end: number;
}

/** The last timestamp inside the window: its event-time timer fires when the watermark passes it. */
export function maxTimestamp(w: TimeWindow): number {
  return w.end - 1;
}

export function intersects(a: TimeWindow, b: TimeWindow): boolean {
  return a.start <= b.end && b.start <= a.end;
}

export function cover(a: TimeWindow, b: TimeWindow): TimeWindow {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

/** The start of the window of `size` (shifted by `offset`) that holds `timestamp`; works for negative timestamps. */
export function windowStart(timestamp: number, offset: number, size: number): number {
  const remainder = (timestamp - offset) % size;
  return remainder < 0 ? timestamp - (remainder + size) : timestamp - remainder;
}

export type WindowTimeDomain = 'event' | 'processing';

export interface WindowAssigner {
  readonly domain: WindowTimeDomain;
  /** Session windows merge: windows that touch become one. */
  readonly merging: boolean;
  /** The windows of a record with this timestamp (event time) or at this time (processing time). */
  assign(timestamp: number): TimeWindow[];
  /** For messages and the job graph. */
  describe(): string;
}
