// @ts-check
// The filesystem storage's writes, on a thread of their own (see fs-io-thread.ts). A checkpoint
// every 100 ms makes dozens of filesystem calls (create, write, fsync, close, rename, `_metadata`,
// folder fsyncs, removing the subsumed checkpoint); each costs the task's thread a promise round
// trip of some 40 µs, and that thread is the one processing records. Here they cost it a message.
//
// Plain JavaScript on purpose: a worker is started from a file, and this one must load the same
// way under tsx, vitest and the compiled package, none of which share a TypeScript loader with it.
// The calls stay asynchronous, so several files are written (and fsynced) at once, as before.
import { link, mkdir, open, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { isMainThread, parentPort } from 'node:worker_threads';

const METADATA_FILE = '_metadata';
/** A file's bytes are synced in the background after every this many (see OpenFile.write). */
const SYNC_EVERY_BYTES = 16 << 20;

/** @param {unknown} e */
function isMissing(e) {
  return /** @type {NodeJS.ErrnoException} */ (e).code === 'ENOENT';
}

/** @param {string} dir */
async function fsyncDir(dir) {
  const h = await open(dir, 'r');
  try {
    await h.sync();
  } finally {
    await h.close();
  }
}

/** @param {string} path */
async function exists(path) {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (isMissing(e)) return false;
    throw e;
  }
}

/** A failure the calling side turns into its own error class (`kind`), or a plain system error. */
class IoFailure extends Error {
  /** @param {string} kind @param {string} message @param {unknown} [cause] the system error behind it */
  constructor(kind, message, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.kind = kind;
  }
}

/**
 * Moves `temp` to `target`. `createOnly`: never replaces `target` (link() fails with EEXIST
 * when the name is taken; rename() would replace it).
 * @param {string} temp @param {string} target @param {boolean} createOnly
 */
async function publish(temp, target, createOnly) {
  if (!createOnly) return rename(temp, target);
  const taken = (/** @type {unknown} */ cause) =>
    new IoFailure('complete', `${target} exists already: a completed snapshot is never overwritten`, cause);
  try {
    await link(temp, target);
  } catch (e) {
    const code = /** @type {NodeJS.ErrnoException} */ (e).code;
    if (code === 'EEXIST') throw taken(e);
    // Filesystems without hard links (some network and FUSE mounts): check, then rename.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw e;
    if (await exists(target)) throw taken(undefined);
    return rename(temp, target);
  }
  await unlink(temp);
}

/**
 * A file written under its temporary name; `commit` = fsync, close, publish (and the folder's
 * fsync when asked: a snapshot's data files have their names made durable by the one folder
 * fsync before `_metadata`).
 */
class OpenFile {
  /** @param {import('node:fs/promises').FileHandle} handle @param {string} temp @param {string} target */
  constructor(handle, temp, target) {
    this.handle = handle;
    this.temp = temp;
    this.target = target;
    this.position = 0;
    this.unsynced = 0;
    this.done = false;
    /** @type {Promise<void> | undefined} */
    this.syncing = undefined;
    /** @type {{ error: unknown } | undefined} A background sync failed: Linux reports it to one fsync only. */
    this.syncFailure = undefined;
  }

  /** @param {Uint8Array} chunk */
  async write(chunk) {
    if (this.syncFailure !== undefined) throw this.syncFailure.error;
    let off = 0;
    while (off < chunk.length) {
      const { bytesWritten } = await this.handle.write(chunk, off, chunk.length - off, this.position);
      off += bytesWritten;
      this.position += bytesWritten;
      this.unsynced += bytesWritten;
    }
    // Writing back what was written so far while more comes: else the commit's fsync would
    // write a large file's every page while nothing else happens.
    if (this.unsynced >= SYNC_EVERY_BYTES && this.syncing === undefined) {
      this.unsynced = 0;
      this.syncing = this.handle.datasync().then(
        () => {
          this.syncing = undefined;
        },
        (error) => {
          this.syncFailure ??= { error };
          this.syncing = undefined;
        },
      );
    }
  }

  /** @param {boolean} createOnly @param {boolean} syncDir */
  async commit(createOnly, syncDir) {
    await this.syncing;
    if (this.syncFailure !== undefined) throw this.syncFailure.error;
    await this.handle.sync();
    await this.handle.close();
    this.done = true;
    await publish(this.temp, this.target, createOnly);
    if (syncDir) await fsyncDir(dirname(this.target));
  }

