// `--resume` of a run started with -s (its `_committed` names the snapshot, `from`): a live run is
// "already running", and one started from a checkpoint of the job that is still there resumes it.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiscardingSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { HookedCount, spin } from './hooked-count.js';
import { died, lines, run as fallbackRun } from './fallback-job.js';

interface Outcome {
  master: JobMaster | undefined;
  result?: { jobId: string; savepointPath?: string };
  error?: unknown;
}

async function job(
  dir: string,
  o: { intervalMs: number; restoreFrom?: string; resume?: boolean; onRecord?: (m: JobMaster) => void },
): Promise<Outcome> {
  const env = new StreamExecutionEnvironment({ parallelism: 1, execution: { batchSize: 64 } });
  env.enableCheckpointing(o.intervalMs);
  env.checkpointConfig.setCheckpointStorage(dir);
  env.setRestartStrategy({ type: 'none' });
  let master: JobMaster | undefined;
  env
    .fromSequence(1, 400_000)
    .setParallelism(1)
    .uid('numbers')
    .keyBy((n) => n % 5)
    .process(
      new HookedCount(() => {
        o.onRecord?.(master!);
        spin(0.01);
      }),
    )
    .uid('count')
    .sinkTo(new DiscardingSink<number>())
    .uid('sink');
  try {
    const result = await env.execute('started-from', {
      resume: o.resume,
      restoreFrom: o.restoreFrom,
      log: () => undefined,
      onStart: (m) => void (master = m),
    });
    return { master, result };
  } catch (error) {
    return { master, error };
  }
}

/** A savepoint of the job, taken by a stop after two checkpoints. */
async function savepoint(): Promise<string> {
  const target = mkdtempSync(join(tmpdir(), 'weir-sf-sp-'));
  let asked = false;
  const first = await job(mkdtempSync(join(tmpdir(), 'weir-sf-chk0-')), {
    intervalMs: 15,
    onRecord: (m) => {
      if (!asked && m.completedCheckpoints >= 2) {
        asked = true;
        m.stop({ targetDir: target });
      }
    },
  });
  expect(first.error).toBeUndefined();
  return first.result!.savepointPath!;
}

describe('--resume of a run started with -s', () => {
  it('refuses as already running while that run still runs, before its first checkpoint', async () => {
    const sp = await savepoint();
    const dir = mkdtempSync(join(tmpdir(), 'weir-sf-chk-'));
    let second: Promise<Outcome> | undefined;
    let done = false;
    const b = job(dir, {
      intervalMs: 3_600_000,
      restoreFrom: sp,
      onRecord: (m) => {
        second ??= job(dir, { intervalMs: 15, resume: true }).then((r) => {
          done = true;
          m.cancel();
          return r;
        });
        if (!done) spin(0.05);
      },
    });
    await b;
    const r = await second!;
    expect(String(r.error)).toMatch(/is already running/);
    expect(String(r.error)).not.toMatch(/continue from it with -s/);
  }, 60_000);

  it('resumes the checkpoint of the job it started from, when that checkpoint is still there, exactly once', async () => {
    const { straight, checkpoints, out, folders } = await died(3);
    // The dead run continued by hand from its newest checkpoint (no claim), in the same folder,
    // dying at once.
    await expect(fallbackRun({ checkpoints, out, restoreFrom: folders[2], dieAfter: 0 })).rejects.toThrow(
      /injected failure/,
    );
    await fallbackRun({ checkpoints, out, resume: true });
    expect(lines(out)).toBe(straight);
  }, 120_000);
});
