// The exactly-once file sink (ARCHITECTURE.md §7): two-phase commit over part files. Lines are
// appended to a hidden in-progress file; the snapshot of checkpoint n closes it (the pre-commit:
// flush, fsync, rename to its pending name, fsync the directory — the snapshot's asynchronous
// part); "checkpoint complete" renames every pending file up to n to its visible name. The names,
// the state and the restore rule are in file-sink-protocol.ts.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  copyFile,
  link,
  lstat,
  open,
  readdir,
  rename,
  stat,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ListStateDescriptor } from '../state/descriptors.js';
import type { ListState } from '../state/state.js';
import type {
  FunctionInitializationContext,
  FunctionSnapshotContext,
  RuntimeContext,
} from '../runtime/functions.js';
import type { Sink, SinkWriter } from '../runtime/sink.js';
import { crc32 } from '../storage/crc32.js';
import { FolderUnusableError, makeFolder } from '../storage/writable-folder.js';
import { formatRecord } from './format-record.js';
import {
  decodeRestoredState,
  FileSinkError,
  heldName,
  holdsHistoryOf,
  inProgressName,
  PendingFileLostError,
  pendingName,
  nextEpoch,
  parsePartName,
  planStart,
  restartPoint,
  sealName,
  snapshotEntries,
  startHistory,
  STATE_NAME,
  supersededName,
  uncommittedNames,
  visibleName,
  type PartOwner,
  type PendingEntry,
  type SinkStateEntry,
  type WriterHistory,
} from './file-sink-protocol.js';

export { FileSinkError, PendingFileLostError } from './file-sink-protocol.js';

export interface FileSinkOptions<T = unknown> {
  /**
   * Turns a record into a line (default: strings as they are, other values readable). Text with
   * a newline in it becomes several lines.
   */
  format?: (record: T) => string;
  /**
   * Characters buffered before a write to the file (default 1 MiB). `write` returns a promise,
   * making the job wait, only when it flushes.
   */
  bufferSize?: number;
}

const DEFAULT_BUFFER_SIZE = 1024 * 1024;

/**
 * Writes records as lines to part files under `dir`, exactly once: a line becomes visible when
 * the checkpoint after it completes (or, without checkpoints, when the job ends). Readers must
 * skip names beginning with `.` or `_` (in-progress and pending files).
 * @example
 * stream.sinkTo(new FileSink<string>('/tmp/out')).uid('sink')
 */
export class FileSink<T> implements Sink<T> {
  readonly dir: string;
  private readonly format: (record: T) => string;
  private readonly bufferSize: number;
  readonly stateful = true;
  /**
   * What the latest writer of each run, operator and subtask began (per operator: one sink
   * object may serve several): a restart with no checkpoint to restore continues that history
   * instead of beginning another, so that a start from a savepoint of an earlier attempt can
   * tell the restart's output from its own (file-sink-protocol.ts, restartPoint).
   */
  private readonly attempts = new Map<string, { last?: WriterHistory }>();

  constructor(dir: string, options: FileSinkOptions<T> = {}) {
    if (typeof dir !== 'string' || dir.length === 0)
      throw new TypeError('FileSink needs an output directory');
    this.dir = dir;
    this.format = options.format ?? formatRecord;
    const size = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    if (!Number.isSafeInteger(size) || size <= 0)
      throw new RangeError(`FileSink option bufferSize must be a positive integer, got ${size}`);
    this.bufferSize = size;
  }

  async createWriter(ctx: RuntimeContext): Promise<SinkWriter<T>> {
    try {
      await makeFolder(this.dir);
    } catch (e) {
      // FolderUnusableError's `why` names the part of the path that failed, once.
      const why = e instanceof FolderUnusableError ? e.why : e instanceof Error ? e.message : String(e);
      throw new FileSinkError(`file sink cannot create its directory ${this.dir}: ${why}`, { cause: e });
    }
    const key = `${ctx.jobId}/${ctx.operatorId}/${ctx.subtaskIndex}`;
    let attempts = this.attempts.get(key);
    if (attempts === undefined) this.attempts.set(key, (attempts = {}));
    return new FileSinkWriter<T>(this.dir, ctx.subtaskIndex, this.format, this.bufferSize, attempts);
  }
}