  async abort() {
    if (!this.done) {
      this.done = true;
      await this.syncing;
      await this.handle.close().catch(() => undefined);
    }
    await unlink(this.temp).catch((e) => {
      if (!isMissing(e)) throw e;
    });
  }
}

/** @param {string} dir @param {string} temp @param {string} name */
async function openFile(dir, temp, name) {
  const tempPath = join(dir, temp);
  return new OpenFile(await open(tempPath, 'wx'), tempPath, join(dir, name));
}

/**
 * A small file written whole through a temporary file: durable, and visible only complete.
 * @param {string} dir @param {string} temp @param {string} name @param {Uint8Array} bytes @param {boolean} createOnly
 */
async function writeWhole(dir, temp, name, bytes, createOnly) {
  const f = await openFile(dir, temp, name);
  try {
    await f.write(bytes);
    await f.commit(createOnly, true);
  } catch (e) {
    await f.abort().catch(() => undefined);
    throw e;
  }
}

/**
 * Makes `dir` and its missing parents, the name of each new one made durable in its parent (a
 * folder's fsync covers its entries, not its own name): else a power loss could take away a new
 * job folder with its synced checkpoints and `_committed`. `ownName` false leaves `dir`'s own
 * name to the caller (a snapshot folder's is synced by `metadata`, after its files). One level
 * at a time, as writable-folder.ts: Node's recursive mkdir never returns under /proc (a savepoint
 * targeted there spun a thread of the pool for good, and the process could not even exit).
 * @param {string} dir @param {boolean} ownName
 */
async function makeDurableDir(dir, ownName) {
  const target = resolve(dir);
  const missing = [];
  for (let p = target; ; p = dirname(p)) {
    try {
      await stat(p);
      break;
    } catch (e) {
      // ENOTDIR: a file on the way up, which the mkdir below then names.
      const code = /** @type {NodeJS.ErrnoException} */ (e).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
    }
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    try {
      await mkdir(p);
    } catch (e) {
      if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'EEXIST') throw e;
    }
    if (ownName || p !== target) await fsyncDirIfAllowed(dirname(p));
  }
}

/** Codes of a folder that cannot be opened for its fsync (no read permission) or whose filesystem does not sync folders. */
const CANNOT_SYNC_FOLDER = new Set(['EACCES', 'EPERM', 'EINVAL', 'ENOTSUP', 'EISDIR']);

/**
 * fsyncDir where it can be done: a parent weir may write into but not read (mode -wx), or a
 * filesystem that refuses to sync folders, leaves the new name as durable as the system makes it.
 * (Folders weir made itself, whose syncs `_metadata` relies on, are synced with fsyncDir.)
 * @param {string} dir
 */
async function fsyncDirIfAllowed(dir) {
  try {
    await fsyncDir(dir);
  } catch (e) {
    if (!CANNOT_SYNC_FOLDER.has(/** @type {NodeJS.ErrnoException} */ (e).code ?? '')) throw e;
  }
}

/** Folders made by this thread (a snapshot's files share one). */
const madeDirs = new Map();

/** @param {string} dir */
function makeDir(dir) {
  let made = madeDirs.get(dir);
  if (made === undefined) {
    made = makeDurableDir(dir, false).catch((e) => {
      madeDirs.delete(dir);
      throw e;
    });
    madeDirs.set(dir, made);
    // The cache only saves calls within one snapshot: keep it small.
    if (madeDirs.size > 256) madeDirs.delete(madeDirs.keys().next().value);
  }
  return made;
}

/**
 * Data files being written, by the id the calling side gave them: the file being opened, and the
 * last operation on it. Each operation starts when the one before it is done (so a file's chunks
 * land in the order they were sent, though they arrive before the previous one is written), and
 * once one failed every later one fails the same way.
 * @type {Map<number, { opening: Promise<OpenFile>, last: Promise<unknown> }>}
 */
const files = new Map();

/**
 * Runs `step` on file `id` after its operations before.
 * @template T @param {number} id @param {(f: OpenFile) => Promise<T>} step @returns {Promise<T>}
 */
