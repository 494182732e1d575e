// Checkpoint storage on a local or mounted filesystem (ARCHITECTURE.md §8): every file is
// written under a hidden temporary name in its folder, fsynced, renamed into place, and the
// folder fsynced, so a crash leaves either the whole file or none of it under its name.
// `_metadata` goes last the same way, and never replaces an existing one (it is linked into
// place, which fails when the name is taken).
import { randomBytes } from 'node:crypto';
import {
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  JOB_END_FILE,
  METADATA_FILE,
  SnapshotAlreadyCompleteError,
  SnapshotNotFoundError,
  type CheckpointListing,
  type CheckpointStorage,
  type SnapshotLocation,
} from './checkpoint-storage.js';
import { isPortableRelativePath } from './metadata.js';
import { DeferredSink } from './deferred-sink.js';
import { StateFileWriter, type ByteSink } from './state-file.js';

const CHECKPOINT_DIR = /^chk-(0|[1-9][0-9]*)$/;
/** A data file name: one plain segment that is neither hidden (temporary) nor reserved (`_…`). */
const DATA_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** A job id as a folder name. */
const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

class FsLocation implements SnapshotLocation {
  private made: Promise<unknown> | undefined;

  constructor(readonly dir: string) {}
  get uri(): string {
    return this.dir;
  }

  /** Creates the folder (with its parents) once for all files of the snapshot. */
  async makeDir(): Promise<void> {
    this.made ??= mkdir(this.dir, { recursive: true }).catch((e: unknown) => {
      this.made = undefined;
      throw e;
    });
    await this.made;
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

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** Whether `path` exists, and is a file when `file` is asked for. */
async function exists(path: string, file = false): Promise<boolean> {
  try {
    const s = await stat(path);
    return !file || s.isFile();
  } catch (e) {
    if (isMissing(e)) return false;
    throw e;
  }
}

/** Random per process (two processes never share a temporary name), then a counter. */
const TEMP_TAG = randomBytes(6).toString('hex');
let tempCount = 0;

function tempName(name: string): string {
  return `.${name}.${TEMP_TAG}${(++tempCount).toString(36)}.tmp`;
}

/** A file's bytes are synced in the background after every this many (see TempFileSink.startSync). */
const SYNC_EVERY_BYTES = 16 << 20;

/**
 * Bytes written to `.<name>.<random>.tmp` in the target's folder; commit = fsync, then
 * `publish` (rename, or link for create-if-absent), then fsync of the folder — except for a
 * snapshot's data files, whose names the folder's fsync before `_metadata` makes durable
 * (writeMetadata): a snapshot exists only once `_metadata` does.
 */
class TempFileSink implements ByteSink {
  private position = 0;
  private done = false;
  /** Bytes written since the last background sync was started. */
  private unsynced = 0;
  private syncing: Promise<void> | undefined;
  /** A background sync failed: the file is not durable (Linux reports it to one fsync only). */
  private syncFailure: { error: unknown } | undefined;

  private constructor(
    private readonly handle: FileHandle,
    private readonly temp: string,
    private readonly target: string,
    private readonly publish: (temp: string, target: string) => Promise<void>,
    private readonly syncDir: boolean,
  ) {}

  static async create(
    dir: string,
    name: string,
    publish: (temp: string, target: string) => Promise<void>,
    options: { syncDir?: boolean; madeDir?: boolean } = {},
  ): Promise<TempFileSink> {
    if (options.madeDir !== true) await mkdir(dir, { recursive: true });
    const temp = join(dir, tempName(name));
    return new TempFileSink(await open(temp, 'wx'), temp, join(dir, name), publish, options.syncDir ?? true);
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.syncFailure !== undefined) throw this.syncFailure.error;
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, off, chunk.length - off, this.position);
      off += bytesWritten;
      this.position += bytesWritten;
      this.unsynced += bytesWritten;
    }
    if (this.unsynced >= SYNC_EVERY_BYTES && this.syncing === undefined) this.startSync();
  }

  /**
   * Starts writing back what was written so far while more is written: without it the kernel
   * keeps a large file's pages dirty until commit's fsync, which then writes them all while
   * nothing else happens.
   */
  private startSync(): void {
    this.unsynced = 0;
    this.syncing = this.handle.datasync().then(
      () => {
        this.syncing = undefined;
      },
      (error: unknown) => {
        this.syncFailure ??= { error };
        this.syncing = undefined;
      },
    );
  }

  async commit(): Promise<void> {
    await this.syncing;
    if (this.syncFailure !== undefined) throw this.syncFailure.error;
    await this.handle.sync();
    await this.handle.close();
    this.done = true;
    await this.publish(this.temp, this.target);
    if (this.syncDir) await fsyncDir(dirname(this.target));
  }

  async abort(): Promise<void> {
    if (!this.done) {
      this.done = true;
      await this.syncing;
      await this.handle.close().catch(() => undefined);
    }
    await unlink(this.temp).catch((e: unknown) => {
      if (!isMissing(e)) throw e;
    });
  }
}

