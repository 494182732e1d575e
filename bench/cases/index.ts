// Every benchmark case, in the order they run and are printed. A new case is a file in this
// folder exporting a BenchCase, added to this list.
import type { BenchCase } from '../lib/harness.js';
import { keyedCount } from './keyed-count.js';
import { keyedCountCheckpoint100ms, keyedCountCheckpoint1s } from './keyed-count-checkpointed.js';
import { slidingWindowSum, tumblingWindowSum } from './window-sum.js';
import { wordCount } from './word-count.js';

export const CASES: readonly BenchCase[] = [
  keyedCount,
  wordCount,
  keyedCountCheckpoint1s,
  keyedCountCheckpoint100ms,
  tumblingWindowSum,
  slidingWindowSum,
];
