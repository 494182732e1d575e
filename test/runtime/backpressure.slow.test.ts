// Acceptance: backpressure bounds memory. A source emitting 5 M records as fast as it can,
// through keyBy at p=4, into a sink that sleeps 1 ms per 1,000 records, must keep the peak RSS
// of the process under 250 MB. Run in a child process so the measurement is the job's alone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

function childScript(channelCapacity: number): string {
  return `
import { StreamExecutionEnvironment } from ${JSON.stringify(src)};
import { setTimeout as sleep } from 'node:timers/promises';
const N = 5_000_000;
let received = 0;
const env = new StreamExecutionEnvironment({ parallelism: 4, execution: { channelCapacity: ${channelCapacity} } });
env
  .fromSequence(1, N)
  .setParallelism(1)
  // ~100 bytes a record: 5 M of them held at once would need far more than 250 MB.
  .map((i) => ({ id: i, key: i % 10_007, text: 'record number ' + i }))
  .setParallelism(1)
  .keyBy((r) => r.key)
  .sinkTo({
    createWriter: () => ({
      async write(records) {
        received += records.length;
        await sleep(records.length / 1000);
      },
    }),
  });
await env.execute('backpressure');
console.log(JSON.stringify({ received, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
`;
}

function run(channelCapacity: number): { received: number; maxRssMb: number } {
  const dir = mkdtempSync(join(tmpdir(), 'weir-bp-'));
  const file = join(dir, 'job.mts');
  writeFileSync(file, childScript(channelCapacity));
  const r = spawnSync(process.execPath, ['--import', 'tsx', file], {
    encoding: 'utf8',
    cwd: fileURLToPath(new URL('../..', import.meta.url)),
    timeout: 240_000,
  });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { received: number; maxRssMb: number };
}

describe('backpressure', () => {
  it('keeps peak RSS under 250 MB with a slow sink', () => {
    const { received, maxRssMb } = run(4);
    expect(received).toBe(5_000_000);
    expect(maxRssMb).toBeLessThan(250);
  }, 240_000);
});
