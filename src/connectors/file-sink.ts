// A plain (not exactly-once) file sink: each subtask writes its records, one per line, to
// `<dir>/part-<subtask>-0`. The file is written under a hidden in-progress name and renamed to
// the visible name only when the subtask finishes, so a reader that skips `.` and `_` names
// (ARCHITECTURE.md §7, and FileSource) never sees half a file.
//
// A rerun into the same directory replaces the part files of the subtasks it runs: a subtask
// removes its own `part-<i>-0` from the earlier run when it starts (so a run that fails does not
// leave the old output looking current) and truncates a leftover in-progress file. Part files of
// subtask indexes this run does not have (an earlier run at a higher parallelism) are left alone.
//
// After a failure and restart the lines written before are written again: use the
// exactly-once file sink when duplicates matter.
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { RuntimeContext } from '../runtime/functions.js';
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

/**
 * Writes records as lines to one `part-<subtask>-0` file per subtask under `dir`.
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
    const name = `part-${ctx.subtaskIndex}-0`;
    const finalPath = join(this.dir, name);
    const tempPath = join(this.dir, `.${name}.inprogress`);
    await mkdir(this.dir, { recursive: true });
    await unlink(finalPath).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    const handle = await open(tempPath, 'w');
    return new FileSinkWriter(handle, this.dir, tempPath, finalPath, this.format, this.bufferSize);
  }
}

class FileSinkWriter<T> implements SinkWriter<T> {
  private lines: string[] = [];
  private chars = 0;
  private position = 0;
  private handle: FileHandle | undefined;
  private finished = false;
  /** The flushes so far, chained so that a flush never overlaps the one before it. */
  private writing: Promise<void> = Promise.resolve();

  constructor(
    handle: FileHandle,
    private readonly dir: string,
    private readonly tempPath: string,
    private readonly finalPath: string,
    private readonly format: (record: T) => string,
    private readonly bufferSize: number,
  ) {
    this.handle = handle;
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
    if (chars >= this.bufferSize) return this.flush();
  }

  private flush(): Promise<void> {
    if (this.lines.length === 0) return this.writing;
    const lines = this.lines;
    lines.push(''); // so that join ends the last line too
    this.lines = [];
    this.chars = 0;
    const data = Buffer.from(lines.join('\n'), 'utf8');
    this.writing = this.writing.then(() => this.writeAll(data));
    return this.writing;
  }

  private async writeAll(data: Buffer): Promise<void> {
    const handle = this.handle;
    if (handle === undefined) throw new Error(`file sink: ${this.tempPath} is already closed`);
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await handle.write(data, off, data.length - off, this.position);
      off += bytesWritten;
      this.position += bytesWritten;
    }
  }

  async finish(): Promise<void> {
    await this.flush();
    const handle = this.handle!;
    await handle.sync();
    this.handle = undefined;
    await handle.close();
    await rename(this.tempPath, this.finalPath);
    this.finished = true;
    await syncDirectory(this.dir);
  }

  async close(): Promise<void> {
    // A failed flush already failed the job; here it only must not stop the cleanup.
    await this.writing.catch(() => undefined);
    const handle = this.handle;
    this.handle = undefined;
    if (handle !== undefined) await handle.close();
    // A subtask that did not finish leaves no half-written file behind.
    if (!this.finished) {
      await unlink(this.tempPath).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
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
