// The lines of a file, or of every visible file under a directory, as a bounded source.
//
// The input is cut into byte-range splits that do not depend on parallelism (file-splits.ts); a
// split owns the lines whose first byte it contains (Hadoop's text-input rule), so however the
// files are cut every line is read exactly once. Each reader keeps its remaining splits, with the
// offset of the next unread line, in split-mode operator list state: a restore at any parallelism
// deals the splits out again and reading resumes at the stored offsets.
//
// Reading never blocks the task: file handles read ahead into recycled chunk buffers, and
// `pollNext` only turns the complete lines it already has into strings, decoding whole lines
// from bytes so a multi-byte character is never cut at a chunk boundary.
import { isAscii } from 'node:buffer';
import { statSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { resolve } from 'node:path';
import { ListStateDescriptor } from '../state/descriptors.js';
import type { ListState } from '../state/state.js';
import type { FunctionInitializationContext } from '../runtime/functions.js';
import type {
  InputStatus,
  Source,
  SourceOutput,
  SourceReader,
  SourceReaderContext,
} from '../runtime/source.js';
import {
  checkInputKind,
  createSplits,
  inputPathError,
  isFileSplit,
  listInputFiles,
  resolveSplitPath,
  type FileSplit,
  type InputFile,
} from './file-splits.js';

export interface FileSourceOptions {
  /**
   * Bytes per split (default 32 MiB). Splits are the unit of parallel reading and of
   * redistribution on rescale; a file smaller than this is one split. Changing it between a
   * snapshot and its restore is fine: restored splits keep the ranges they were stored with.
   */
  splitSize?: number;
  /** Bytes per read from a file (default 1 MiB). Lines longer than this are still read whole. */
  readBufferSize?: number;
}

const DEFAULT_SPLIT_SIZE = 32 * 1024 * 1024;
const DEFAULT_READ_BUFFER_SIZE = 1024 * 1024;
/** Chunks read ahead of the one being consumed; enough to keep a read in flight while parsing. */
const READ_AHEAD = 2;
const TAIL_READ_SIZE = 64 * 1024;
const NEWLINE = 10;
const CARRIAGE_RETURN = 13;

export const FILE_SOURCE_STATE_NAME = 'file-source-splits';

/**
 * Reads the lines of a file, or of every regular file under a directory (recursively, in order
 * of relative path, skipping names that begin with `.` or `_`). Lines end at `\n`, a trailing
 * `\r` is removed, and a last line without a newline is still a line. Text is UTF-8. The
 * directory is listed once as the job starts (and again at a restart from the beginning); its
 * subtasks share the splits of that one listing, so files added while it runs are not read. A
 * folder reached by several paths (links) is read once, under one of them.
 *
 * Its position is operator state (`file-source-splits`: per split the path relative to the
 * input path, the byte range and the offset of the next unread line). A restored job reads
 * exactly the splits in its snapshot from their offsets, under the input path given now, and
 * does not list the directory again: files added since are not read, and a file that is missing
 * or shorter than its stored offset is an error. Give the source a uid so a new version of the
 * job finds its state. The input path must exist when the source is made (else InputPathError).
 * @example
 * env.fromSource(new FileSource('/data/logs'), 'logs').uid('logs')
 */
export class FileSource implements Source<string> {
  readonly boundedness = 'bounded' as const;
  readonly root: string;
  readonly splitSize: number;
  readonly readBufferSize: number;

  constructor(path: string, options: FileSourceOptions = {}) {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('FileSource needs an input path');
    this.root = resolve(path);
    this.splitSize = positiveInteger('splitSize', options.splitSize ?? DEFAULT_SPLIT_SIZE);
    this.readBufferSize = positiveInteger(
      'readBufferSize',
      options.readBufferSize ?? DEFAULT_READ_BUFFER_SIZE,
    );
    // A mistyped path fails the job's build with one line, not each attempt of a job that
    // restarts for ever (a path that goes away later still fails the attempt that reads it).
    let st;
    try {
      st = statSync(this.root);
    } catch (e) {
      throw inputPathError(this.root, e);
    }
    checkInputKind(st, this.root);
  }

  createReader(ctx: SourceReaderContext): SourceReader<string> {
    return new FileSourceReader(this, ctx);
  }
}

/**
 * Each source's listing of its input for the attempt of a job that made it: the subtasks deal
 * the splits among themselves by their place in one list, so they must share one listing. Each
 * listing its own, a file created or removed between their listings (or a folder reached by two
 * paths) shifted the places, and a split was read twice and another never.
 */
const listings = new WeakMap<FileSource, Map<string, Promise<InputFile[]>>>();
/** Attempts whose listing a source keeps: several jobs (or attempts) may start with one source at once. */
const LISTINGS_KEPT = 8;

/** The files of `source`'s input as listed once for `attempt`; a failed listing is not kept. */
function inputFilesFor(source: FileSource, attempt: string | undefined): Promise<InputFile[]> {
  if (attempt === undefined) return listInputFiles(source.root);
  let kept = listings.get(source);
  if (kept === undefined) listings.set(source, (kept = new Map()));
  const known = kept.get(attempt);
  if (known !== undefined) return known;
  const files = listInputFiles(source.root);
  kept.set(attempt, files);
  // The oldest go first; an attempt that far back has dealt its splits long ago.
  for (const old of kept.keys()) if (kept.size > LISTINGS_KEPT) kept.delete(old);
  files.catch(() => {
    if (kept.get(attempt) === files) kept.delete(attempt);
  });
  return files;
}

function positiveInteger(name: string, v: number): number {
  if (!Number.isSafeInteger(v) || v <= 0)
    throw new RangeError(`FileSource option ${name} must be a positive integer, got ${v}`);
  return v;
}

/** Bytes read from a file at `pos`; `view` is the filled part of a pooled buffer. */
interface Chunk {
  readonly buffer: Buffer;
  readonly view: Buffer;
  readonly pos: number;
  /** Pure ASCII, so each line can be copied into a one-byte string without UTF-8 decoding. */
  readonly ascii: boolean;
}

// Buffer's own slice methods skip the argument handling of `toString(encoding, start, end)`,
// which costs more than decoding a typical line. They are not documented, so fall back to
// toString where they are missing.
type SliceMethod = (this: Buffer, start: number, end: number) => string;
const bufferProto = Buffer.prototype as unknown as { latin1Slice?: SliceMethod; utf8Slice?: SliceMethod };
const latin1Slice: SliceMethod =
  typeof bufferProto.latin1Slice === 'function'
    ? bufferProto.latin1Slice
    : function (this: Buffer, start: number, end: number) {
        return this.toString('latin1', start, end);
      };
const utf8Slice: SliceMethod =
  typeof bufferProto.utf8Slice === 'function'
    ? bufferProto.utf8Slice
    : function (this: Buffer, start: number, end: number) {
        return this.toString('utf8', start, end);
      };

/** A file opened for one split, or for a run of adjacent splits of the same file. */
class OpenFile {
  handle: FileHandle | undefined;
  size = 0;
  /** File offset where the next read starts (reads in flight already count). */
  readPos: number;
  /** Reads ahead freely below this offset; past it only when a line is still incomplete. */
  readonly prefetchEnd: number;
  /** The open or read in flight, which never rejects (failures go to the reader). */
  pending: Promise<void> | undefined;
  readonly chunks: Chunk[] = [];
  /** Index in `chunks[0].view` of the next unconsumed byte. */
  lo = 0;
  /** Copied pieces of a line that began in a chunk already recycled. */
  carry: Buffer[] = [];
  /** False until the first line start of a split not starting at 0 has been found. */
  aligned: boolean;
  disposed = false;

  constructor(
    readonly fullPath: string,
    split: FileSplit,
    prefetchEnd: number,
  ) {
    this.aligned = split.start === 0 || split.offset > split.start;
    // An unaligned split looks at the byte before its start: if that is a newline, a line begins
    // exactly at `start` and belongs to this split; otherwise the line there belongs to the
    // previous split and is skipped.
    this.readPos = this.aligned ? split.offset : split.start - 1;
    this.prefetchEnd = prefetchEnd;
  }
}

interface Waiter {
  promise: Promise<void>;
  resolve: () => void;
}

class FileSourceReader implements SourceReader<string> {
  private readonly root: string;
  private readonly splitSize: number;
  private readonly readSize: number;
  private readonly batchSize: number;
  private splits: FileSplit[] = [];
  private state: ListState<FileSplit> | undefined;
  private initialized = false;
  private file: OpenFile | undefined;
  private failure: Error | undefined;
  private waiter: Waiter | undefined;
  private closed = false;
  private readonly pool: Buffer[] = [];
  private readonly closing = new Set<Promise<void>>();

  constructor(
    private readonly source: FileSource,
    private readonly ctx: SourceReaderContext,
  ) {
    this.root = source.root;
    this.splitSize = source.splitSize;
    this.readSize = source.readBufferSize;
    this.batchSize = Math.max(1, ctx.batchSize);
  }

  async initializeState(ctx: FunctionInitializationContext): Promise<void> {
    this.state = ctx.operatorStateStore.getListState(
      new ListStateDescriptor<FileSplit>(FILE_SOURCE_STATE_NAME),
    );
    if (ctx.isRestored) {
      this.splits = await this.restoredSplits(this.state.get());
    } else {
      // A restart from the beginning lists again: the input may have changed since.
      const attempt =
        ctx.attemptStartTime === undefined ? undefined : `${this.ctx.jobId}@${ctx.attemptStartTime}`;
      await this.assignSplits(ctx.subtaskIndex, ctx.parallelism, attempt);
    }
    this.initialized = true;
  }

  async start(): Promise<void> {
    // Without initializeState (a reader driven without state) the splits are dealt here.
    if (!this.initialized) {
      await this.assignSplits(this.ctx.subtaskIndex, this.ctx.parallelism, undefined);
      this.initialized = true;
    }
    const first = this.splits[0];
    if (first !== undefined && this.file === undefined) this.openFile(first);
  }

  snapshotState(): void {
    this.state?.update(
      this.splits.map((s) => ({ path: s.path, start: s.start, end: s.end, offset: s.offset })),
    );
  }

  private async assignSplits(
    subtask: number,
    parallelism: number,
    attempt: string | undefined,
  ): Promise<void> {
    const all = createSplits(await inputFilesFor(this.source, attempt), this.splitSize);
    this.splits = all.filter((_, i) => i % parallelism === subtask);
  }

  private async restoredSplits(entries: readonly unknown[]): Promise<FileSplit[]> {
    const splits: FileSplit[] = [];
    for (const e of entries) {
      if (!isFileSplit(e))
        throw new Error(`file source: restored state holds a malformed split ${JSON.stringify(e)}`);
      splits.push({ path: e.path, start: e.start, end: e.end, offset: e.offset });
    }
    const sizes = new Map<string, number>();
    for (const s of splits) {
      const full = resolveSplitPath(this.root, s.path);
      let size = sizes.get(full);
      if (size === undefined) {
        try {
          const st = await stat(full);
          if (!st.isFile())
            throw new Error(`file source: restored input ${full} is not a regular file any more`);
          size = st.size;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            throw new Error(
              `file source: restored input ${full} is missing; the input changed since the snapshot`,
            );
          }
          throw err;
        }
        sizes.set(full, size);
      }
      if (size < s.offset) {
        throw new Error(
          `file source: restored input ${full} has ${size} bytes, fewer than the restored position ${s.offset}; the input changed since the snapshot`,
        );
      }
    }
    return splits;
  }

  pollNext(out: SourceOutput<string>): InputStatus {
    if (this.failure !== undefined) throw this.failure;
    if (!this.initialized) throw new Error('internal: file source polled before initializeState or start');
    const max = this.batchSize;
    let n = 0;
    for (;;) {
      const split = this.splits[0];
      if (split === undefined) return 'end-of-input';
      const f = this.file ?? this.openFile(split);
      if (f.handle === undefined) return n > 0 ? 'more-available' : 'nothing-available';
      const end = split.end;
      let finished = false;

      while (n < max) {
        const c = f.chunks[0];
        if (c === undefined) {
          if (f.pending !== undefined || f.readPos < f.size) {
            this.readAhead(f);
            return n > 0 ? 'more-available' : 'nothing-available';
          }
          // Everything is read: a pending line is the last one, ended by end of file.
          if (f.carry.length > 0) {
            out.collect(decodeLine(Buffer.concat(f.carry)));
            f.carry = [];
            n++;
            split.offset = f.size;
          }
          finished = true;
          break;
        }
        const view = c.view;
        let lo = f.lo;
        if (lo >= view.length) {
          this.recycle(f);
          continue;
        }
        if (!f.aligned) {
          const nl = view.indexOf(NEWLINE, lo);
          if (nl === -1) {
            f.lo = view.length;
            continue;
          }
          f.lo = nl + 1;
          f.aligned = true;
          split.offset = c.pos + nl + 1;
          continue;
        }
        if (f.carry.length > 0) {
          const nl = view.indexOf(NEWLINE, lo);
          if (nl === -1) {
            f.carry.push(Buffer.from(view.subarray(lo)));
            f.lo = view.length;
            continue;
          }
          f.carry.push(view.subarray(lo, nl));
          out.collect(decodeLine(Buffer.concat(f.carry)));
          f.carry = [];
          n++;
          f.lo = nl + 1;
          split.offset = c.pos + nl + 1;
          continue;
        }
        // The hot loop: whole lines inside one chunk.
        const base = c.pos;
        const slice = c.ascii ? latin1Slice : utf8Slice;
        for (;;) {
          if (base + lo >= end) {
            finished = true;
            break;
          }
          const nl = view.indexOf(NEWLINE, lo);
          if (nl === -1) {
            // The line continues in the next chunk; this one will be recycled, so copy it.
            f.carry.push(Buffer.from(view.subarray(lo)));
            break;
          }
          const stop = nl > lo && view[nl - 1] === CARRIAGE_RETURN ? nl - 1 : nl;
          out.collect(slice.call(view, lo, stop));
          lo = nl + 1;
          if (++n >= max) break;
        }
        // Only lines handed to `out` count as read: the offset is the start of the next one,
        // which may be the line just moved to carry.
        split.offset = base + lo;
        f.lo = f.carry.length > 0 ? view.length : lo;
        if (finished) break;
      }
      if (!finished) return 'more-available';
      this.finishSplit(f, split);
    }
  }

  /** Moves on from a split whose lines are all emitted. */
  private finishSplit(f: OpenFile, split: FileSplit): void {
    this.splits.shift();
    const next = this.splits[0];
    // When the next split is the untouched continuation of this one in the same file, its first
    // line is exactly where this split stopped: keep reading the same handle and buffers.
    if (
      next !== undefined &&
      next.path === split.path &&
      next.start === split.end &&
      next.offset === next.start &&
      f.aligned &&
      f.carry.length === 0 &&
      split.offset >= split.end
    ) {
      next.offset = split.offset;
      return;
    }
    this.disposeFile(f);
    // Open the next split now so its first read overlaps with the rest of this poll.
    if (next !== undefined) this.openFile(next);
  }

  isAvailable(): Promise<void> {
    if (this.failure !== undefined || this.file?.pending === undefined) return Promise.resolve();
    if (this.waiter === undefined) {
      let resolveFn!: () => void;
      const promise = new Promise<void>((r) => (resolveFn = r));
      this.waiter = { promise, resolve: resolveFn };
    }
    return this.waiter.promise;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.file !== undefined) this.disposeFile(this.file);
    while (this.closing.size > 0) await Promise.all([...this.closing]);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w.resolve();
    }
  }

  private fail(e: unknown, fullPath: string): void {
    if (this.failure === undefined) {
      const msg = e instanceof Error ? e.message : String(e);
      // fs errors on a handle do not name the file; open errors already do.
      this.failure = msg.includes(fullPath)
        ? e instanceof Error
          ? e
          : new Error(msg)
        : new Error(`file source: reading ${fullPath}: ${msg}`, { cause: e });
    }
    this.wake();
  }

  private openFile(split: FileSplit): OpenFile {
    // Prefetch runs on through the splits that this reader will read next from the same file.
    let prefetchEnd = split.end;
    for (let i = 1; i < this.splits.length; i++) {
      const s = this.splits[i]!;
      if (s.path !== split.path || s.start !== prefetchEnd || s.offset !== s.start) break;
      prefetchEnd = s.end;
    }
    const f = new OpenFile(resolveSplitPath(this.root, split.path), split, prefetchEnd);
    this.file = f;
    f.pending = this.openHandle(f);
    return f;
  }

  private async openHandle(f: OpenFile): Promise<void> {
    try {
      const handle = await open(f.fullPath, 'r');
      f.handle = handle;
      const st = await handle.stat();
      f.size = st.size;
      if (f.readPos > f.size) {
        throw new Error(
          `file source: ${f.fullPath} has ${f.size} bytes, fewer than the position ${f.readPos} to read from; the input changed while the job ran`,
        );
      }
    } catch (e) {
      if (!f.disposed) this.fail(e, f.fullPath);
    }
    f.pending = undefined;
    this.wake();
    this.readAhead(f);
  }

  private readAhead(f: OpenFile): void {
    if (f.pending !== undefined || f.disposed || f.handle === undefined || this.failure !== undefined) return;
    if (f.readPos >= f.size || f.chunks.length >= READ_AHEAD) return;
    if (f.readPos >= f.prefetchEnd && f.chunks.length > 0) return;
    // Past the splits this reader is on, only the rest of one line is wanted.
    const wanted = Math.max(f.prefetchEnd - f.readPos, TAIL_READ_SIZE);
    const len = Math.min(this.readSize, f.size - f.readPos, wanted);
    const buffer = this.pool.pop() ?? Buffer.allocUnsafeSlow(this.readSize);
    const pos = f.readPos;
    f.readPos += len;
    f.pending = this.read(f, f.handle, buffer, pos, len);
  }

  private async read(
    f: OpenFile,
    handle: FileHandle,
    buffer: Buffer,
    pos: number,
    len: number,
  ): Promise<void> {
    try {
      const { bytesRead } = await handle.read(buffer, 0, len, pos);
      if (f.disposed) {
        this.pool.push(buffer);
      } else if (bytesRead === 0) {
        // The file shrank under us; what was there is all there is.
        this.pool.push(buffer);
        f.size = pos;
        f.readPos = pos;
      } else {
        const view = buffer.subarray(0, bytesRead);
        f.chunks.push({ buffer, view, pos, ascii: isAscii(view) });
        f.readPos = pos + bytesRead;
      }
    } catch (e) {
      this.pool.push(buffer);
      if (!f.disposed) this.fail(e, f.fullPath);
    }
    f.pending = undefined;
    this.wake();
    this.readAhead(f);
  }

  /** Drops the consumed first chunk, returning its buffer, and keeps the reads going. */
  private recycle(f: OpenFile): void {
    const c = f.chunks.shift()!;
    this.pool.push(c.buffer);
    f.lo = 0;
    this.readAhead(f);
  }

  private disposeFile(f: OpenFile): void {
    f.disposed = true;
    if (this.file === f) this.file = undefined;
    for (const c of f.chunks) this.pool.push(c.buffer);
    f.chunks.length = 0;
    f.carry = [];
    const done = (async () => {
      await f.pending;
      await f.handle?.close();
    })().then(
      () => undefined,
      (e: unknown) => this.fail(e, f.fullPath),
    );
    const tracked: Promise<void> = done.finally(() => this.closing.delete(tracked));
    this.closing.add(tracked);
  }
}

function decodeLine(bytes: Buffer): string {
  const n = bytes.length;
  return bytes.toString('utf8', 0, n > 0 && bytes[n - 1] === CARRIAGE_RETURN ? n - 1 : n);
}
