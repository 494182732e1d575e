// Two processes resuming the same run at once would write, retain and delete the same
// checkpoints and commit output twice. A running run is marked (`<job-id>/_running`), so a
// `--resume` that finds it still running is refused before it reads or changes anything, and
// the running job is left to finish.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DiscardingSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { RestoreError } from '../../src/cluster/job-launcher.js';
import { died, run as resumeFallback } from './fallback-job.js';

function job(dir: string, spinUs: number): StreamExecutionEnvironment {
  const env = new StreamExecutionEnvironment({ parallelism: 1 });
  env.enableCheckpointing(20);
  env.checkpointConfig.setCheckpointStorage(dir);
  env
    .fromSequence(1, 20_000)
    .uid('numbers')
    .map((n) => {
      const until = performance.now() + spinUs / 1000;
      while (performance.now() < until);
      return n;
    })
    .uid('slow')
    .keyBy((n) => n % 7)
    .reduce((a, b) => a + b)
    .uid('sum')
    .sinkTo(new DiscardingSink<number>())
    .uid('sink');
  return env;
}

describe('a --resume of a run that still runs', () => {
  it('is refused, naming the process, and the running job finishes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-concurrent-'));
    let master: JobMaster | undefined;
    const first = job(dir, 60).execute('twice', { onStart: (m) => void (master = m), log: () => {} });
    while ((master?.completedCheckpoints ?? 0) < 2) await new Promise((r) => setTimeout(r, 5));
    const runDir = join(dir, master!.jobId);
    expect(readdirSync(runDir)).toContain('_running');
    const log: string[] = [];
    const second = await job(dir, 0)
      .execute('twice', { resume: true, log: (l) => log.push(l) })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(second).toBeInstanceOf(RestoreError);
    expect((second as Error).message).toMatch(
      new RegExp(
        `^job 'twice' \\(run ${master!.jobId}\\) is already running in process ${process.pid} since \\S+ \\(${join(runDir, '_running')}\\); stop or cancel it first`,
      ),
    );
    expect(log).toEqual([]);
    await first;
    expect(existsSync(join(runDir, '_running'))).toBe(false);
    // Now it can be resumed again: it finished, so there is nothing to resume.
    const third = await job(dir, 0).execute('twice', { resume: true, log: (l) => log.push(l) });
    expect(third.jobId).toBe(master!.jobId);
  });

  it('leaves the mark of a process that died as it was when it then finds nothing to resume', async () => {
    const { checkpoints, out, folders } = await died(3);
    for (const f of folders)
      for (const name of readdirSync(f)) if (name.endsWith('.state')) rmSync(join(f, name));
    const run = join(folders[0]!, '..');
    const dead = Number(
      spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
        .stdout,
    );
    const mark = JSON.stringify({ pid: dead, host: hostname(), since: 1, token: 'dead' });
    writeFileSync(join(run, '_running'), mark);
    const before = readdirSync(run).sort();
    const refused = await resumeFallback({ checkpoints, out, resume: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(RestoreError);
    expect((refused as Error).message).toMatch(/^no usable checkpoint of job 'undecodable'/);
    expect(readdirSync(run).sort()).toEqual(before);
    expect(readFileSync(join(run, '_running'), 'utf8')).toBe(mark);
  });
});
