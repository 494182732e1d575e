// Before a job starts, the folders it will write into (its checkpoint directory, `$WEIR_HOME/jobs`)
// are made and checked, so that a folder that cannot be used ends the run with one line instead
// of failing the job later, or hanging it.
import { mkdir, open, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** `folder` cannot be used; `why` says why, with the system's message when there is one. */
export class FolderUnusableError extends Error {
  override readonly name = 'FolderUnusableError';
  /** E.g. "/a/b cannot be made (EACCES: permission denied, mkdir '/a/b')". */
  readonly why: string;
  constructor(
    readonly folder: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    const why = options?.cause instanceof Error ? `${problem} (${options.cause.message})` : problem;
    super(`${folder} cannot be used: ${why}`, options);
    this.why = why;
  }
}

/**
 * Makes `folder` (and its missing parents, see makeFolder) and writes and removes a file named
 * `probe` in it; throws FolderUnusableError when any of it fails.
 */
export async function makeWritableFolder(folder: string, probe: string): Promise<void> {
  const unusable = (problem: string, cause?: unknown): FolderUnusableError =>
    new FolderUnusableError(folder, problem, cause === undefined ? undefined : { cause });
  await makeFolder(folder);
  // Permissions, a read-only mount or a full disk show only when a file is written.
  const file = join(folder, probe);
  try {
    await writeFile(file, '', { flag: 'wx' });
  } catch (e) {
    throw unusable('a file cannot be written in it', e);
  }
  try {
    await unlink(file);
  } catch (e) {
    throw unusable(`a file written in it (${probe}) cannot be removed`, e);
  }
}

/**
 * Makes `folder` and its missing parents, as `mkdir -p`, each new folder's name made durable
 * (its parent fsynced: a folder's own fsync covers its entries, not its name, so a power loss
 * could take away a new folder with every synced file in it); throws FolderUnusableError when it
 * cannot. One level at a time, not with { recursive: true }: Node's recursive mkdir never
 * returns under /proc, where a folder cannot be made and ENOENT comes back.
 */
export async function makeFolder(folder: string): Promise<void> {
  const unusable = (problem: string, cause?: unknown): FolderUnusableError =>
    new FolderUnusableError(folder, problem, cause === undefined ? undefined : { cause });
  const missing: string[] = [];
  for (let p = folder; ;) {
    let found;
    try {
      found = await stat(p);
    } catch (e) {
      // ENOTDIR: a file on the way up, which the walk reaches and names.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw unusable(`${p} cannot be read`, e);
    }
    if (found !== undefined) {
      if (!found.isDirectory()) throw unusable(`${p} is not a folder`);
      break;
    }
    missing.push(p);
    const parent = dirname(p);
    if (parent === p) throw unusable(`${p} does not exist`);
    p = parent;
  }
  for (const dir of missing.reverse()) {
    try {
      await mkdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw unusable(`${dir} cannot be made`, e);
    }
    try {
      await syncFolderIfAllowed(dirname(dir));
    } catch (e) {
      throw unusable(`${dirname(dir)} cannot be synced`, e);
    }
  }
}

/** Codes of a folder that cannot be opened for its fsync (no read permission) or whose filesystem does not sync folders. */
const CANNOT_SYNC_FOLDER = new Set(['EACCES', 'EPERM', 'EINVAL', 'ENOTSUP', 'EISDIR']);

/**
 * fsyncs a folder so the names in it (files renamed into it, folders made in it) become durable,
 * where that can be done: a parent the user may write into but not read (mode -wx), or a
 * filesystem that refuses to sync folders, cannot be, and weir still runs there as it always
 * did. Other failures (EIO) are thrown.
 */
export async function syncFolderIfAllowed(dir: string): Promise<void> {
  let h;
  try {
    h = await open(dir, 'r');
    await h.sync();
  } catch (e) {
    if (!CANNOT_SYNC_FOLDER.has((e as NodeJS.ErrnoException).code ?? '')) throw e;
  } finally {
    await h?.close();
  }
}
