// What a job's status counts (the progress line's in and out, the REST API's per-vertex counts):
// records its sources read and its sinks took, and per vertex what entered and left it, whether
// it passed between tasks or stayed in one chain.
import { describe, expect, it } from 'vitest';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { DiscardingSink, StreamExecutionEnvironment } from '../../src/index.js';

async function run(env: StreamExecutionEnvironment): Promise<JobMaster> {
  let master: JobMaster | undefined;
  await env.execute('counts', { onStart: (m) => void (master = m) });
  return master!;
}

describe("a job's record counts", () => {
  it('count what one chain read and wrote, with nothing between tasks', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 1, execution: { batchSize: 64 } });
    env
      .fromSequence(1, 10_000)
      .filter((n) => n % 4 === 0)
      .sinkTo(new DiscardingSink());
    const s = (await run(env)).status();
    expect(s.vertices.length).toBe(1);
    expect([s.recordsIn, s.recordsOut]).toEqual([10_000, 2_500]);
    expect(s.vertices.map((v) => [v.recordsIn, v.recordsOut])).toEqual([[10_000, 2_500]]);
  });

  it('count per vertex what it took from sources and other tasks and what it sent on or wrote', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 2, execution: { batchSize: 64 } });
    const numbers = env.fromSequence(1, 6_000);
    const more = env.fromSequence(1, 1_000);
    numbers
      .union(more)
      .keyBy((n) => n % 7)
      .sum()
      .filter((n) => n % 2 === 0)
      .sinkTo(new DiscardingSink());
    const m = await run(env);
    const s = m.status();
    expect(s.recordsIn).toBe(7_000);
    const written = s.recordsOut;
    expect(written).toBeGreaterThan(0);
    expect(written).toBeLessThan(7_000);
    // Sources first (each its own vertex), then the keyed chain that ends in the sink.
    expect(s.vertices.map((v) => [v.recordsIn, v.recordsOut])).toEqual([
      [6_000, 6_000],
      [1_000, 1_000],
      [7_000, written],
    ]);
  });
});
