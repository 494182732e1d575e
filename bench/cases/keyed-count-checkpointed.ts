// keyed-count with exactly-once checkpoints every 1 s and every 100 ms, each beside the same job
// without checkpoints, measured alternately in the same process: the ratio is what checkpoints
// cost the job.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchCase, PreparedCase } from '../lib/harness.js';
import { keyedCount, keyedCountJob } from './keyed-count.js';

/**
 * Pairs of runs by default (see BenchCase.defaultRuns). The ratio is a cost of a few per cent,
 * and on the reference machine the same job run twice gives pair ratios of 0.82–1.18 (the
 * machine's noise, not the job's): the median of 11 pairs still moved by ±0.05 from one
 * invocation to the next; 21 pairs narrow that by √(21/11) for about two minutes per case.
 */
const CHECKPOINTED_RUNS = 21;

/**
 * Events per run by default: twice keyed-count's. At 5 M events a run took ~2 s and held two
 * periodic checkpoints besides its first (which encodes every key afresh) and its final one
 * (which the job waits for), costs a streaming job pays once; and a 2 s run was at the mercy of
 * the machine's drift. At 5 M, 61 pairs gave 0.97 with pair ratios of 0.73–1.27, and single
 * invocations of 21 pairs 0.92–1.01. At 10 M a run holds four intervals, and 21 pairs gave 0.98
 * and 0.99 (1 s) with pair ratios of 0.88–1.17.
 */
const CHECKPOINTED_EVENTS = 10_000_000;

function checkpointed(name: string, intervalMs: number): BenchCase {
  return {
    name,
    unit: 'events/s',
    itemName: 'events',
    defaultItems: CHECKPOINTED_EVENTS,
    description: `keyed-count with checkpoints every ${intervalMs} ms (filesystem storage in a temp dir)`,
    baselineLabel: 'the same job without checkpoints',
    defaultRuns: CHECKPOINTED_RUNS,
    async prepare(events: number): Promise<PreparedCase> {
      const base = await keyedCount.prepare(events);
      return {
        items: events,
        expected: base.expected,
        engine: async () => {
          const dir = mkdtempSync(join(tmpdir(), 'weir-bench-chk-'));
          try {
            return await keyedCountJob(events, { intervalMs, dir });
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
        baseline: () => keyedCountJob(events, undefined),
      };
    },
  };
}

export const keyedCountCheckpoint1s = checkpointed('keyed-count-chk-1s', 1000);
export const keyedCountCheckpoint100ms = checkpointed('keyed-count-chk-100ms', 100);
