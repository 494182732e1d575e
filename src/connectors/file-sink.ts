// The exactly-once file sink (ARCHITECTURE.md §7): two-phase commit over part files.
//
//   in-progress  `.part-<subtask>-<writer>-<seq>.inprogress`   lines are appended here
//   pending      the same file, flushed, fsynced and closed at the snapshot of checkpoint n
//   visible      `part-<n>-<subtask>-<writer>-<seq>`           renamed when n completes
//
// `<writer>` is random per writer instance, so names never collide across restarts, rescales or
// runs. Readers see only visible files (names beginning with neither `.` nor `_`).
//
// The pending files and the id of the checkpoint are kept in *union* list state, so after a
// restore at any parallelism every subtask knows all of them. On restore from checkpoint r, new
// subtask i (of p) does the part of the recovery that belongs to old subtask indexes s with
// s mod p = i: it commits their pending files, deletes their visible files committed by a
// checkpoint newer than r (weir may fall back to an older checkpoint when the newest is
// damaged, and those records will be written again), and deletes their leftover in-progress
// files that no pending entry names. A subtask of the new attempt only ever creates files with
// its own index, after its own recovery, so no cleanup can delete a file of the current attempt.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ListStateDescriptor } from '../state/descriptors.js';
import type { ListState } from '../state/state.js';
import type {
  FunctionInitializationContext,
  FunctionSnapshotContext,
  RuntimeContext,
} from '../runtime/functions.js';
import type { Sink, SinkWriter } from '../runtime/sink.js';
import { formatRecord } from './format-record.js';

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
const IN_PROGRESS = /^\.part-(\d+)-([0-9a-f]+)-(\d+)\.inprogress$/;
const VISIBLE = /^part-(\d+)-(\d+)-([0-9a-f]+)-(\d+)$/;

/** One entry of the sink's union list state. */
type SinkStateEntry =
  | {
      readonly kind: 'pending';
      readonly temp: string;
      readonly final: string;
      readonly checkpointId: number;
      readonly subtask: number;
    }
  | { readonly kind: 'checkpoint'; readonly id: number };

export class FileSinkError extends Error {
  override readonly name = 'FileSinkError';
}

/**
 * Writes records as lines to part files under `dir`, exactly once: a line becomes visible when
 * the checkpoint after it completes (or, without checkpoints, when the job ends).
 * @example
 * stream.sinkTo(new FileSink<string>('/tmp/out')).uid('sink')
 */
export class FileSink<T> implements Sink<T> {
  readonly dir: string;
  private readonly format: (record: T) => string;
  private readonly bufferSize: number;

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
      await mkdir(this.dir, { recursive: true });
    } catch (e) {
      throw new FileSinkError(`file sink cannot create its directory ${this.dir}: ${(e as Error).message}`);
    }
    return new FileSinkWriter<T>(this.dir, ctx.subtaskIndex, this.format, this.bufferSize);
  }
}

interface Pending {
  readonly temp: string;
  readonly final: string;
  readonly checkpointId: number;
}

