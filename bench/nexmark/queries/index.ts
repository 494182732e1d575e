// Every Nexmark query weir runs, by name.
import type { NexmarkQuery } from './query.js';
import { q0 } from './q0.js';
import { q1 } from './q1.js';
import { q2 } from './q2.js';
import { q3 } from './q3.js';
import { q4 } from './q4.js';
import { q5 } from './q5.js';
import { q7 } from './q7.js';
import { q8 } from './q8.js';
import { q11 } from './q11.js';
import { q12 } from './q12.js';

export const QUERIES: ReadonlyArray<NexmarkQuery<unknown>> = [
  q0,
  q1,
  q2,
  q3,
  q4,
  q5,
  q7,
  q8,
  q11,
  q12,
] as ReadonlyArray<NexmarkQuery<never>> as ReadonlyArray<NexmarkQuery<unknown>>;

/** Targets of issue 6: events per second per core with checkpoints every 10 s. */
export const TARGETS: Readonly<Record<string, number>> = {
  q0: 1_000_000,
  q1: 900_000,
  q2: 1_000_000,
  q3: 300_000,
  q4: 150_000,
  q5: 150_000,
  q7: 150_000,
  q8: 300_000,
};