/** The in-progress file being appended to. */
interface OpenPart {
  readonly path: string;
  readonly handle: FileHandle;
  position: number;
}

/** A pending file and the pre-commit that makes it one (resolved: fsynced and renamed). */
interface PendingPart extends PendingEntry {
  readonly ready: Promise<void>;
}

const ignore = (): void => undefined;

class FileSinkWriter<T> implements SinkWriter<T> {
  private readonly writerId = randomBytes(4).toString('hex');
  private history: WriterHistory | undefined;
  private state: ListState<SinkStateEntry> | undefined;
  private seq = 0;
  private lines: string[] = [];
  private chars = 0;
  /** Bytes and CRC-32 of what was handed to the current file (of `seq`), for its pending entry. */
  private partBytes = 0;
  private partCrc = 0;
  /** Lines were written since the last snapshot: the current file will become pending. */
  private dirty = false;
  /** Opened by the first flush after a snapshot. */
  private current: OpenPart | undefined;
  /** The last data write; writes are chained so that they never overlap. */
  private tail: Promise<void> = Promise.resolve();
  private pending: PendingPart[] = [];
  /**
   * Held names and seal per savepoint of this writer, and their links being made. The held names
   * are removed once that savepoint is committed (a stop); with its seal, once it is aborted (no
   * savepoint to start from).
   */
  private readonly held = new Map<number, { names: string[]; seal: string; linked: Promise<void> }>();
  /** The first I/O failure: the writer is broken, the task must fail and restore. */
  private failure: unknown;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly subtask: number,
    private readonly format: (record: T) => string,
    private readonly bufferSize: number,
    /** The history the run's previous writer of this subtask began (see FileSink.attempts). */
    private readonly attempts: { last?: WriterHistory },
  ) {}

  async initializeState(ctx: FunctionInitializationContext): Promise<void> {
    if (ctx.subtaskIndex !== this.subtask)
      throw new Error(
        `internal: file sink writer of subtask ${this.subtask} initialized as ${ctx.subtaskIndex}`,
      );
    const state = ctx.operatorStateStore.getUnionListState(
      new ListStateDescriptor<SinkStateEntry>(STATE_NAME),
    );
    let restored = ctx.isRestored ? decodeRestoredState(state.get()) : undefined;
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      throw ioError(`cannot read its directory ${this.dir}`, e);
    }
    if (restored?.dir !== undefined && resolve(restored.dir) !== resolve(this.dir)) {
      // Restored with another output directory. When it holds output of the snapshot's history
      // up to the snapshot, it is that output moved or copied here: the snapshot's pending files
      // must be here too, and one that is not makes the restore fail (planStart, commit) rather
      // than delete this directory's newer files with nothing in their place. Otherwise (a fork
      // of a savepoint into a new directory) they are output of their own directory: complete
      // them there when it is still here (as Flink commits where the file was written); this
      // directory starts with none of them.
      if (!holdsHistoryOf(restored, names)) {
        await commitElsewhere(
          restored.dir,
          restored.pending.filter((p) => p.subtask % ctx.parallelism === this.subtask),
        );
        restored = { ...restored, pending: [], seals: [] };
      }
    }
    // Every subtask sees every pending entry (union state): each checks them all before it
    // commits or deletes anything, so a restore that must fail fails before any subtask has
    // removed newer output.
    if (restored !== undefined) {
      const listed = new Set(names);
      for (const p of restored.pending)
        await this.checkPending(p, listed, p.subtask % ctx.parallelism === this.subtask);
      for (const seal of restored.seals) await this.checkSeal(seal, restored.checkpointId, listed);
    }
    const earlier = restored === undefined ? this.attempts.last : undefined;
    const plan =
      earlier === undefined
        ? planStart(this.subtask, ctx.parallelism, restored, names)
        : planStart(this.subtask, ctx.parallelism, restartPoint(earlier), names, { keepPending: true });
    // Savepoints this start takes history from go first, durably: after a crash further on, the
    // retried start would no longer see why (the output it deletes is gone already).
    for (const name of plan.discard) await this.remove(name);
    if (plan.discard.length > 0) await syncDirectory(this.dir);
    for (const p of plan.commit) await this.commit(p);
    for (const name of plan.remove) await this.remove(name);
    for (const name of plan.supersede) await this.supersede(name);
    if (plan.commit.length + plan.remove.length + plan.supersede.length > 0) await syncDirectory(this.dir);
    this.history =
      earlier === undefined
        ? startHistory(restored, randomBytes(4).toString('hex'), ctx.attemptStartTime)
        : { ...earlier, epoch: nextEpoch(earlier.epoch, ctx.attemptStartTime) };
    this.attempts.last = this.history;
    this.state = state;
    state.update([]);
  }

  write(records: T[]): void | Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (records.length > 0) this.dirty = true;
    const lines = this.lines;
    const format = this.format;
    let chars = this.chars;
    for (let i = 0; i < records.length; i++) {
      const line = format(records[i] as T);
      lines.push(line);
      chars += line.length + 1;
    }
    this.chars = chars;
    if (chars >= this.bufferSize) return this.flush();
  }

  /**
   * Pre-commit: the current file becomes pending for this checkpoint and later records go to a
   * new one. The state is updated before this returns; the promise (flush, fsync, rename, fsync
   * the directory) is the checkpoint's asynchronous part. It also waits for the pre-commits of
   * earlier snapshots, since the state lists their files too. A savepoint lists every pending
   * file under a held name, linked in its asynchronous part (file-sink-protocol.ts).
   */
  snapshotState(ctx: FunctionSnapshotContext): Promise<void> {
    const history = this.history;
    const state = this.state;
    if (history === undefined || state === undefined)
      throw new Error('internal: file sink snapshot before initializeState');
    if (this.failure !== undefined) throw this.failure;
    const id = ctx.checkpointId;
    if (!Number.isSafeInteger(id) || id < 0)
      throw new Error(`internal: file sink snapshot with checkpoint id ${id}`);
    const flushed = this.flush();
    if (this.dirty) {
      const owner = this.owner();
      const seq = this.seq++;
      this.dirty = false;
      const inProgress = join(this.dir, inProgressName(owner, seq));
      const temp = pendingName(owner, seq, id);
      let part: OpenPart | undefined;
      // In the write chain only the hand-over; the next file is written while this one syncs.
      const detached = this.enqueue(async () => {
        part = this.current;
        this.current = undefined;
      });
      const ready = detached.then(() => this.preCommit(part, inProgress, temp));
      ready.catch((e: unknown) => this.fail(e));
      this.pending.push({
        kind: 'pending',
        temp,
        final: visibleName(owner, seq, id),
        checkpointId: id,
        subtask: this.subtask,
        size: this.partBytes,
        crc32: this.partCrc,
        ready,
      });
      this.partBytes = 0;
      this.partCrc = 0;
    }
    const ready = Promise.all([flushed, ...this.pending.map((p) => p.ready)]).then(ignore);
    if (ctx.isSavepoint !== true) {
      state.update(snapshotEntries(this.pending, id, history, resolve(this.dir)));
      return ready;
    }
    const held = this.pending.map((p) => ({ ...p, temp: heldName(p.final, id) }));
    const seal = sealName(this.owner(), id);
    state.update(snapshotEntries(held, id, history, resolve(this.dir), seal));
    const files = [...this.pending];
    const linked = ready.then(() => this.hold(files, id, seal));
    this.held.set(id, { names: held.map((h) => h.temp), seal, linked: linked.catch(ignore) });
    return linked;
  }

  /**
   * Commits every pending file of a checkpoint up to `checkpointId`. A savepoint told complete
   * (stop with savepoint) is committed: no restore of an older checkpoint follows, so its held
   * names are removed.
   */
  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    const ready = this.pending.filter((p) => p.checkpointId <= checkpointId);
    const held = this.held.get(checkpointId);
    this.held.delete(checkpointId);
    if (ready.length === 0 && held === undefined) return;
    for (const p of ready) {
      // Resolved already in a job (the checkpoint was acknowledged after it), unless it failed.
      await p.ready;
      await this.commit(p);
    }
    if (held !== undefined) await this.release(held.linked, held.names);
    await syncDirectory(this.dir);
    this.pending = this.pending.filter((p) => !ready.includes(p));
  }

  /**
   * Aborted checkpoints' files stay pending; a later complete checkpoint commits them. An aborted
   * savepoint's folder is removed, so nothing can start from it: its held names go.
   */
  async notifyCheckpointAborted(checkpointId: number): Promise<void> {
    const held = this.held.get(checkpointId);
    if (held === undefined) return;
    this.held.delete(checkpointId);
    await this.release(held.linked, [...held.names, held.seal]);
  }

  private async release(linked: Promise<void>, names: readonly string[]): Promise<void> {
    await linked;
    for (const name of names) await this.remove(name);
  }

  async finish(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    await this.flush();
  }

  /** Releases the files; never commits. The in-progress file (not in any checkpoint) is deleted. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail.catch(ignore);
    const c = this.current;
    this.current = undefined;
    if (c !== undefined) {
      await c.handle.close().catch(ignore);
      await unlink(c.path).catch(ignore);
    }
    await Promise.allSettled(this.pending.map((p) => p.ready));
  }

  private owner(): PartOwner {
    const h = this.history;
    if (h === undefined) throw new Error('internal: file sink writes before initializeState');
    return { lineage: h.lineage, epoch: h.epoch, subtask: this.subtask, writer: this.writerId };
  }

  private flush(): Promise<void> {
    if (this.lines.length === 0) return this.tail;
    const lines = this.lines;
    lines.push(''); // so that join ends the last line too
    this.lines = [];
    this.chars = 0;
    const data = Buffer.from(lines.join('\n'), 'utf8');
    this.partBytes += data.length;
    this.partCrc = crc32(data, this.partCrc);
    // The name is fixed now: when the write runs, a snapshot may have moved on to the next file.
    const path = join(this.dir, inProgressName(this.owner(), this.seq));
    return this.enqueue(() => this.append(path, data));
  }

  /** Appends a step to the write chain. A failure breaks the writer for good. */
  private enqueue(step: () => Promise<void>): Promise<void> {
    const next = this.tail.then(step);
    next.catch((e: unknown) => this.fail(e));
    this.tail = next;
    return next;
  }

  private fail(e: unknown): void {
    this.failure ??= e;
  }

  private async append(path: string, data: Buffer): Promise<void> {
    if (this.closed) throw new Error(`internal: file sink writes to ${path} after close`);
    let c = this.current;
    if (c !== undefined && c.path !== path)
      throw new Error(`internal: file sink writes to ${path} while ${c.path} is open`);
    if (c === undefined) {
      try {
        c = { path, handle: await open(path, 'wx'), position: 0 };
      } catch (e) {
        throw ioError(`cannot create ${path}`, e);
      }
      this.current = c;
    }
    try {
      let off = 0;
      while (off < data.length) {
        const { bytesWritten } = await c.handle.write(data, off, data.length - off, c.position);
        off += bytesWritten;
        c.position += bytesWritten;
      }
    } catch (e) {
      throw ioError(`cannot write ${path}`, e);
    }
  }

  private async preCommit(part: OpenPart | undefined, inProgress: string, temp: string): Promise<void> {
    if (part === undefined || part.path !== inProgress)
      throw new Error(`internal: file sink closes ${inProgress} but ${part?.path ?? 'no file'} is open`);
    try {
      await part.handle.sync();
    } catch (e) {
      await part.handle.close().catch(ignore);
      throw ioError(`cannot sync ${inProgress}`, e);
    }
    try {
      await part.handle.close();
      await rename(inProgress, join(this.dir, temp));
    } catch (e) {
      throw ioError(`cannot make ${inProgress} pending`, e);
    }
    await syncDirectory(this.dir);
  }

  /**
   * Links the files a savepoint lists to its held names and leaves its seal. A file may be
   * committed meanwhile (by an earlier checkpoint's completion); where hard links are not
   * supported, it is copied.
   */
  private async hold(files: readonly PendingEntry[], savepointId: number, seal: string): Promise<void> {
    try {
      await (await open(join(this.dir, seal), 'w')).close();
    } catch (e) {
      throw ioError(`cannot create ${join(this.dir, seal)}`, e);
    }
    for (const p of files) {
      const to = join(this.dir, heldName(p.final, savepointId));
      const temp = join(this.dir, p.temp);
      const final = join(this.dir, p.final);
      try {
        // From the pending name, or the visible one once committed meanwhile.
        await linkOrCopy(temp, to).catch((e: unknown) => {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
          return linkOrCopy(final, to);
        });
      } catch (e) {
        throw ioError(`cannot hold ${temp} for savepoint ${savepointId}`, e);
      }
    }
    await syncDirectory(this.dir);
  }

  /**
   * PendingFileLostError unless `p` is here, pending or committed (by another subtask meanwhile,
   * too), and, while pending, a file of its recorded size; the subtask that commits it (`own`)
   * also checks its CRC-32. Every subtask checks the sizes of all, so that a restore that must
   * fail mostly fails before any subtask changed the directory; reading every file in every
   * subtask would read the pending output once per subtask.
   */
  private async checkPending(p: PendingEntry, listed: ReadonlySet<string>, own: boolean): Promise<void> {
    const names = uncommittedNames(p);
    let found = names.find((n) => listed.has(n));
    if (found === undefined && !listed.has(p.final))
      // A listing may miss a name being renamed: look again, the uncommitted names first.
      for (const n of names)
        if (await present(join(this.dir, n))) {
          found = n;
          break;
        }
    if (found === undefined) {
      if (listed.has(p.final) || (await present(join(this.dir, p.final)))) return;
      throw lost(join(this.dir, p.temp), p);
    }
    if (p.size === undefined || p.crc32 === undefined) return; // state of version 3 or before
    const path = join(this.dir, found);
    const problem = await damage(path, p.size, own ? p.crc32 : undefined);
    if (problem !== undefined) throw damaged(path, p, problem);
  }

  /** PendingFileLostError unless the seal of the restored savepoint is here (see file-sink-protocol.ts). */
  private async checkSeal(seal: string, savepointId: number, listed: ReadonlySet<string>): Promise<void> {
    if (listed.has(seal) || (await present(join(this.dir, seal)))) return;
    throw new PendingFileLostError(
      `file sink: ${this.dir} no longer holds all the output savepoint ${savepointId} builds on ` +
        `(its mark ${seal} is missing: a start from an earlier point deleted output it needs, or the ` +
        'directory was copied without its hidden files); start from a later savepoint or checkpoint, ' +
        'or into another directory',
    );
  }

  /** Renames a pending file to its visible name; one already renamed (by an earlier attempt) is fine. */
  private async commit(p: PendingEntry): Promise<void> {
    const names = uncommittedNames(p);
    for (const name of names) {
      const from = join(this.dir, name);
      try {
        await rename(from, join(this.dir, p.final));
        // A held name and a committed file are links to one file, which rename leaves as they are.
        if (names.length > 1) await this.remove(name);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`cannot commit ${from}`, e);
      }
    }
    if (!(await present(join(this.dir, p.final)))) throw lost(join(this.dir, p.temp), p);
  }

  private async supersede(name: string): Promise<void> {
    const from = join(this.dir, name);
    try {
      await rename(from, join(this.dir, supersededName(name)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`cannot mark ${from} superseded`, e);
    }
  }

  private async remove(name: string): Promise<void> {
    const path = join(this.dir, name);
    try {
      await unlink(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`cannot delete ${path}`, e);
    }
  }
}

