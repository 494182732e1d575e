// Checkpoints are weir's to delete: retention keeps the newest `numRetained`, and that must hold
// across an in-process restart and across `resume` after the process died — the checkpoints kept
// before stay the job's and go once newer ones replace them, instead of staying on disk for good.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiscardingSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { HookedCount, spin } from './hooked-count.js';

const RECORDS = 400_000;

/** Ids of the completed checkpoints (a `_metadata` in the folder) of every job under `dir`. */
function completedIds(dir: string): number[] {
  const ids: number[] = [];
  for (const job of readdirSync(dir))
    for (const f of readdirSync(join(dir, job)))
      if (f.startsWith('chk-') && existsSync(join(dir, job, f, '_metadata'))) ids.push(Number(f.slice(4)));
  return ids.sort((a, b) => a - b);
}

/** Ids of the newest `n` checkpoints the job completed (in any attempt), oldest first. */
function lastCompleted(master: JobMaster, n: number): number[] {
  const ids = master
    .checkpoints()
    .filter((c) => c.status === 'completed' && c.kind === 'checkpoint')
    .map((c) => c.id)
    .sort((a, b) => a - b);
  expect(ids.length).toBeGreaterThanOrEqual(n);
  return ids.slice(-n);
}

interface RunOptions {
  readonly checkpoints: string;
  readonly beforeRecord?: (n: number, master: JobMaster) => void;
  /** Records are slow until this many checkpoints completed (in all attempts), then fast. */
  readonly slowUntil: number;
  readonly restarts?: boolean;
  readonly resume?: boolean;
}

async function run(o: RunOptions): Promise<{ log: string[]; master: JobMaster }> {
  const env = new StreamExecutionEnvironment({ parallelism: 2, execution: { batchSize: 64 } });
  env.enableCheckpointing(15);
  env.checkpointConfig
    .setCheckpointStorage(o.checkpoints)
    .setNumRetainedCheckpoints(3)
    .setExternalizedCheckpointRetention('retain-on-cancellation');
  env.setRestartStrategy(
    o.restarts === true ? { type: 'fixed-delay', attempts: 1, delayMs: 0 } : { type: 'none' },
  );
  let master: JobMaster | undefined;
  const log: string[] = [];
  env
    .fromSequence(1, RECORDS)
    .setParallelism(1)
    .uid('numbers')
    .keyBy((n) => n % 7)
    .process(
      new HookedCount((n) => {
        o.beforeRecord?.(n, master!);
        if (master!.completedCheckpoints < o.slowUntil && n % 10 === 0) spin(0.1);
      }),
    )
    .uid('count')
    .sinkTo(new DiscardingSink<number>())
    .uid('sink');
  await env.execute('retention', {
    log: (l) => log.push(l),
    onStart: (m) => void (master = m),
    resume: o.resume,
  });
  return { log, master: master! };
}

/** Fails the job once, after `after` checkpoints completed. */
function failOnceAfter(after: number): (n: number, master: JobMaster) => void {
  let failed = false;
  return (_n, master) => {
    if (failed || master.completedCheckpoints < after) return;
    failed = true;
    throw new Error('injected failure');
  };
}

describe('checkpoint retention', () => {
  it('keeps deleting old checkpoints after an in-process restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-retain-restart-'));
    const { master } = await run({
      checkpoints: dir,
      restarts: true,
      beforeRecord: failOnceAfter(5),
      slowUntil: 10,
    });
    expect(master.restoredCheckpointIds.length).toBe(1);
    const last3 = lastCompleted(master, 3);
    expect(last3[0]).toBeGreaterThan(master.restoredCheckpointIds[0]!);
    expect(completedIds(dir)).toEqual(last3);
  });

  it('owns the checkpoints of the run it resumes, and leaves a damaged one in place', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-retain-resume-'));
    // The first run dies (no restarts), keeping its checkpoints as a killed process would.
    await expect(run({ checkpoints: dir, beforeRecord: failOnceAfter(5), slowUntil: 6 })).rejects.toThrow(
      /injected failure/,
    );
    const before = completedIds(dir);
    expect(before.length).toBe(3);
    // Damage the newest: the resume falls back to the one before it.
    const [job] = readdirSync(dir);
    const damaged = join(dir, job!, `chk-${before[2]}`);
    const file = readdirSync(damaged).find((f) => f.endsWith('.state'))!;
    const bytes = readFileSync(join(damaged, file));
    bytes[bytes.length >> 1]! ^= 0xff;
    writeFileSync(join(damaged, file), bytes);

    const { log, master } = await run({ checkpoints: dir, resume: true, slowUntil: 5 });
    expect(
      log.some((l) => l.includes(`checkpoint ${before[2]} of job 'retention' (run ${job}) is unusable`)),
    ).toBe(true);
    expect(log).toContain(`weir: resuming job 'retention' (${job}) from checkpoint ${before[1]}`);
    const last3 = lastCompleted(master, 3);
    expect(last3[0]).toBeGreaterThan(before[2]!);
    // The resumed run's retention removed the first run's older checkpoints; the damaged one stays.
    expect(completedIds(dir)).toEqual([before[2], ...last3]);
  });
});