/** A small file written whole through a temp file: durable, and visible only complete. */
async function writeWhole(
  dir: string,
  name: string,
  bytes: Uint8Array,
  publish: (temp: string, target: string) => Promise<void>,
  options: { madeDir?: boolean } = {},
): Promise<void> {
  const sink = await TempFileSink.create(dir, name, publish, options);
  try {
    await sink.write(bytes);
    await sink.commit();
  } catch (e) {
    await sink.abort().catch(() => undefined);
    throw e;
  }
}

async function readIfPresent(path: string): Promise<Uint8Array | undefined> {
  try {
    return await readFile(path);
  } catch (e) {
    if (isMissing(e)) return undefined;
    throw e;
  }
}

async function renameInto(temp: string, target: string): Promise<void> {
  await rename(temp, target);
}

/** Create-if-absent: link() fails with EEXIST when the name is taken; rename() would replace it. */
async function linkInto(temp: string, target: string): Promise<void> {
  try {
    await link(temp, target);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST')
      throw new SnapshotAlreadyCompleteError(
        `${target} exists already: a completed snapshot is never overwritten`,
        { cause: e },
      );
    // Filesystems without hard links (some network and FUSE mounts): check, then rename.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    if (await exists(target))
      throw new SnapshotAlreadyCompleteError(
        `${target} exists already: a completed snapshot is never overwritten`,
      );
    await rename(temp, target);
    return;
  }
  await unlink(temp);
}

export class FsCheckpointStorage implements CheckpointStorage {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get description(): string {
    return this.root;
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
    const opening = (async (): Promise<ByteSink> => {
      if (await exists(join(dir, METADATA_FILE)))
        throw new SnapshotAlreadyCompleteError(
          `${dir} is a completed snapshot (it has ${METADATA_FILE}); ${name} cannot be added to it`,
        );
      await loc.makeDir();
      return TempFileSink.create(dir, name, renameInto, { syncDir: false, madeDir: true });
    })();
    return new StateFileWriter(name, kind, new DeferredSink(opening));
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

  async writeMetadata(location: SnapshotLocation, bytes: Uint8Array): Promise<void> {
    const loc = fsLocation(location);
    const dir = loc.dir;
    // The data files' names (renamed into place without a folder fsync each) are durable first.
    await loc.makeDir();
    await fsyncDir(dir);
    await writeWhole(dir, METADATA_FILE, bytes, linkInto, { madeDir: true });
    // And the folder's own name in its parent (the job's folder, or the savepoint target), made
    // when the first data file was created: without it a power loss could take the whole
    // completed snapshot away after its sinks committed.
    await fsyncDir(dirname(dir));
  }

  readMetadata(location: SnapshotLocation): Promise<Uint8Array | undefined> {
    return readIfPresent(join(dirOf(location), METADATA_FILE));
  }

  writeJobEnd(jobId: string, bytes: Uint8Array): Promise<void> {
    checkJobId(jobId);
    return writeWhole(join(this.root, jobId), JOB_END_FILE, bytes, renameInto);
  }

  readJobEnd(jobId: string): Promise<Uint8Array | undefined> {
    checkJobId(jobId);
    return readIfPresent(join(this.root, jobId, JOB_END_FILE));
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

  async discard(location: SnapshotLocation): Promise<void> {
    const dir = dirOf(location);
    // `_metadata` first, durably: a half-removed folder must never look like a complete snapshot.
    try {
      await unlink(join(dir, METADATA_FILE));
      await fsyncDir(dir);
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
    await rm(dir, { recursive: true, force: true });
  }

  async removeIncomplete(jobId: string): Promise<number> {
    let n = 0;
    for (const c of await this.listCheckpoints(jobId)) {
      if (c.complete) continue;
      await rm(dirOf(c.location), { recursive: true, force: true });
      n++;
    }
    return n;
  }

  async resolve(pathOrUri: string): Promise<SnapshotLocation> {
    if (/^[a-zA-Z][a-zA-Z0-9+.-]+:\/\//.test(pathOrUri) && !pathOrUri.startsWith('file://'))
      throw new SnapshotNotFoundError(
        `${pathOrUri}: not a filesystem path; this checkpoint storage (${this.root}) reads local or mounted folders`,
      );
    const path = resolve(pathOrUri.startsWith('file://') ? fileURLToPath(pathOrUri) : pathOrUri);
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
    if (!(await exists(join(path, METADATA_FILE), true)))
      throw new SnapshotNotFoundError(
        `${pathOrUri}: no ${METADATA_FILE} in this folder; it is not a savepoint or a completed checkpoint`,
      );
    return new FsLocation(path);
  }
}

function checkJobId(jobId: string): void {
  if (!JOB_ID.test(jobId)) throw new Error(`internal: '${jobId}' is not a job id`);
}
