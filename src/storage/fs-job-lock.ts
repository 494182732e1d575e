// `<root>/<job-id>/_running`: which process runs a job's run now, so that a second `weir run
// --resume` of the same run, started while the first still runs, is refused instead of both
// writing, retaining and deleting the same checkpoints (and committing output twice). A line of
// JSON: process id, host, start time and a random token.
//
// The file is made whole under a temporary name and linked into place, which fails when the
// name is taken, so a reader never sees half of one. A process that died (SIGKILL, power loss)
// leaves its file behind: on the same host a holder whose process no longer exists is taken
// over; on another host nothing tells, so the run is refused and the message names the file.
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, rmdir, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { CheckpointStorageUnusableError, JobRunningError, type JobLock } from './checkpoint-storage.js';
import { syncFolderIfAllowed } from './writable-folder.js';

export { JobRunningError } from './checkpoint-storage.js';

export const JOB_RUNNING_FILE = '_running';

interface Holder {
  readonly pid: number;
  readonly host: string;
  readonly since: number;
  readonly token: string;
}

/** Lock files this process holds (a holder with this process's id is stale unless listed here). */
const held = new Set<string>();

function parse(text: string | undefined): Holder | undefined {
  if (text === undefined) return undefined;
  try {
    const h = JSON.parse(text) as Partial<Holder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.token === 'string')
      return { pid: h.pid, host: h.host, since: typeof h.since === 'number' ? h.since : 0, token: h.token };
  } catch {
    // unreadable: a leftover no process can be named by
  }
  return undefined;
}

function alive(h: Holder, path: string): boolean {
  if (h.host !== hostname()) return true;
  if (h.pid === process.pid) return held.has(path);
  try {
    process.kill(h.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const readText = (path: string): Promise<string | undefined> =>
  readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new CheckpointStorageUnusableError(
      `${path}: the run mark cannot be read (${e.message}); remove it if no process runs this job`,
      { cause: e },
    );
  });

function running(path: string, h: Holder): JobRunningError {
  const where = h.host === hostname() ? `process ${h.pid}` : `process ${h.pid} on ${h.host}`;
  return new JobRunningError(
    `running in ${where} since ${new Date(h.since).toISOString()} (${path}); ` +
      `stop or cancel it first, or remove that file if no such process runs it`,
  );
}

/** JobRunningError when a live process holds `<jobDir>/_running`; changes nothing either way. */
export async function checkNotRunning(jobDir: string): Promise<void> {
  const path = join(jobDir, JOB_RUNNING_FILE);
  const holder = parse(await readText(path));
  if (holder !== undefined && alive(holder, path)) throw running(path, holder);
}

/** Takes `<jobDir>/_running` for this process; JobRunningError when a live process holds it. */
export async function lockJob(jobDir: string): Promise<JobLock> {
  // The job's folder will hold its checkpoints and its `_committed`: its name must outlive a
  // power loss as they do (the checkpoint dir itself was made, durably, before the job started).
  const first = await mkdir(jobDir, { recursive: true });
  if (first !== undefined)
    for (let made = resolve(jobDir); ; made = dirname(made)) {
      await syncFolderIfAllowed(dirname(made));
      if (made === resolve(first) || dirname(made) === made) break;
    }
  const path = join(jobDir, JOB_RUNNING_FILE);
  const mine: Holder = {
    pid: process.pid,
    host: hostname(),
    since: Date.now(),
    token: randomBytes(8).toString('hex'),
  };
  const text = `${JSON.stringify(mine)}\n`;
  const temp = join(jobDir, `.${JOB_RUNNING_FILE}.${mine.token}.tmp`);
  await writeFile(temp, text);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(temp, path);
        held.add(path);
        return {
          async release() {
            held.delete(path);
            if ((await readText(path)) !== text) return;
            await unlink(path).catch(() => undefined);
            // A run that ended before its first checkpoint leaves no empty folder behind (a
            // folder holding anything stays: rmdir refuses it).
            await rmdir(jobDir).catch(() => undefined);
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const seen = await readText(path);
      const holder = parse(seen);
      if (holder !== undefined && alive(holder, path)) throw running(path, holder);
      // A leftover: moved aside under a name of this process's own, then checked to be the one
      // read (another process may have taken it over meanwhile: then it is put back).
      const aside = join(jobDir, `.${JOB_RUNNING_FILE}.${mine.token}.stale`);
      try {
        await rename(path, aside);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      const moved = await readText(aside);
      if (moved !== seen) {
        await link(aside, path).catch(() => undefined);
        await unlink(aside).catch(() => undefined);
        const now = parse(moved);
        if (now !== undefined) throw running(path, now);
        continue;
      }
      await unlink(aside).catch(() => undefined);
    }
    throw new JobRunningError(`being started by another process at the same moment (${path}); try again`);
  } finally {
    await unlink(temp).catch(() => undefined);
  }
}
