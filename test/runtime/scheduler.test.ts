// Tasks share one thread and hand it back to the event loop every time slice; a shorter one while
// a snapshot's I/O is in flight.
import { describe, expect, it } from 'vitest';
import { Scheduler, WorkSlicer } from '../../src/runtime/scheduler.js';

function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    /* busy, as a task processing records */
  }
}

describe('Scheduler', () => {
  it('asks a task to yield once its slice is used, a shorter one while I/O is in flight', async () => {
    const s = new Scheduler(40, 10);
    await s.yield();
    spin(15);
    expect(s.shouldYield()).toBe(false); // 15 of 40 ms
    s.beginIo();
    expect(s.shouldYield()).toBe(true); // 15 of 10 ms
    await s.yield();
    expect(s.shouldYield()).toBe(false); // a new turn, a new slice
    spin(12);
    expect(s.shouldYield()).toBe(true);
    s.endIo();
    expect(s.shouldYield()).toBe(false); // back to 40 ms
    s.endIo(); // unpaired: ignored
    s.beginIo();
    expect(s.shouldYield()).toBe(true);
  });

  it('starts one slice per turn of the loop for every task that yields in it', async () => {
    const s = new Scheduler(40, 10);
    const a = s.yield();
    const b = s.yield();
    expect(a).toBe(b);
    await Promise.all([a, b]);
    expect(s.shouldYield()).toBe(false);
  });

  it('cuts work into slices that follow the cost per record: whole batches when cheap, one record when expensive', async () => {
    const s = new Scheduler(1000, 1000);
    await s.yield();
    const w = new WorkSlicer(s);
    expect(w.size).toBe(1); // the first records are checked too
    // Cheap records: the size doubles slice after slice, up to whole batches.
    for (let i = 0; i < 12; i++) {
      w.start();
      expect(w.finish(w.size)).toBe(false);
    }
    expect(w.size).toBeGreaterThanOrEqual(2048);
    // Expensive ones (3 ms each): one at a time, at once.
    w.start();
    spin(3 * 2);
    w.finish(2);
    expect(w.size).toBe(1);
    // A slice of no records (a poll that found nothing) says nothing about the cost.
    w.start();
    spin(2);
    w.finish(0);
    expect(w.size).toBe(1);
    w.start();
    w.finish(1);
    expect(w.size).toBe(2); // growing back, at most twofold a slice
  });

  it("tells a slicer to yield once the turn's slice is used", async () => {
    const s = new Scheduler(10, 10);
    await s.yield();
    const w = new WorkSlicer(s);
    w.start();
    expect(w.finish(1)).toBe(false);
    w.start();
    spin(12);
    expect(w.finish(1)).toBe(true);
  });
});