function inTurn(id, step) {
  const file = files.get(id);
  if (file === undefined)
    return Promise.reject(new Error(`internal: no open data file ${id} on the storage thread`));
  const run = file.last.then(() => file.opening).then(step);
  file.last = run;
  return run;
}

/**
 * The operations, by name. Each takes the message and returns what the reply carries.
 * @type {Record<string, (m: any) => Promise<unknown>>}
 */
export const operations = {
  /** A snapshot's data file: not when the snapshot is complete already; its folder made once. */
  async open(m) {
    const opening = (async () => {
      if (await exists(join(m.dir, METADATA_FILE)))
        throw new IoFailure(
          'complete',
          `${m.dir} is a completed snapshot (it has ${METADATA_FILE}); ${m.name} cannot be added to it`,
        );
      if (m.makeDir !== false) await makeDir(m.dir);
      return openFile(m.dir, m.temp, m.name);
    })();
    opening.catch(() => undefined); // reported by the file's next write or commit
    files.set(m.file, { opening, last: opening });
  },
  /** Gives a chunk whose memory was moved here back (a copied one is dropped). */
  async write(m) {
    await inTurn(m.file, (f) => f.write(m.chunk));
    return m.moved === true ? m.chunk : undefined;
  },
  async commit(m) {
    await inTurn(m.file, (f) => f.commit(false, false));
    // (A failed commit leaves the file to `abort`, which removes its temporary name.)
    files.delete(m.file);
  },
  async abort(m) {
    const file = files.get(m.file);
    if (file === undefined) return;
    files.delete(m.file);
    await file.last.catch(() => undefined);
    const f = await file.opening.catch(() => undefined);
    await f?.abort();
  },
  /** `_metadata`: the data files' names made durable first, then the file, then the folder's own name. */
  async metadata(m) {
    await makeDir(m.dir);
    await fsyncDir(m.dir);
    await writeWhole(m.dir, m.temp, METADATA_FILE, m.bytes, true);
    madeDirs.delete(m.dir);
    await fsyncDir(dirname(m.dir));
  },
  async whole(m) {
    await makeDurableDir(m.dir, true);
    await writeWhole(m.dir, m.temp, m.name, m.bytes, false);
  },
  /** A snapshot folder, `_metadata` first and durably: a half-removed folder never looks complete. */
  async discard(m) {
    madeDirs.delete(m.dir);
    try {
      await unlink(join(m.dir, METADATA_FILE));
      await fsyncDir(m.dir);
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
    await rm(m.dir, { recursive: true, force: true });
  },
  async remove(m) {
    madeDirs.delete(m.dir);
    await rm(m.dir, { recursive: true, force: true });
  },
  /** A file, if it is there (the temporary file of a data file opened on a thread that died). */
  async unlink(m) {
    await rm(m.path, { force: true });
  },
};

/**
 * @typedef {{ kind: string, message: string, code?: string, syscall?: string, path?: string,
 *   errno?: number, cause?: Described }} Described
 */

/** @param {unknown} e @returns {Described} */
function describe(e) {
  if (e instanceof IoFailure)
    return e.cause === undefined
      ? { kind: e.kind, message: e.message }
      : { kind: e.kind, message: e.message, cause: describe(e.cause) };
  const x = /** @type {NodeJS.ErrnoException} */ (e);
  if (x instanceof Error)
    return {
      kind: 'system',
      message: x.message,
      code: x.code,
      syscall: x.syscall,
      path: x.path,
      errno: x.errno,
    };
  return { kind: 'system', message: String(e) };
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  port.on('message', (/** @type {any} */ m) => {
    const op = operations[m.op];
    const run =
      op === undefined ? Promise.reject(new Error(`internal: unknown storage operation ${m.op}`)) : op(m);
    // `open` has no reply: its failure is the file's next write's or commit's.
    if (m.seq === undefined) {
      run.catch(() => undefined);
      return;
    }
    run.then(
      (result) => {
        if (result instanceof Uint8Array && result.byteOffset === 0 && result.buffer instanceof ArrayBuffer)
          port.postMessage({ seq: m.seq, chunk: result }, [result.buffer]);
        else port.postMessage({ seq: m.seq });
      },
      (e) => port.postMessage({ seq: m.seq, error: describe(e) }),
    );
  });
}
