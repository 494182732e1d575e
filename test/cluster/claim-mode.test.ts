// Ownership of the snapshot a job starts from (issue 4): no-claim (default) never modifies or
// deletes it; claim makes a retained checkpoint the job's own, deleted once a newer checkpoint
// replaces it; a savepoint cannot be claimed.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiscardingSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { RestoreError } from '../../src/cluster/job-launcher.js';
import { fingerprint } from '../tree-fingerprint.js';

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `weir-claim-${prefix}-`));
}

/** Runs a job that fails after two checkpoints and returns its newest retained checkpoint folder. */
async function retainedCheckpoint(dir: string): Promise<string> {
  let master: JobMaster | undefined;
  const env = new StreamExecutionEnvironment({ parallelism: 2, execution: { batchSize: 64 } });
  env.enableCheckpointing(10);
  env.checkpointConfig.setCheckpointStorage(dir);
  env.setRestartStrategy({ type: 'none' });
  env
    .fromSequence(1, 1_000_000)
    .uid('numbers')
    .keyBy((n) => n % 13)
    .reduce((a, b) => a + b)
    .uid('sum')
    .map((n) => {
      if ((master?.completedCheckpoints ?? 0) >= 2) throw new Error('injected failure');
      if (n % 200 === 0) {
        // Slow enough that two checkpoints complete long before the input ends.
        const until = performance.now() + 0.2;
        while (performance.now() < until);
      }
      return n;
    })
    .uid('check')
    .sinkTo(new DiscardingSink());
  await expect(env.execute('claim', { onStart: (m) => void (master = m) })).rejects.toThrow(/injected/);
  const jobDir = join(dir, master!.jobId);
  const chk = readdirSync(jobDir)
    .filter((n) => /^chk-\d+$/.test(n) && existsSync(join(jobDir, n, '_metadata')))
    .sort((a, b) => Number(b.slice(4)) - Number(a.slice(4)))[0];
  expect(chk).toBeDefined();
  return join(jobDir, chk!);
}

/** The same graph (same uids), finishing normally, from `restoreFrom`. */
async function resume(dir: string, restoreFrom: string, claimMode?: 'claim' | 'no-claim'): Promise<number> {
  let master: JobMaster | undefined;
  const env = new StreamExecutionEnvironment({ parallelism: 3, execution: { batchSize: 64 } });
  env.enableCheckpointing(10);
  env.checkpointConfig.setCheckpointStorage(dir);
  env
    .fromSequence(1, 1_000_000)
    .uid('numbers')
    .keyBy((n) => n % 13)
    .reduce((a, b) => a + b)
    .uid('sum')
    .map((n) => n)
    .uid('check')
    .sinkTo(new DiscardingSink());
  await env.execute('claim', { restoreFrom, claimMode, onStart: (m) => void (master = m) });
  return master!.completedCheckpoints;
}

describe('claim mode', () => {
  it('no-claim (the default) leaves the retained checkpoint byte-for-byte as it was', async () => {
    const dir = tmp('no');
    const chk = await retainedCheckpoint(dir);
    const before = fingerprint(chk);
    expect(await resume(dir, chk)).toBeGreaterThan(1);
    expect(await resume(dir, chk, 'no-claim')).toBeGreaterThan(1);
    expect(fingerprint(chk)).toEqual(before);
  });

  it('claim makes the checkpoint the job own: deleted once a newer one completes', async () => {
    const dir = tmp('yes');
    const chk = await retainedCheckpoint(dir);
    expect(await resume(dir, chk, 'claim')).toBeGreaterThan(1);
    expect(existsSync(chk)).toBe(false);
  });

  it('refuses to claim a savepoint', async () => {
    const dir = tmp('sp');
    // A savepoint of the same graph: a job over a sequence too long to end by itself, stopped
    // once it runs, so the stop lands whatever the machine's speed.
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    env.enableCheckpointing(10);
    env.checkpointConfig.setCheckpointStorage(dir);
    env
      .fromSequence(1, 1e12)
      .uid('numbers')
      .keyBy((n) => n % 13)
      .reduce((a, b) => a + b)
      .uid('sum')
      .map((n) => n)
      .uid('check')
      .sinkTo(new DiscardingSink());
    const result = await env.execute('claim', {
      savepointDir: tmp('sps'),
      onStart: (m) => {
        const poll = setInterval(() => {
          try {
            m.stop({});
            clearInterval(poll);
          } catch (e) {
            // Refused while the job is still starting: the next tick tries again.
            expect((e as Error).message).toMatch(/is starting, not running|in progress/);
          }
        }, 5);
      },
    });
    // The job ends only by the stop, so its result names the savepoint.
    const path = result.savepointPath;
    expect(path).toBeDefined();
    const error = await resume(dir, path!, 'claim').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestoreError);
    expect((error as Error).message).toMatch(/is a savepoint, which always stays yours/);
  });
});
