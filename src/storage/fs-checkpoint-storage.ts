// Checkpoint storage on a local or mounted filesystem (ARCHITECTURE.md §8): every file is
// written under a hidden temporary name in its folder, fsynced, renamed into place, and the
// folder fsynced, so a crash leaves either the whole file or none of it under its name.
// `_metadata` goes last the same way, and never replaces an existing one (it is linked into
// place, which fails when the name is taken). The writes run on the storage's I/O thread
// (fs-io-worker.js), reads and listings here.
import { randomBytes } from 'node:crypto';
import { lstat, open, readdir, readFile, readlink, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import {
  CheckpointStorageUnusableError,
  METADATA_FILE,
  SnapshotNotFoundError,
  type CheckpointListing,
  type CheckpointStorage,
  type JobLock,
  type JobRecordName,
  type SnapshotLocation,
} from './checkpoint-storage.js';
import { isPortableRelativePath } from './metadata.js';
import { pathOfFileUrl } from './file-url.js';
import { fsIoThread, ThreadFileSink } from './fs-io-thread.js';
import { checkNotRunning, lockJob } from './fs-job-lock.js';
import { StateFileWriter } from './state-file.js';
import { FolderUnusableError, makeWritableFolder } from './writable-folder.js';

const CHECKPOINT_DIR = /^chk-(0|[1-9][0-9]*)$/;
/** A data file name: one plain segment that is neither hidden (temporary) nor reserved (`_…`). */
const DATA_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** A job id as a folder name. */
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

class FsLocation implements SnapshotLocation {
  /**
   * Discarded (an expired or aborted checkpoint): a task that snapshots it late must not make
   * the folder again, which nothing would remove until the job's next start.
   */
  discarded = false;
  constructor(readonly dir: string) {}
  get uri(): string {
    return this.dir;
  }
}

function fsLocation(location: SnapshotLocation): FsLocation {
  if (!(location instanceof FsLocation))
    throw new Error(`internal: ${location.uri} is not a location of a filesystem checkpoint storage`);
  return location;
}

function dirOf(location: SnapshotLocation): string {
  return fsLocation(location).dir;
}

/** A relative path inside a snapshot folder (checked once more; decodeMetadata checks it already). */
function checkRelative(relativePath: string): void {
  if (!isPortableRelativePath(relativePath))
    throw new Error(`internal: '${relativePath}' is not a relative path inside a snapshot folder`);
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Whether `path` exists, and is a file when `file` is asked for. A name that cannot be followed
 * (a symbolic link loop, no permission) counts as there: reading it says what is wrong with it.
 */
async function exists(path: string, file = false): Promise<boolean> {
  try {
    const s = await stat(path);
    return !file || s.isFile();
  } catch (e) {
    if (isMissing(e)) return false;
    return true;
  }
}

/** Random per process (two processes never share a temporary name), then a counter. */
const TEMP_TAG = randomBytes(6).toString('hex');
let tempCount = 0;

function tempName(name: string): string {
  return `.${name}.${TEMP_TAG}${(++tempCount).toString(36)}.tmp`;
}

/**
 * The file's bytes, or undefined when there is none; one that is there but cannot be read is
 * named. A symbolic link to nothing is there (ENOENT from following it is not "no file"): read as
 * none, a lost record would let `--resume` start over and commit output again.
 */
async function readIfPresent(path: string): Promise<Uint8Array | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await readFile(path);
    } catch (e) {
      if (!isMissing(e))
        throw new CheckpointStorageUnusableError(
          `${path}: cannot be read (${(e as Error).message}); repair it or move it away`,
          { cause: e },
        );
      const link = await lstat(path).catch((l: unknown) => {
        if (isMissing(l)) return undefined;
        throw new CheckpointStorageUnusableError(
          `${path}: cannot be read (${(l as Error).message}); repair it or move it away`,
          { cause: l },
        );
      });
      if (link === undefined) return undefined;
      // Written between the read and the lstat: read it again (once).
      if (!link.isSymbolicLink() && attempt < 2) continue;
      const target = link.isSymbolicLink() ? await readlink(path).catch(() => '?') : undefined;
      throw new CheckpointStorageUnusableError(
        `${path}: cannot be read (${target !== undefined ? `a symbolic link to ${target}, which does not exist` : 'it is there but cannot be opened'}); repair it or move it away`,
        { cause: e },
      );
    }
  }
}