/**
 * Commits pending files of a restored snapshot in the directory they were written to, when that
 * directory and file are still there; a file committed already, or a directory not on this
 * machine, is left as it is: those records belong to that directory's output, not this one's.
 */
async function commitElsewhere(dir: string, pending: readonly PendingEntry[]): Promise<void> {
  let renamed = false;
  for (const p of pending) {
    // As in its own directory: a damaged file is not committed (a missing one is left alone).
    if (p.size !== undefined) {
      const path = join(dir, p.temp);
      const problem = await damage(path, p.size, p.crc32);
      if (problem !== undefined) throw damaged(path, p, problem);
    }
    try {
      await rename(join(dir, p.temp), join(dir, p.final));
      renamed = true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
        throw ioError(`cannot commit ${join(dir, p.temp)}`, e);
    }
  }
  if (renamed) await syncDirectory(dir);
}

/**
 * A hard link `to` of `from`; where the filesystem has none (EPERM, ENOTSUP, ENOSYS, EMLINK: FAT,
 * some FUSE and network mounts), a copy. ENOENT (no `from`) is the caller's.
 */
async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await link(from, to);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EEXIST') throw e;
    await copyDurably(from, to);
  }
}

/** Copies `from` to the new file `to` and syncs it. */
async function copyDurably(from: string, to: string): Promise<void> {
  await copyFile(from, to, constants.COPYFILE_EXCL);
  const handle = await open(to, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function present(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * What is wrong with the pending file at `path` (undefined: nothing): not a regular file (a link,
 * a folder), not `size` bytes long, or not of CRC-32 `crc` when given. A file renamed meanwhile
 * (committed by another subtask) is fine.
 */
async function damage(path: string, size: number, crc: number | undefined): Promise<string | undefined> {
  let info;
  try {
    info = await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(`cannot read ${path}`, e);
  }
  if (!info.isFile()) return `it is ${info.isSymbolicLink() ? 'a symbolic link' : 'not a file'}`;
  if (info.size !== size) return `it has ${info.size} bytes, not the ${size} written`;
  if (crc === undefined) return undefined;
  // In pieces into one buffer: a part file holds a checkpoint interval's output, which may
  // exceed what one read (2 GiB) or the memory of a restore should take.
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw ioError(`cannot read ${path}`, e);
  }
  let read = 0;
  let sum = 0;
  try {
    const piece = Buffer.allocUnsafe(Math.min(CHECK_PIECE_BYTES, Math.max(1, size)));
    for (;;) {
      const { bytesRead } = await handle.read(piece, 0, piece.length, read);
      if (bytesRead === 0) break;
      sum = crc32(piece.subarray(0, bytesRead), sum);
      read += bytesRead;
    }
  } catch (e) {
    throw ioError(`cannot read ${path}`, e);
  } finally {
    await handle.close().catch(ignore);
  }
  if (read !== size) return `it has ${read} bytes, not the ${size} written`;
  return sum === crc ? undefined : 'its checksum does not match what was written';
}

/** How much of a pending file its check reads at a time. */
const CHECK_PIECE_BYTES = 1 << 20;

function damaged(path: string, p: PendingEntry, problem: string): PendingFileLostError {
  const f = parsePartName(p.temp);
  const what =
    f?.kind === 'held' ? `held for savepoint ${f.savepointId}` : `pending for checkpoint ${p.checkpointId}`;
  return new PendingFileLostError(
    `file sink: ${path}, ${what}, is damaged (${problem}); its records cannot be committed as they were written`,
  );
}

function lost(path: string, p: PendingEntry): PendingFileLostError {
  const f = parsePartName(p.temp);
  if (f?.kind === 'held')
    return new PendingFileLostError(
      `file sink: ${path}, held for savepoint ${f.savepointId}, is missing and was not committed; ` +
        'its records cannot be restored (a start from an earlier point deleted output this savepoint ' +
        'builds on, or files were removed from the output directory); start from a later savepoint ' +
        'or checkpoint, or into another directory',
    );
  return new PendingFileLostError(
    `file sink: ${path}, pending for checkpoint ${p.checkpointId}, is missing and was not committed; ` +
      'its records cannot be restored (were files removed from the output directory?)',
  );
}

function ioError(what: string, cause: unknown): FileSinkError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new FileSinkError(`file sink ${what}: ${message}`, { cause });
}

/** Makes renames and new names durable. Where a directory cannot be opened or synced, best effort. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle;
  try {
    handle = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync();
  } catch {
    // EINVAL/EPERM on filesystems that do not sync directories; the data itself is synced.
  } finally {
    await handle.close();
  }
}
