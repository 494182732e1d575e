// The filesystem storage's writes go through one worker thread per process (fs-io-worker.js): the
// task's thread hands over a file's chunks and asks for its commit, a few messages per file,
// instead of awaiting each open, write, fsync, close and rename itself. The worker keeps the calls
// asynchronous, so files of several tasks are written at once, as they were.
//
// The thread is started on first use and does not keep the process alive while nothing waits
// for it. When it dies (it should not), every waiting call fails with the reason and the next
// call starts a new one; a file opened on the thread that died fails every later call with the
// same reason, and its abort removes the temporary file it left.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SnapshotAlreadyCompleteError } from './checkpoint-storage.js';
import type { ByteSink } from './state-file.js';

/** A failure as the worker reports it (see `describe` in fs-io-worker.js). */
interface Failure {
  kind: 'complete' | 'system';
  message: string;
  code?: string;
  syscall?: string;
  path?: string;
  errno?: number;
  /** The system error behind a storage one (the EEXIST of a refused `_metadata`). */
  cause?: Failure;
}

interface Reply {
  seq: number;
  error?: Failure;
  /** A chunk's memory, given back. */
  chunk?: Uint8Array;
}

type Message = { op: string } & Record<string, unknown>;

/** The error a caller sees: the storage's own class, or a system error with its code. */
function toError(f: Failure): Error {
  if (f.kind === 'complete')
    return new SnapshotAlreadyCompleteError(f.message, f.cause && { cause: toError(f.cause) });
  const e: NodeJS.ErrnoException = new Error(f.message);
  if (f.code !== undefined) e.code = f.code;
  if (f.syscall !== undefined) e.syscall = f.syscall;
  if (f.path !== undefined) e.path = f.path;
  if (f.errno !== undefined) e.errno = f.errno;
  return e;
}

export class FsIoThread {
  private worker: Worker | undefined;
  /** Of the thread now running, or of the last one; one more per start. */
  private generation = 0;
  /** Why the last thread stopped. */
  private lastLoss: Error | undefined;
  private seq = 0;
  private readonly waiting = new Map<
    number,
    { resolve: (chunk: Uint8Array | undefined) => void; reject: (e: Error) => void }
  >();

  /** Sends `message` without waiting for it (what it does wrong, a later call on the same file reports). */
  send(message: Message): void {
    this.started().postMessage(message);
  }

  /**
   * Sends `message`; settles when the worker has done it, with the memory of what `transfer`
   * moved to the worker when it gives it back.
   */
  call(message: Message, transfer?: ArrayBuffer): Promise<Uint8Array | undefined> {
    const worker = this.started();
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      // Posted first: a message that cannot be (a detached buffer) must not leave a call waiting,
      // which would hold the process open.
      worker.postMessage({ ...message, seq }, transfer === undefined ? undefined : [transfer]);
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(seq, { resolve, reject });
    });
  }

  /** `call`, for operations that give nothing back. */
  async run(message: Message): Promise<void> {
    await this.call(message);
  }

  /** The thread now running (started if none is), for `lostSince`. */
  current(): number {
    this.started();
    return this.generation;
  }

  /** Why thread `generation` is gone, or undefined while it runs. */
  lostSince(generation: number): Error | undefined {
    if (this.worker !== undefined && this.generation === generation) return undefined;
    return this.lastLoss ?? new Error("the checkpoint storage's I/O thread stopped");
  }

  /** Stops the thread; calls still waiting fail. A later call starts a new one. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    this.lost(worker, new Error('it was stopped'));
    await worker.terminate();
  }

  private started(): Worker {
    if (this.worker !== undefined) return this.worker;
    // No flags of the process's command line: the thread runs one plain JavaScript file, and some
    // (`--input-type`, a loader's) make a worker fail to start.
    const worker = new Worker(new URL('./fs-io-worker.js', import.meta.url), { execArgv: [] });
    worker.on('message', (r: Reply) => {
      const w = this.waiting.get(r.seq);
      if (w === undefined) return;
      this.waiting.delete(r.seq);
      if (this.waiting.size === 0) worker.unref();
      if (r.error === undefined) w.resolve(r.chunk);
      else w.reject(toError(r.error));
    });
    worker.on('error', (e) => this.lost(worker, e));
    // A reply that cannot be read belongs to a call no one can name: every waiting call fails,
    // rather than one of them waiting for ever, and the next call starts a new thread.
    worker.on('messageerror', (e) => {
      this.lost(worker, new Error(`one of its replies could not be read (${e.message})`, { cause: e }));
      void worker.terminate();
    });
    worker.on('exit', (code) => this.lost(worker, new Error(`it exited with code ${code}`)));
    // After the listeners: adding a 'message' listener refs the worker again.
    worker.unref();
    this.worker = worker;
    this.generation++;
    return worker;
  }

  private lost(worker: Worker, cause: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    const error = new Error(`the checkpoint storage's I/O thread stopped: ${cause.message}`, { cause });
    this.lastLoss = error;
    const waiting = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of waiting) w.reject(error);
  }
}

let shared: FsIoThread | undefined;

/** The process's storage I/O thread. */
export function fsIoThread(): FsIoThread {
  shared ??= new FsIoThread();
  return shared;
}

let fileIds = 0;
/** Smaller chunks are copied: moving a buffer back and forth is worth it only for large ones. */
const MOVE_BYTES = 64 << 10;

/**
 * A snapshot data file written on the I/O thread under the temporary name `temp` in `dir`, then
 * renamed to `name` by `commit()`. It is created at once, while the caller fills its first
 * buffer; a failure to create it (SnapshotAlreadyCompleteError when the folder has `_metadata`
 * already, a disk error) fails the next `write` or `commit`.
 */
export class ThreadFileSink implements ByteSink {
  /** The I/O thread writes a file's chunks one after the other, in the order they were sent. */
  readonly ordered = true;
  private readonly file = ++fileIds;
  /** The thread the file is open on: another one does not know it. */
  private readonly thread: number;
  private readonly tempPath: string;

  constructor(
    private readonly io: FsIoThread,
    dir: string,
    temp: string,
    name: string,
    /** Whether the folder may be created (with its parents) when it does not exist. */
    makeDir = true,
  ) {
    this.thread = io.current();
    this.tempPath = join(dir, temp);
    io.send({ op: 'open', file: this.file, dir, temp, name, makeDir });
  }

  /**
   * A chunk that is a view of a whole ArrayBuffer (the state file writer's buffers) is moved to
   * the I/O thread, not copied, and its memory comes back in the result; any other is copied.
   */
  write(chunk: Uint8Array): Promise<Uint8Array | undefined> {
    const lost = this.io.lostSince(this.thread);
    if (lost !== undefined) return Promise.reject(lost);
    const buffer = chunk.buffer;
    const movable =
      buffer instanceof ArrayBuffer && chunk.byteOffset === 0 && buffer.byteLength >= MOVE_BYTES;
    return this.io.call(
      { op: 'write', file: this.file, chunk, moved: movable },
      movable ? buffer : undefined,
    );
  }

  commit(): Promise<void> {
    const lost = this.io.lostSince(this.thread);
    if (lost !== undefined) return Promise.reject(lost);
    return this.io.run({ op: 'commit', file: this.file });
  }

  abort(): Promise<void> {
    // On a new thread, which never heard of the file: only its temporary name is left to remove.
    if (this.io.lostSince(this.thread) !== undefined)
      return this.io.run({ op: 'unlink', path: this.tempPath });
    return this.io.run({ op: 'abort', file: this.file });
  }
}