export class FsCheckpointStorage implements CheckpointStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get description(): string {
    return this.root;
  }

  async checkUsable(): Promise<void> {
    try {
      await makeWritableFolder(this.root, tempName('probe'));
    } catch (e) {
      if (!(e instanceof FolderUnusableError)) throw e;
      throw new CheckpointStorageUnusableError(
        `checkpoint directory ${this.root} cannot be used: ${e.why}; choose another with --checkpoint-dir (or checkpointConfig.setCheckpointStorage) or make it writable`,
        { cause: e.cause ?? e },
      );
    }
  }

  checkpointLocation(jobId: string, checkpointId: number): SnapshotLocation {
    checkJobId(jobId);
    if (!Number.isSafeInteger(checkpointId) || checkpointId < 0)
      throw new Error(`internal: bad checkpoint id ${checkpointId}`);
    return new FsLocation(join(this.root, jobId, `chk-${checkpointId}`));
  }

  savepointLocation(targetDir: string, jobId: string): SnapshotLocation {
    const prefix = jobId.replace(/[^0-9a-zA-Z]/g, '').slice(0, 6);
    return new FsLocation(join(resolve(targetDir), `savepoint-${prefix}-${randomBytes(6).toString('hex')}`));
  }

  createStateFile(location: SnapshotLocation, name: string, kind: number): StateFileWriter {
    const loc = fsLocation(location);
    const dir = loc.dir;
    if (!DATA_FILE_NAME.test(name))
      throw new Error(`internal: '${name}' is not a plain data file name (letters, digits, . _ -)`);
    // The folder and the temporary file are created while the writer fills its first buffer.
    const sink = new ThreadFileSink(fsIoThread(), dir, tempName(name), name, !loc.discarded);
    return new StateFileWriter(name, kind, sink);
  }

  async readRange(
    location: SnapshotLocation,
    relativePath: string,
    offset: number,
    length: number,
    into?: Uint8Array,
  ): Promise<Uint8Array> {
    checkRelative(relativePath);
    if (into !== undefined && into.length < length)
      throw new Error(`internal: a buffer of ${into.length} bytes cannot take ${length}`);
    const h = await open(join(dirOf(location), relativePath), 'r');
    try {
      const out = into ?? Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await h.read(out, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return out.length === done ? out : out.subarray(0, done);
    } finally {
      await h.close();
    }
  }

  async statFile(location: SnapshotLocation, relativePath: string): Promise<{ size: number } | undefined> {
    checkRelative(relativePath);
    try {
      const s = await stat(join(dirOf(location), relativePath));
      return s.isFile() ? { size: s.size } : undefined;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  writeMetadata(location: SnapshotLocation, bytes: Uint8Array): Promise<void> {
    // On the I/O thread: the folder fsynced (the data files' names, renamed into place without
    // a folder fsync each, are durable first), `_metadata` written through a temporary file and
    // linked into place (create-if-absent), then the folder's own name in its parent (the job's
    // folder, or the savepoint target), made with the first data file: without that a power loss
    // could take the whole completed snapshot away after its sinks committed.
    const dir = dirOf(location);
    return fsIoThread().run({ op: 'metadata', dir, temp: tempName(METADATA_FILE), bytes });
  }

  readMetadata(location: SnapshotLocation): Promise<Uint8Array | undefined> {
    return readIfPresent(join(dirOf(location), METADATA_FILE));
  }

  writeJobRecord(jobId: string, name: JobRecordName, bytes: Uint8Array): Promise<void> {
    checkJobId(jobId);
    const dir = join(this.root, jobId);
    return fsIoThread().run({ op: 'whole', dir, name, temp: tempName(name), bytes });
  }

  lockJob(jobId: string): Promise<JobLock> {
    checkJobId(jobId);
    return lockJob(join(this.root, jobId));
  }

  checkNotRunning(jobId: string): Promise<void> {
    checkJobId(jobId);
    return checkNotRunning(join(this.root, jobId));
  }

  readJobRecord(jobId: string, name: JobRecordName): Promise<Uint8Array | undefined> {
    checkJobId(jobId);
    return readIfPresent(join(this.root, jobId, name));
  }

  async listJobs(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory() && JOB_ID.test(e.name))
        .map((e) => e.name)
        .sort();
    } catch (e) {
      if (isMissing(e)) return [];
      throw e;
    }
  }

  async listCheckpoints(jobId: string): Promise<CheckpointListing[]> {
    checkJobId(jobId);
    const jobDir = join(this.root, jobId);
    let entries;
    try {
      entries = await readdir(jobDir, { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return [];
      throw e;
    }
    const out: CheckpointListing[] = [];
    for (const entry of entries) {
      const m = CHECKPOINT_DIR.exec(entry.name);
      if (m === null || !entry.isDirectory()) continue;
      const location = new FsLocation(join(jobDir, entry.name));
      const complete = await exists(join(location.dir, METADATA_FILE), true);
      out.push({ id: Number(m[1]), location, complete });
    }
    return out.sort((a, b) => a.id - b.id);
  }

  discard(location: SnapshotLocation): Promise<void> {
    // `_metadata` first, durably: a half-removed folder must never look like a complete snapshot.
    const loc = fsLocation(location);
    loc.discarded = true;
    return fsIoThread().run({ op: 'discard', dir: loc.dir });
  }

  async removeIncomplete(jobId: string): Promise<number> {
    let n = 0;
    for (const c of await this.listCheckpoints(jobId)) {
      if (c.complete) continue;
      await fsIoThread().run({ op: 'remove', dir: dirOf(c.location) });
      n++;
    }
    return n;
  }

  async resolve(pathOrUri: string): Promise<SnapshotLocation> {
    // URL schemes ignore case (RFC 3986), as the checkpoint dir's does.
    const fileUrl = /^file:\/\//i.test(pathOrUri);
    if (/^[a-zA-Z][a-zA-Z0-9+.-]+:\/\//.test(pathOrUri) && !fileUrl)
      throw new SnapshotNotFoundError(
        `${pathOrUri}: not a filesystem path; this checkpoint storage (${this.root}) reads local or mounted folders`,
      );
    const path = resolve(
      fileUrl ? pathOfFileUrl(pathOrUri, (m, cause) => new SnapshotNotFoundError(m, { cause })) : pathOrUri,
    );
    let s;
    try {
      s = await stat(path);
    } catch (e) {
      if (isMissing(e))
        throw new SnapshotNotFoundError(
          `${pathOrUri}: no such savepoint or checkpoint (the path does not exist)`,
        );
      throw e;
    }
    if (s.isFile()) {
      if (basename(path) !== METADATA_FILE)
        throw new SnapshotNotFoundError(
          `${pathOrUri}: not a snapshot; give the savepoint's (or checkpoint's) folder or its ${METADATA_FILE} file`,
        );
      return new FsLocation(dirname(path));
    }
    if (!s.isDirectory()) throw new SnapshotNotFoundError(`${pathOrUri}: not a snapshot folder`);
    if (!(await exists(join(path, METADATA_FILE), true))) {
      // A job's folder (or a checkpoint root) given for one of its checkpoints: name them.
      const inside = (await readdir(path).catch(() => [] as string[])).filter((n) => CHECKPOINT_DIR.test(n));
      const completed: string[] = [];
      for (const n of inside) if (await exists(join(path, n, METADATA_FILE), true)) completed.push(n);
      completed.sort((a, b) => Number(b.slice(4)) - Number(a.slice(4)));
      const hint =
        completed.length > 0
          ? `; it holds completed checkpoints (${completed.slice(0, 3).join(', ')}${completed.length > 3 ? ', …' : ''}): give one of them, e.g. ${join(pathOrUri, completed[0]!)}`
          : '';
      throw new SnapshotNotFoundError(
        `${pathOrUri}: no ${METADATA_FILE} in this folder; it is not a savepoint or a completed checkpoint${hint}`,
      );
    }
    return new FsLocation(path);
  }
}

function checkJobId(jobId: string): void {
  if (!JOB_ID.test(jobId)) throw new Error(`internal: '${jobId}' is not a job id`);
}
