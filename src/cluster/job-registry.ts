// Where running jobs make themselves findable (ARCHITECTURE.md §9): each one writes
// `$WEIR_HOME/jobs/<job-id>.json` when it starts and removes it when it ends, so `weir list`,
// `weir checkpoints <job-id>` and the commands after them can reach its REST API.
//
// A process killed with SIGKILL cannot remove its file; readers treat an entry whose pid is no
// longer alive as stale and delete it. Files are written to a temporary name and renamed, so a
// reader sees a whole entry or none; a file that is still unreadable (a disk error, a hand edit)
// is skipped, never fatal.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FolderUnusableError, makeWritableFolder } from '../storage/writable-folder.js';
import { weirVersion } from '../version.js';

/** What one running job registers. */
export interface RegisteredJob {
  readonly jobId: string;
  readonly jobName: string;
  readonly pid: number;
  /** Base URL of its REST API, e.g. `http://127.0.0.1:8081`. */
  readonly restUrl: string;
  /** Epoch milliseconds. */
  readonly startTime: number;
  readonly checkpointDir: string | null;
  readonly weirVersion: string;
}

/** What the executor gives register(); pid and weirVersion default to this process's. */
export type JobRegistration = Omit<RegisteredJob, 'pid' | 'weirVersion'> &
  Partial<Pick<RegisteredJob, 'pid' | 'weirVersion'>>;

/** The version of the entry file; a reader skips entries of versions it does not know. */
const FORMAT_VERSION = 1;

/** `$WEIR_HOME`, defaulting to `~/.weir`. */
export function weirHome(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const home = env.WEIR_HOME;
  return home !== undefined && home !== '' ? home : join(homedir(), '.weir');
}

/** No registered running job has this id (or an id starting with it): the user must fix the id (exit 2). */
export class JobNotFoundError extends Error {
  override readonly name = 'JobNotFoundError';
  constructor(readonly idOrPrefix: string) {
    super(`no running job with id '${idOrPrefix}' (weir list shows running jobs)`);
  }
}

/**
 * `$WEIR_HOME/jobs` cannot be made, written or read: a configuration problem for the user (exit
 * 2), found before a job starts (checkUsable) or when the registry is read.
 */
export class JobRegistryUnusableError extends Error {
  override readonly name = 'JobRegistryUnusableError';
  constructor(dir: string, why: string, options?: { cause?: unknown }) {
    super(
      `the job registry ${dir} ($WEIR_HOME/jobs) cannot be used: ${why}; set WEIR_HOME to a folder you can write (it defaults to ~/.weir)`,
      options,
    );
  }
}

/** Several running jobs have ids starting with the prefix given (exit 2). */
export class AmbiguousJobIdError extends Error {
  override readonly name = 'AmbiguousJobIdError';
  constructor(
    readonly prefix: string,
    readonly matches: readonly RegisteredJob[],
  ) {
    super(
      `job id '${prefix}' matches ${matches.length} running jobs (${matches
        .map((m) => `${m.jobId} '${m.jobName}'`)
        .join(', ')}); give more of the id`,
    );
  }
}

/** Job ids become file names: allow what a uuid or a user-chosen id reasonably holds, nothing that escapes the folder. */
function checkJobId(jobId: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(jobId) || jobId.length > 200) {
    throw new Error(`internal: job id '${jobId}' cannot name a registry file`);
  }
}

export class JobRegistry {
  /** `$WEIR_HOME/jobs`. */
  readonly dir: string;

  /** `home` is `$WEIR_HOME`; see weirHome(). */
  constructor(home: string = weirHome()) {
    this.dir = join(home, 'jobs');
  }

