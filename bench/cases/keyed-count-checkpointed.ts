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

function checkpointed(name: string, intervalMs: number): BenchCase {
  return {
    name,
    unit: 'events/s',
    itemName: 'events',
    defaultItems: keyedCount.defaultItems,
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
