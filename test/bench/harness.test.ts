import { describe, expect, it } from 'vitest';
import { CASES } from '../../bench/cases/index.js';
import {
  DEFAULT_RUNS,
  measure,
  pairRatios,
  runsFor,
  toFigure,
  type BenchCase,
} from '../../bench/lib/harness.js';

describe('bench harness', () => {
  it('takes 21 pairs of the checkpointed keyed-count cases by default, 5 of the others, --runs for all', () => {
    const runs = new Map(CASES.map((c) => [c.name, runsFor(c, undefined)]));
    expect(runs.get('keyed-count-chk-1s')).toBe(21);
    expect(runs.get('keyed-count-chk-100ms')).toBe(21);
    expect(runs.get('keyed-count')).toBe(DEFAULT_RUNS);
    expect(DEFAULT_RUNS).toBe(5);
    expect(runsFor(undefined, undefined)).toBe(5);
    for (const c of CASES) expect(runsFor(c, 3)).toBe(3);
  });

  it('runs the checkpointed keyed-count cases over twice the events of keyed-count', () => {
    const items = new Map(CASES.map((c) => [c.name, c.defaultItems]));
    expect(items.get('keyed-count')).toBe(5_000_000);
    expect(items.get('keyed-count-chk-1s')).toBe(10_000_000);
    expect(items.get('keyed-count-chk-100ms')).toBe(10_000_000);
  });

  it('runs the pairs back to back, alternating which side goes first', async () => {
    const order: string[] = [];
    const c: BenchCase = {
      name: 'fake',
      unit: 'items/s',
      itemName: 'items',
      defaultItems: 10,
      description: 'a fake case',
      prepare: (items) => ({
        items,
        expected: { outputs: 1, checksum: 2 },
        engine: async () => {
          order.push('e');
          return { outputs: 1, checksum: 2 };
        },
        baseline: () => {
          order.push('b');
          return { outputs: 1, checksum: 2 };
        },
      }),
    };
    const m = await measure(c, 10, 4, () => {});
    // warm-up, then (e,b) (b,e) (e,b) (b,e)
    expect(order.join('')).toBe('eb' + 'eb' + 'be' + 'eb' + 'be');
    expect(m.engine).toHaveLength(4);
    expect(m.baseline).toHaveLength(4);
  });

  it('reports the medians and the median of the pairs’ ratios, not the ratio of the medians', () => {
    // The machine slows down in the middle pairs: both sides of a pair slow together.
    const m = {
      name: 'x',
      unit: 'items/s',
      items: 1,
      itemName: 'items',
      engine: [90, 45, 46, 92, 88],
      baseline: [100, 50, 50, 100, 100],
    };
    expect(pairRatios(m)).toEqual([0.9, 0.9, 0.92, 0.92, 0.88]);
    const f = toFigure(m);
    expect(f.value).toBe(88);
    expect(f.baseline).toBe(100);
    expect(f.ratio).toBe(0.9);
  });
});
