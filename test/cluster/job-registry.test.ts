// The job registry under a temporary WEIR_HOME.
import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  AmbiguousJobIdError,
  JobNotFoundError,
  JobRegistry,
  weirHome,
  type JobRegistration,
} from '../../src/cluster/job-registry.js';
import { weirVersion } from '../../src/version.js';

let home: string;
let registry: JobRegistry;

beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'weir-home-'));
  registry = new JobRegistry(home);
});

afterEach(() => {
  rmSync(home, { recursive: true, force: true });
});

function registration(jobId: string, extra: Partial<JobRegistration> = {}): JobRegistration {
  return {
    jobId,
    jobName: `job-${jobId.slice(0, 4)}`,
    restUrl: 'http://127.0.0.1:8081',
    startTime: 1_700_000_000_000,
    checkpointDir: '/tmp/checkpoints',
    ...extra,
  };
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
  await new Promise((r) => child.on('exit', r));
  return child.pid!;
}

describe('JobRegistry', () => {
  it('registers a job as $WEIR_HOME/jobs/<job-id>.json, lists it and unregisters it', async () => {
    const entry = await registry.register(registration('3f2a9c1e-0000-4000-8000-000000000001'));
    expect(entry).toEqual({
      jobId: '3f2a9c1e-0000-4000-8000-000000000001',
      jobName: 'job-3f2a',
      pid: process.pid,
      restUrl: 'http://127.0.0.1:8081',
      startTime: 1_700_000_000_000,
      checkpointDir: '/tmp/checkpoints',
      weirVersion: weirVersion(),
    });
    const file = join(home, 'jobs', '3f2a9c1e-0000-4000-8000-000000000001.json');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ formatVersion: 1, ...entry });
    // Written under a temporary name and renamed: nothing else is left in the folder.
    expect(readdirSync(join(home, 'jobs'))).toEqual(['3f2a9c1e-0000-4000-8000-000000000001.json']);
    expect(await registry.listRegisteredJobs()).toEqual([entry]);

    await registry.unregister(entry.jobId);
    expect(existsSync(file)).toBe(false);
    expect(await registry.listRegisteredJobs()).toEqual([]);
    await registry.unregister(entry.jobId); // already gone: fine
  });

  it('lists nothing when WEIR_HOME has no jobs folder yet', async () => {
    expect(await new JobRegistry(join(home, 'not-there')).listRegisteredJobs()).toEqual([]);
  });

  it('replaces an entry registered again, and lists entries oldest first', async () => {
    await registry.register(registration('bbbb', { startTime: 2 }));
    await registry.register(registration('aaaa', { startTime: 3 }));
    await registry.register(registration('bbbb', { startTime: 1, restUrl: 'http://127.0.0.1:9000' }));
    expect((await registry.listRegisteredJobs()).map((e) => [e.jobId, e.restUrl])).toEqual([
      ['bbbb', 'http://127.0.0.1:9000'],
      ['aaaa', 'http://127.0.0.1:8081'],
    ]);
  });

  it('unregisterSync removes the entry (for exit handlers) and never throws', async () => {
    await registry.register(registration('cccc'));
    registry.unregisterSync('cccc');
    registry.unregisterSync('cccc');
    expect(await registry.listRegisteredJobs()).toEqual([]);
  });

  it('skips and deletes the entries of processes that are gone', async () => {
    const pid = await deadPid();
    await registry.register(registration('dead', { pid }));
    await registry.register(registration('live'));
    expect((await registry.listRegisteredJobs()).map((e) => e.jobId)).toEqual(['live']);
    expect(readdirSync(join(home, 'jobs'))).toEqual(['live.json']);
  });

  it('skips files it cannot use without failing: corrupt, partial, wrong types, unknown version, temporary, folders', async () => {
    await registry.register(registration('good'));
    const dir = join(home, 'jobs');
    const valid = JSON.parse(readFileSync(join(dir, 'good.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(dir, 'garbage.json'), 'not json {');
    writeFileSync(join(dir, 'partial.json'), JSON.stringify(valid).slice(0, 40));
    writeFileSync(join(dir, 'empty.json'), '');
    writeFileSync(join(dir, 'null.json'), 'null');
    writeFileSync(join(dir, 'types.json'), JSON.stringify({ ...valid, jobId: 'types', pid: '123' }));
    writeFileSync(join(dir, 'future.json'), JSON.stringify({ ...valid, jobId: 'future', formatVersion: 2 }));
    writeFileSync(join(dir, '.good.123.abcd.tmp'), JSON.stringify({ ...valid, jobId: 'tmp' }));
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    mkdirSync(join(dir, 'folder.json'));
    expect((await registry.listRegisteredJobs()).map((e) => e.jobId)).toEqual(['good']);
    // Files of unknown state are left for a person to look at; only entries of dead processes are deleted.
    expect(existsSync(join(dir, 'garbage.json'))).toBe(true);
  });

  it('refuses a job id that cannot name a file inside the folder', async () => {
    await expect(registry.register(registration('../escape'))).rejects.toThrow(/cannot name a registry file/);
    await expect(registry.register(registration(''))).rejects.toThrow(/cannot name a registry file/);
  });
});

describe('JobRegistry.findJob', () => {
  beforeEach(async () => {
    await registry.register(registration('ab12cd34-0000-4000-8000-000000000001', { jobName: 'first' }));
    await registry.register(registration('ab12ef56-0000-4000-8000-000000000002', { jobName: 'second' }));
    await registry.register(registration('ab12', { jobName: 'short' }));
  });

  it('finds a job by its full id, and an exact id wins over the ids it starts', async () => {
    expect((await registry.findJob('ab12cd34-0000-4000-8000-000000000001')).jobName).toBe('first');
    expect((await registry.findJob('ab12')).jobName).toBe('short');
  });

  it('finds a job by a prefix only one id starts with', async () => {
    expect((await registry.findJob('ab12c')).jobName).toBe('first');
    expect((await registry.findJob('ab12ef')).jobName).toBe('second');
  });

  it('names the ids an ambiguous prefix matches', async () => {
    const error = await registry.findJob('ab1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AmbiguousJobIdError);
    expect((error as Error).message).toBe(
      "job id 'ab1' matches 3 running jobs (ab12 'short', ab12cd34-0000-4000-8000-000000000001 'first', " +
        "ab12ef56-0000-4000-8000-000000000002 'second'); give more of the id",
    );
  });

  it('says which id has no running job and where to look', async () => {
    const error = await registry.findJob('abc').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobNotFoundError);
    expect((error as Error).message).toBe("no running job with id 'abc' (weir list shows running jobs)");
    await expect(registry.findJob('')).rejects.toThrow(JobNotFoundError);
  });

  it('does not find a job whose process is gone', async () => {
    await registry.register(registration('feed', { pid: await deadPid() }));
    await expect(registry.findJob('feed')).rejects.toThrow(JobNotFoundError);
  });
});

describe('weirHome', () => {
  it('is WEIR_HOME, or ~/.weir when it is unset or empty', () => {
    expect(weirHome({ WEIR_HOME: '/srv/weir' })).toBe('/srv/weir');
    expect(weirHome({})).toBe(join(homedir(), '.weir'));
    expect(weirHome({ WEIR_HOME: '' })).toBe(join(homedir(), '.weir'));
  });
});
