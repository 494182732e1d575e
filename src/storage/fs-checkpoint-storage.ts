// Checkpoint storage on a local or mounted filesystem (ARCHITECTURE.md §8): every file is
// written under a hidden temporary name, fsynced, renamed, and its folder fsynced, so a crash
// leaves either the whole file or none of it; `_metadata` goes last the same way.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import {
  SnapshotNotFoundError,
  type CheckpointListing,
  type CheckpointStorage,
  type SnapshotLocation,
} from './checkpoint-storage.js';
import { StateFileWriter, type ByteSink } from './state-file.js';

export const METADATA_FILE = '_metadata';
const CHECKPOINT_DIR = /^chk-(\d+)$/;

class FsLocation implements SnapshotLocation {
  constructor(readonly dir: string) {}
  get uri(): string {
    return this.dir;
  }
}

function dirOf(location: SnapshotLocation): string {
  if (!(location instanceof FsLocation))
    throw new Error(`internal: ${location.uri} is not a filesystem location`);
  return location.dir;
}

function checkName(relativePath: string): void {
  if (isAbsolute(relativePath) || relativePath.split(/[\\/]/).includes('..'))
    throw new Error(`internal: '${relativePath}' is not a plain relative path`);
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * A data file written in place: nothing refers to it until `_metadata` names it, and a folder
 * without `_metadata` is an unfinished checkpoint that is removed at the next start — so the
 * temporary name and rename would only cost time. commit = fsync; the folder entry is made
 * durable by the fsync of the folder when `_metadata` is renamed into place, which comes after.
 */
class DataFileSink implements ByteSink {
  private constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
  ) {}

  static async create(dir: string, name: string): Promise<DataFileSink> {
    await mkdir(dir, { recursive: true });
    const path = join(dir, name);
    return new DataFileSink(await open(path, 'wx'), path);
  }

  async write(chunk: Uint8Array): Promise<void> {
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done);
      done += bytesWritten;
    }
  }

  async commit(): Promise<void> {
    await this.handle.sync();
    await this.handle.close();
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await unlink(this.path).catch(() => undefined);
  }
}

/** Writes to `.<name>.<random>.tmp`; commit = fsync, rename to `<name>`, fsync the folder. */
class TempFileSink implements ByteSink {
  private constructor(
    private readonly handle: FileHandle,
    private readonly temp: string,
    private readonly target: string,
  ) {}

  static async create(dir: string, name: string): Promise<TempFileSink> {
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `.${name}.${randomBytes(4).toString('hex')}.tmp`);
    return new TempFileSink(await open(temp, 'wx'), temp, join(dir, name));
  }

  async write(chunk: Uint8Array): Promise<void> {
    let done = 0;
    while (done < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, done, chunk.length - done);
      done += bytesWritten;
    }
  }

  async commit(): Promise<void> {
    await this.handle.sync();
    await this.handle.close();
    await rename(this.temp, this.target);
    await fsyncDir(dirname(this.target));
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await unlink(this.temp).catch(() => undefined);
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

  checkpointLocation(jobId: string, checkpointId: number): SnapshotLocation {
    return new FsLocation(join(this.root, jobId, `chk-${checkpointId}`));
  }

  savepointLocation(targetDir: string, jobId: string): SnapshotLocation {
    const name = `savepoint-${jobId.replace(/[^0-9a-zA-Z]/g, '').slice(0, 6)}-${randomBytes(6).toString('hex')}`;
    return new FsLocation(join(resolve(targetDir), name));
  }

  async createStateFile(location: SnapshotLocation, name: string, kind: number): Promise<StateFileWriter> {
    checkName(name);
    const sink = await DataFileSink.create(dirOf(location), name);
    return new StateFileWriter(name, kind, sink);
  }

  async readRange(
    location: SnapshotLocation,
    relativePath: string,
    offset: number,
    length: number,
  ): Promise<Uint8Array> {
    checkName(relativePath);
    const h = await open(join(dirOf(location), relativePath), 'r');
    try {
      const out = Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await h.read(out, done, length - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === length ? out : out.subarray(0, done);
    } finally {
      await h.close();
    }
  }

  async statFile(location: SnapshotLocation, relativePath: string): Promise<{ size: number } | undefined> {
    checkName(relativePath);
    try {
      const s = await stat(join(dirOf(location), relativePath));
      return s.isFile() ? { size: s.size } : undefined;
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async writeMetadata(location: SnapshotLocation, bytes: Uint8Array): Promise<void> {
    const sink = await TempFileSink.create(dirOf(location), METADATA_FILE);
    try {
      await sink.write(bytes);
      await sink.commit();
    } catch (e) {
      await sink.abort();
      throw e;
    }
  }

  async readMetadata(location: SnapshotLocation): Promise<Uint8Array | undefined> {
    try {
      return await readFile(join(dirOf(location), METADATA_FILE));
    } catch (e) {
      if (isMissing(e)) return undefined;
      throw e;
    }
  }

  async listJobs(): Promise<string[]> {
    try {
      const entries = await readdir(this.root, { withFileTypes: true });
      return entries
        .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
        .map((e) => e.name)
        .sort();
    } catch (e) {
      if (isMissing(e)) return [];
      throw e;
    }
  }

  async listCheckpoints(jobId: string): Promise<CheckpointListing[]> {
    const jobDir = join(this.root, jobId);
    let names: string[];
    try {
      names = await readdir(jobDir);
    } catch (e) {
      if (isMissing(e)) return [];
      throw e;
    }
    const out: CheckpointListing[] = [];
    for (const name of names) {
      const m = CHECKPOINT_DIR.exec(name);
      if (m === null) continue;
      const location = new FsLocation(join(jobDir, name));
      const complete = (await this.statFile(location, METADATA_FILE)) !== undefined;
      out.push({ id: Number(m[1]), location, complete });
    }
    return out.sort((a, b) => a.id - b.id);
  }

  async discard(location: SnapshotLocation): Promise<void> {
    const dir = dirOf(location);
    // `_metadata` first: a half-deleted folder must never look like a complete snapshot.
    await unlink(join(dir, METADATA_FILE)).catch((e: unknown) => {
      if (!isMissing(e)) throw e;
    });
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
    const path = resolve(pathOrUri.startsWith('file://') ? new URL(pathOrUri).pathname : pathOrUri);
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
          `${pathOrUri}: not a snapshot; give the savepoint's folder or its ${METADATA_FILE} file`,
        );
      return new FsLocation(dirname(path));
    }
    const location = new FsLocation(path);
    if ((await this.statFile(location, METADATA_FILE)) === undefined)
      throw new SnapshotNotFoundError(
        `${pathOrUri}: no ${METADATA_FILE} in this folder; it is not a savepoint or a completed checkpoint`,
      );
    return location;
  }
}
