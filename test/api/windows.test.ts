import { describe, expect, it } from 'vitest';
import {
  EventTimeSessionWindows,
  mergeWindows,
  SlidingEventTimeWindows,
  TumblingEventTimeWindows,
  windowStart,
} from '../../src/api/windows.js';
import { Rng } from '../state/gen.js';

describe('window assigners', () => {
  it('tumbling windows are aligned to the epoch (plus offset), also for negative timestamps', () => {
    const w = TumblingEventTimeWindows.of(1000);
    expect(w.assign(0)).toEqual([{ start: 0, end: 1000 }]);
    expect(w.assign(999)).toEqual([{ start: 0, end: 1000 }]);
    expect(w.assign(1000)).toEqual([{ start: 1000, end: 2000 }]);
    expect(w.assign(-1)).toEqual([{ start: -1000, end: 0 }]);
    expect(TumblingEventTimeWindows.of(1000, 200).assign(100)).toEqual([{ start: -800, end: 200 }]);
  });

  it('sliding windows: every window of size that holds the timestamp, newest first', () => {
    const w = SlidingEventTimeWindows.of(10_000, 1_000);
    const ws = w.assign(12_345);
    expect(ws).toHaveLength(10);
    expect(ws[0]).toEqual({ start: 12_000, end: 22_000 });
    expect(ws.at(-1)).toEqual({ start: 3_000, end: 13_000 });
    const rng = new Rng(3);
    for (let i = 0; i < 200; i++) {
      const size = rng.int(1, 50);
      const slide = rng.int(1, size);
      const t = rng.int(-500, 500);
      const got = SlidingEventTimeWindows.of(size, slide).assign(t);
      for (const x of got) expect(x.start <= t && t < x.end).toBe(true);
      // Brute force: every aligned start in (t − size, t].
      let starts = 0;
      for (let x = t - size + 1; x <= t; x++) if (windowStart(x, 0, slide) === x) starts++;
      expect(got.length).toBe(starts);
    }
  });

  it('session windows merge when they touch or overlap', () => {
    const s = EventTimeSessionWindows.withGap(10);
    const ws = [5, 12, 40, 1].flatMap((t) => s.assign(t));
    expect(mergeWindows(ws)).toEqual([
      {
        merged: { start: 1, end: 22 },
        members: [
          { start: 1, end: 11 },
          { start: 5, end: 15 },
          { start: 12, end: 22 },
        ],
      },
    ]);
  });

  it('refuses sizes, slides, gaps and offsets that make no window', () => {
    expect(() => TumblingEventTimeWindows.of(0)).toThrow(
      /size must be a whole number of milliseconds above 0/,
    );
    expect(() => SlidingEventTimeWindows.of(10, 20)).toThrow(
      /slide \(20 ms\) cannot be larger than its size/,
    );
    expect(() => EventTimeSessionWindows.withGap(1.5)).toThrow(/session gap/);
    expect(() => TumblingEventTimeWindows.of(100, 100)).toThrow(/offset/);
  });
});