class FileSinkWriter<T> implements SinkWriter<T> {
  private readonly writerId = randomBytes(4).toString('hex');
  private seq = 0;
  private lines: string[] = [];
  private chars = 0;
  /** Records were written since the last snapshot: the current file will become pending. */
  private dirty = false;
  /** The open in-progress file; opened on the first write after a snapshot. */
  private current: { name: string; handle: FileHandle; position: number } | undefined;
  private pending: Pending[] = [];
  private state!: ListState<SinkStateEntry>;
  /** Writes, chained so they never overlap. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly dir: string,
    private readonly subtask: number,
    private readonly format: (record: T) => string,
    private readonly bufferSize: number,
  ) {}

  async initializeState(ctx: FunctionInitializationContext): Promise<void> {
    this.state = ctx.operatorStateStore.getUnionListState(
      new ListStateDescriptor<SinkStateEntry>('file-sink-pending'),
    );
    const p = ctx.parallelism;
    const mine = (s: number): boolean => s % p === this.subtask;
    const entries = ctx.isRestored ? [...this.state.get()] : [];
    const pendingTemps = new Set<string>();
    let restoredId = -1;
    const toCommit: Pending[] = [];
    for (const e of entries) {
      if (e.kind === 'checkpoint') restoredId = Math.max(restoredId, e.id);
      else {
        pendingTemps.add(e.temp);
        if (mine(e.subtask)) toCommit.push(e);
      }
    }
    for (const e of toCommit) await this.commitFile(e);
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      throw new FileSinkError(`file sink cannot read its directory ${this.dir}: ${(e as Error).message}`);
    }
    for (const name of names) {
      const ip = IN_PROGRESS.exec(name);
      if (ip !== null && mine(Number(ip[1])) && !pendingTemps.has(name)) await this.remove(name);
      const v = VISIBLE.exec(name);
      if (v !== null && ctx.isRestored && Number(v[1]) > restoredId && mine(Number(v[2])))
        await this.remove(name);
    }
    if (toCommit.length > 0) await syncDirectory(this.dir);
    this.state.update([]);
  }

  write(records: T[]): void | Promise<void> {
    const lines = this.lines;
    const format = this.format;
    let chars = this.chars;
    for (let i = 0; i < records.length; i++) {
      const line = format(records[i] as T);
      lines.push(line);
      chars += line.length + 1;
    }
    this.chars = chars;
    if (records.length > 0) this.dirty = true;
    if (chars >= this.bufferSize) return this.flush();
  }

  private flush(): Promise<void> {
    if (this.lines.length === 0) return this.writing;
    const lines = this.lines;
    lines.push(''); // so that join ends the last line too
    this.lines = [];
    this.chars = 0;
    const data = Buffer.from(lines.join('\n'), 'utf8');
    // The name is fixed now: by the time the write runs, a snapshot may have moved on to the next file.
    const name = this.currentName();
    this.writing = this.writing.then(() => this.append(name, data));
    return this.writing;
  }

  private currentName(): string {
    return `.part-${this.subtask}-${this.writerId}-${this.seq}.inprogress`;
  }

  private async append(name: string, data: Buffer): Promise<void> {
    if (this.current !== undefined && this.current.name !== name)
      throw new Error(`internal: file sink writes to ${name} while ${this.current.name} is open`);
    if (this.current === undefined) {
      try {
        this.current = { name, handle: await open(join(this.dir, name), 'w'), position: 0 };
      } catch (e) {
        throw new FileSinkError(`file sink cannot create ${join(this.dir, name)}: ${(e as Error).message}`);
      }
    }
    const c = this.current;
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await c.handle.write(data, off, data.length - off, c.position);
      off += bytesWritten;
      c.position += bytesWritten;
    }
  }

  /**
   * Pre-commit: the current file becomes pending for this checkpoint. Synchronously records the
   * state; the returned promise (flush, fsync, close) is the checkpoint's asynchronous part.
   */
  snapshotState(ctx: FunctionSnapshotContext): Promise<void> {
    let done = this.flush();
    if (this.dirty) {
      const name = this.currentName();
      const entry: Pending = {
        temp: name,
        final: `part-${ctx.checkpointId}-${this.subtask}-${this.writerId}-${this.seq}`,
        checkpointId: ctx.checkpointId,
      };
      this.pending.push(entry);
      this.seq++;
      this.dirty = false;
      this.writing = this.writing.then(async () => {
        const c = this.current;
        this.current = undefined;
        if (c === undefined || c.name !== name) return;
        await c.handle.sync();
        await c.handle.close();
      });
      done = this.writing;
    }
    this.state.update([
      ...this.pending.map((p): SinkStateEntry => ({ kind: 'pending', ...p, subtask: this.subtask })),
      { kind: 'checkpoint', id: ctx.checkpointId },
    ]);
    return done;
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    const ready = this.pending.filter((p) => p.checkpointId <= checkpointId);
    if (ready.length === 0) return;
    // The files were closed by the snapshot's asynchronous part, which completed before this.
    for (const p of ready) await this.commitFile(p);
    await syncDirectory(this.dir);
    this.pending = this.pending.filter((p) => p.checkpointId > checkpointId);
  }

  private async commitFile(p: Pending): Promise<void> {
    try {
      await rename(join(this.dir, p.temp), join(this.dir, p.final));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      // Already committed (by an earlier attempt that crashed after committing)?
      const there = await stat(join(this.dir, p.final)).then(
        () => true,
        () => false,
      );
      if (!there)
        throw new FileSinkError(
          `file sink: pending file ${join(this.dir, p.temp)} of checkpoint ${p.checkpointId} is missing; its records are lost`,
        );
    }
  }

  private async remove(name: string): Promise<void> {
    await unlink(join(this.dir, name)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }

  async finish(): Promise<void> {
    await this.flush();
  }

  async close(): Promise<void> {
    // A failed write already failed the job; here it only must not stop the cleanup.
    await this.writing.catch(() => undefined);
    const c = this.current;
    this.current = undefined;
    if (c !== undefined) await c.handle.close().catch(() => undefined);
  }
}

/** Makes a rename durable. Not every platform can open a directory; there it is best effort. */
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
