// `<job-id>/_running`: a second lock of a run held by a live process is refused; one left by a
// process that died, or unreadable, is taken over; one of another host is refused.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkNotRunning,
  JOB_RUNNING_FILE,
  JobRunningError,
  lockJob,
} from '../../src/storage/fs-job-lock.js';

let dir: string;
beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'weir-job-lock-')), 'job-1');
});
afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

const refusal = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (e: unknown) => e,
  );

/** The id of a process that has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  return Number(r.stdout);
}

describe('job lock', () => {
  it('refuses a second lock while the first is held, and allows one after its release', async () => {
    const first = await lockJob(dir);
    const holder = JSON.parse(readFileSync(join(dir, JOB_RUNNING_FILE), 'utf8')) as {
      pid: number;
      host: string;
    };
    expect(holder).toMatchObject({ pid: process.pid, host: hostname() });
    const e = await refusal(lockJob(dir));
    expect(e).toBeInstanceOf(JobRunningError);
    expect((e as Error).message).toMatch(
      new RegExp(
        `^running in process ${process.pid} since \\S+ \\(${join(dir, JOB_RUNNING_FILE)}\\); stop or cancel it first`,
      ),
    );
    await first.release();
    expect(existsSync(dir)).toBe(false); // an empty run folder is not left behind
    const second = await lockJob(dir);
    await first.release(); // not its lock any more: leaves it
    expect(readdirSync(dir)).toEqual([JOB_RUNNING_FILE]);
    writeFileSync(join(dir, '_ended'), '{}');
    await second.release();
    expect(readdirSync(dir)).toEqual(['_ended']);
  });

  it('takes over a lock left by a process that died, or one that cannot be read', async () => {
    for (const left of [
      JSON.stringify({ pid: deadPid(), host: hostname(), since: 1, token: 'dead' }),
      JSON.stringify({ pid: process.pid, host: hostname(), since: 1, token: 'earlier' }),
      '{"pid":',
    ]) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, JOB_RUNNING_FILE), left);
      const lock = await lockJob(dir);
      expect(readFileSync(join(dir, JOB_RUNNING_FILE), 'utf8')).not.toBe(left);
      expect(readdirSync(dir)).toEqual([JOB_RUNNING_FILE]);
      await lock.release();
    }
  });

  it('checks without changing anything: refuses a live holder, leaves a dead one in place', async () => {
    const lock = await lockJob(dir);
    expect(await refusal(checkNotRunning(dir))).toBeInstanceOf(JobRunningError);
    await lock.release();
    await checkNotRunning(dir);
    mkdirSync(dir, { recursive: true });
    const left = JSON.stringify({ pid: deadPid(), host: hostname(), since: 1, token: 'dead' });
    writeFileSync(join(dir, JOB_RUNNING_FILE), left);
    await checkNotRunning(dir);
    expect(readdirSync(dir)).toEqual([JOB_RUNNING_FILE]);
    expect(readFileSync(join(dir, JOB_RUNNING_FILE), 'utf8')).toBe(left);
  });

  it('refuses a lock of another host, which it cannot tell is stale, naming the file', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, JOB_RUNNING_FILE),
      JSON.stringify({ pid: 1, host: `not-${hostname()}`, since: 0, token: 'x' }),
    );
    const e = await refusal(lockJob(dir));
    expect(e).toBeInstanceOf(JobRunningError);
    expect((e as Error).message).toMatch(
      /^running in process 1 on not-.* since 1970-01-01T00:00:00.000Z \(.*_running\); .* or remove that file if no such process runs it$/,
    );
    expect(readdirSync(dir)).toEqual([JOB_RUNNING_FILE]);
  });
});
