// The task's wake-up flag: no notification may be lost (source-availability.test.ts has the job
// that once slept through one).
import { describe, expect, it } from 'vitest';
import { Signal } from '../../src/runtime/signal.js';

/** Whether `p` settles within a few turns of the event loop. */
async function settles(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  return done;
}

describe('Signal', () => {
  it('keeps a notification given before the wait, once', async () => {
    const s = new Signal();
    s.notify();
    s.notify();
    expect(await settles(s.wait())).toBe(true);
    expect(await settles(s.wait())).toBe(false);
  });

  it('wakes the wait in progress', async () => {
    const s = new Signal();
    const w = s.wait();
    expect(await settles(w)).toBe(false);
    s.notify();
    expect(await settles(w)).toBe(true);
  });
});
