// Tasks share one thread and hand it back to the event loop every time slice; a shorter one while
// a snapshot's I/O is in flight.
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../src/runtime/scheduler.js';

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
});
