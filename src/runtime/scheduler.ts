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

  shouldYield(): boolean {
    return performance.now() - this.lastYield >= (this.io > 0 ? this.ioSliceMs : this.sliceMs);
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
