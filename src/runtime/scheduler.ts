// All subtasks of an in-process job share one thread. A task that always has input would run
// in microtasks forever and starve timers, I/O and the REST server, so tasks hand the thread
// back to the event loop every time slice.
//
// The slice is per turn of the event loop, not per task: every task that yields in a turn
// waits for the same next turn, and the slice starts once when that turn begins. Otherwise
// each of n busy tasks would take a full slice per turn, and an I/O completion (a snapshot
// being written) would wait n slices for its turn.
import { setImmediate as nextMacrotask } from 'node:timers/promises';

export class Scheduler {
  private lastYield = performance.now();
  private nextTurn: Promise<void> | undefined;
  private io = 0;
  constructor(
    private readonly sliceMs = 5,
    /**
     * The slice while a snapshot of this job is being written: each step of its I/O (open, write,
     * fsync, rename) needs a turn of the loop. A snapshot holds no state while it waits (its
     * capture ends with the encoding), so this only paces how soon it completes: 2 ms keeps a
     * 100 ms interval (9.4–9.7 checkpoints a second completed by keyed-count, as with 0.5 ms),
     * where 0.5 ms cost that job ~7 % of its throughput in turns of the loop, and 5 ms let
     * checkpoints fall behind the interval (8.1–8.3 a second).
     */
    private readonly ioSliceMs = 2,
  ) {}

  shouldYield(now = performance.now()): boolean {
    return now - this.lastYield >= (this.io > 0 ? this.ioSliceMs : this.sliceMs);
  }

  /** Marks asynchronous I/O the job waits for (a snapshot being written); pair with `endIo`. */
  beginIo(): void {
    this.io++;
  }

  endIo(): void {
    if (this.io > 0) this.io--;
  }

  yield(): Promise<void> {
    this.nextTurn ??= nextMacrotask().then(() => {
      this.nextTurn = undefined;
      this.lastYield = performance.now();
    });
    return this.nextTurn;
  }
}

/** How long a task works on records between two looks at the clock (see WorkSlicer). */
const SLICE_TARGET_MS = 1;
const MAX_SLICE = 1 << 30;

/**
 * Cuts a task's work on a batch into slices, so that it can yield in the middle of a batch
 * whose records are expensive (a function taking milliseconds per record would otherwise run a
 * whole batch, up to seconds, without a turn of the event loop). The slice size follows the
 * measured cost per record, aiming at SLICE_TARGET_MS per slice: cheap records go as whole
 * batches (two clock readings per batch), expensive ones a few at a time. It grows at most
 * twofold per slice, so one fast slice does not let a slow stretch run on unchecked; it starts
 * at one record, so the first expensive records of a task are checked too.
 */
export class WorkSlicer {
  /** Records in the next slice. */
  size = 1;
  private startedAt = 0;

  constructor(private readonly scheduler: Scheduler) {}

  /** A slice begins. */
  start(): void {
    this.startedAt = performance.now();
  }

  /** A slice of `records` ended: adapts the size; returns whether the task should yield now. */
  finish(records: number): boolean {
    const now = performance.now();
    if (records > 0) {
      const spent = now - this.startedAt;
      const fit = spent > 0 ? Math.floor((records * SLICE_TARGET_MS) / spent) : MAX_SLICE;
      this.size = Math.max(1, Math.min(fit, this.size * 2, MAX_SLICE));
    }
    return this.scheduler.shouldYield(now);
  }
}
