// The task's wake-up flag: no notification may be lost, also when a task waited for the signal
// or something else and the something else came first (a source's isAvailable()).
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

  it('keeps a notification that comes after waitOr ended on the other promise', async () => {
    const s = new Signal();
    await s.waitOr(Promise.resolve());
    // The task is busy (its mailbox was just drained) when a mail arrives and notifies …
    s.notify();
    // … so its next wait must not sleep.
    expect(await settles(s.wait())).toBe(true);
  });

  it('ends waitOr on a notification, and leaves nothing pending', async () => {
    const s = new Signal();
    let release!: () => void;
    const other = new Promise<void>((r) => (release = r));
    const w = s.waitOr(other);
    s.notify();
    expect(await settles(w)).toBe(true);
    release();
    expect(await settles(s.wait())).toBe(false);
  });
});