  /**
   * Makes the registry's folder if it is missing and checks that an entry can be written there;
   * throws JobRegistryUnusableError. `weir run` calls it before the job starts.
   */
  async checkUsable(): Promise<void> {
    try {
      // Starts with '.', so readers never take it for an entry.
      await makeWritableFolder(this.dir, `.probe.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    } catch (e) {
      if (!(e instanceof FolderUnusableError)) throw e;
      throw new JobRegistryUnusableError(this.dir, e.why, { cause: e.cause ?? e });
    }
  }

  /** Where the job's entry is (or would be), for messages. */
  entryPath(jobId: string): string {
    return this.fileOf(jobId);
  }

  private fileOf(jobId: string): string {
    checkJobId(jobId);
    return join(this.dir, `${jobId}.json`);
  }

  /** Writes the job's entry atomically (temporary name, then rename); replaces an older entry of the same id. */
  async register(registration: JobRegistration): Promise<RegisteredJob> {
    const entry: RegisteredJob = {
      jobId: registration.jobId,
      jobName: registration.jobName,
      pid: registration.pid ?? process.pid,
      restUrl: registration.restUrl,
      startTime: registration.startTime,
      checkpointDir: registration.checkpointDir,
      weirVersion: registration.weirVersion ?? weirVersion(),
    };
    const file = this.fileOf(entry.jobId);
    // Starts with '.', so readers never take it for an entry.
    const temp = join(this.dir, `.${entry.jobId}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(temp, JSON.stringify({ formatVersion: FORMAT_VERSION, ...entry }, null, 2) + '\n', {
        mode: 0o600,
      });
      await rename(temp, file);
    } catch (e) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new JobRegistryUnusableError(
        this.dir,
        `the job's entry cannot be written (${(e as Error).message})`,
        {
          cause: e,
        },
      );
    }
    return entry;
  }

  /** Removes the job's entry; nothing happens when there is none. */
  async unregister(jobId: string): Promise<void> {
    await rm(this.fileOf(jobId), { force: true });
  }

  /**
   * unregister() for `process.on('exit')` and signal handlers that end with process.exit(),
   * where nothing asynchronous runs any more. Never throws.
   */
  unregisterSync(jobId: string): void {
    try {
      rmSync(this.fileOf(jobId), { force: true });
    } catch {
      // Leaving a stale entry is harmless: readers remove it once the pid is gone.
    }
  }

  /**
   * Entries of running jobs, oldest first. Entries whose process is gone are deleted; files that
   * cannot be read or parsed, and entries of an unknown format version, are skipped.
   */
  async listRegisteredJobs(): Promise<RegisteredJob[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new JobRegistryUnusableError(this.dir, `it cannot be read (${(e as Error).message})`, {
        cause: e,
      });
    }
    const entries: RegisteredJob[] = [];
    for (const name of names) {
      if (name.startsWith('.') || !name.endsWith('.json')) continue;
      const file = join(this.dir, name);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch {
        continue; // removed meanwhile, a folder, unreadable
      }
      const entry = parseEntry(text);
      if (entry === undefined) continue;
      if (!isAlive(entry.pid)) {
        await rm(file, { force: true }).catch(() => undefined);
        continue;
      }
      entries.push(entry);
    }
    return entries.sort((a, b) => a.startTime - b.startTime || a.jobId.localeCompare(b.jobId));
  }

  /**
   * The running job with this id, or the only one whose id starts with it.
   * Throws JobNotFoundError or AmbiguousJobIdError.
   */
  async findJob(idOrPrefix: string): Promise<RegisteredJob> {
    return pickJob(await this.listRegisteredJobs(), idOrPrefix);
  }
}

/** findJob's decision over entries already read: an exact id wins, else a unique prefix. */
export function pickJob(entries: readonly RegisteredJob[], idOrPrefix: string): RegisteredJob {
  const exact = entries.find((e) => e.jobId === idOrPrefix);
  if (exact !== undefined) return exact;
  const matches = idOrPrefix === '' ? [] : entries.filter((e) => e.jobId.startsWith(idOrPrefix));
  if (matches.length === 1) return matches[0]!;
  if (matches.length === 0) throw new JobNotFoundError(idOrPrefix);
  throw new AmbiguousJobIdError(idOrPrefix, matches);
}

/** An entry of a known version with every field of the right type, else undefined. */
export function parseEntry(text: string): RegisteredJob | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (r.formatVersion !== FORMAT_VERSION) return undefined;
  if (
    typeof r.jobId !== 'string' ||
    typeof r.jobName !== 'string' ||
    typeof r.pid !== 'number' ||
    !Number.isSafeInteger(r.pid) ||
    r.pid <= 0 ||
    typeof r.restUrl !== 'string' ||
    typeof r.startTime !== 'number' ||
    (r.checkpointDir !== null && typeof r.checkpointDir !== 'string') ||
    typeof r.weirVersion !== 'string'
  ) {
    return undefined;
  }
  return {
    jobId: r.jobId,
    jobName: r.jobName,
    pid: r.pid,
    restUrl: r.restUrl,
    startTime: r.startTime,
    checkpointDir: r.checkpointDir,
    weirVersion: r.weirVersion,
  };
}

/** Whether a process with this pid exists (EPERM: it does, it belongs to another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
