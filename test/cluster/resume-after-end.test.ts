// `--resume` continues a job whose process died. A job that ended — finished, stopped with a
// savepoint, cancelled — removes its checkpoints, so without a record of that end a resume (say,
// after a kill between the final commit and the exit) would start over and write its output twice.
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiscardingSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { HookedCount, spin } from './hooked-count.js';
import { RestoreError } from '../../src/cluster/job-launcher.js';

interface Run {
  readonly log: string[];
  readonly processed: number;
  readonly master: JobMaster | undefined;
  readonly result?: { jobId: string; savepointPath?: string };
  readonly error?: unknown;
}

/**
 * Runs the job (slow until 3 checkpoints completed); `during` is called with the master once
 * they did, e.g. to stop or cancel it.
 */
async function run(
  checkpoints: string,
  o: {
    resume?: boolean;
    during?: (m: JobMaster) => void;
    failAfterCheckpoints?: boolean;
    retention?: 'delete-on-cancellation' | 'retain-on-cancellation' | 'never';
  } = {},
): Promise<Run> {
  const env = new StreamExecutionEnvironment({ parallelism: 2, execution: { batchSize: 64 } });
  env.enableCheckpointing(15);
  env.checkpointConfig.setCheckpointStorage(checkpoints);
  if (o.retention !== undefined) env.checkpointConfig.setExternalizedCheckpointRetention(o.retention);
  env.setRestartStrategy({ type: 'none' });
  let master: JobMaster | undefined;
  let processed = 0;
  let acted = false;
  const log: string[] = [];
  env
    .fromSequence(1, 200_000)
    .setParallelism(1)
    .uid('numbers')
    .keyBy((n) => n % 5)
    .process(
      new HookedCount((n) => {
        processed++;
        const enough = master !== undefined && master.completedCheckpoints >= 3;
        if (!enough && n % 10 === 0) spin(0.1);
        if (enough && !acted) {
          acted = true;
          if (o.failAfterCheckpoints === true) throw new Error('dies');
          o.during?.(master!);
        }
      }),
    )
    .uid('count')
    .sinkTo(new DiscardingSink<number>())
    .uid('sink');
  try {
    const result = await env.execute('ends', {
      resume: o.resume,
      log: (l) => log.push(l),
      onStart: (m) => void (master = m),
    });
    return { log, processed, master, result };
  } catch (error) {
    return { log, processed, master, error };
  }
}

describe('--resume after the job ended', () => {
  it('does nothing after a finished job, and resumes a newer run that died', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const first = await run(dir);
    expect(first.error).toBeUndefined();
    const jobId = first.result!.jobId;
    // The checkpoints are gone; the record of the end is not.
    expect(readdirSync(join(dir, jobId))).toEqual(['_ended']);

    const again = await run(dir, { resume: true });
    expect(again.error).toBeUndefined();
    expect(again.processed).toBe(0);
    expect(again.log).toEqual([
      expect.stringMatching(
        new RegExp(
          `^weir: job 'ends' \\(${jobId}\\) finished at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; nothing to resume \\(run without --resume to run it again\\)$`,
        ),
      ),
    ]);

    // A later run of the same job that dies keeps its checkpoints: resume continues it.
    const died = await run(dir, { failAfterCheckpoints: true });
    expect(String(died.error)).toMatch(/dies/);
    const resumed = await run(dir, { resume: true });
    expect(resumed.error).toBeUndefined();
    expect(
      resumed.log.some((l) =>
        l.startsWith(`weir: resuming job 'ends' (${died.master!.jobId}) from checkpoint `),
      ),
    ).toBe(true);
    expect(resumed.processed).toBeGreaterThan(0);
  });

  it('names the savepoint of a stopped job instead of starting over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const savepoints = mkdtempSync(join(tmpdir(), 'weir-ended-sp-'));
    const stopped = await run(dir, { during: (m) => void m.stop({ targetDir: savepoints }) });
    expect(stopped.error).toBeUndefined();
    const sp = stopped.result!.savepointPath!;
    expect(sp).toContain(savepoints);
    const r = await run(dir, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toContain(
      `job 'ends' (${stopped.result!.jobId}) was stopped with savepoint ${sp} at `,
    );
    expect(String(r.error)).toContain(`continue from it with -s ${sp}, or run without --resume`);
    expect(r.processed).toBe(0);
  });

  it('refuses to start a cancelled job over without being told to', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const cancelled = await run(dir, { during: (m) => m.cancel() });
    expect(cancelled.error).toBeDefined();
    const r = await run(dir, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toMatch(
      /job 'ends' \([0-9a-f-]+\) was cancelled at .* and its checkpoints were removed \(retention\); run without --resume/,
    );
    expect(r.processed).toBe(0);
  });

  it('refuses after a failed job whose checkpoints were removed (retention never)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const failed = await run(dir, { failAfterCheckpoints: true, retention: 'never' });
    expect(String(failed.error)).toMatch(/dies/);
    const r = await run(dir, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toMatch(
      /job 'ends' \([0-9a-f-]+\) failed at .* and its checkpoints were removed/,
    );
    expect(r.processed).toBe(0);
  });

  it('stops at a damaged end record, and at checkpoints older than the newest end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    // Run A dies, keeping its checkpoints; run B, started afresh, finishes.
    const a = await run(dir, { failAfterCheckpoints: true });
    expect(String(a.error)).toMatch(/dies/);
    const b = await run(dir);
    expect(b.error).toBeUndefined();
    const older = await run(dir, { resume: true });
    expect(older.error).toBeInstanceOf(RestoreError);
    expect(String(older.error)).toContain(`job 'ends' (${b.result!.jobId}) ended (finished) at `);
    expect(String(older.error)).toContain(`but run ${a.master!.jobId} left an older checkpoint`);
    expect(older.processed).toBe(0);

    writeFileSync(join(dir, b.result!.jobId, '_ended'), '{"version":1,"jobName":');
    const damaged = await run(dir, { resume: true });
    expect(damaged.error).toBeInstanceOf(RestoreError);
    expect(String(damaged.error)).toContain(`the end record of job ${b.result!.jobId} in `);
    expect(damaged.processed).toBe(0);
  });

  it("sets aside a checkpoint whose _metadata cannot be read only when its folder is another job's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const unreadable = (jobId: string): void => {
      mkdirSync(join(dir, jobId, 'chk-4'), { recursive: true });
      writeFileSync(join(dir, jobId, 'chk-4', '_metadata'), '{"version":3,"jobN');
    };
    // In the folder of a job named otherwise (its end record says so): not this job's.
    unreadable('other-job');
    writeFileSync(
      join(dir, 'other-job', '_ended'),
      JSON.stringify({ version: 1, jobName: 'other', outcome: 'finished', endedAt: Date.now() }),
    );
    const fresh = await run(dir, { resume: true });
    expect(fresh.error).toBeUndefined();
    expect(fresh.log.join('\n')).toMatch(/no checkpoint of job 'ends' .*; starting from the beginning/);

    // In a folder that names no job: it may be this job's newest checkpoint.
    unreadable('unknown-job');
    const blocked = await run(dir, { resume: true });
    expect(blocked.error).toBeInstanceOf(RestoreError);
    expect(String(blocked.error)).toContain("no usable checkpoint of job 'ends'");
    expect(blocked.log.join('\n')).toContain(`${join(dir, 'unknown-job', 'chk-4')}/_metadata`);
    expect(blocked.processed).toBe(0);
  });
});
