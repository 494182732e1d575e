// All subtasks of an in-process job share one thread. A task that always has input would run
// in microtasks forever and starve timers, I/O and the REST server, so tasks hand the thread
// back to the event loop every time slice.
import { setImmediate as nextMacrotask } from 'node:timers/promises';

export class Scheduler {
  private lastYield = performance.now();
  constructor(private readonly sliceMs = 5) {}

  shouldYield(): boolean {
    return performance.now() - this.lastYield >= this.sliceMs;
  }

  async yield(): Promise<void> {
    await nextMacrotask();
    this.lastYield = performance.now();
  }
}
