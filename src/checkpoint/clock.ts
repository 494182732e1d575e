// Time as the coordinator and restart strategies see it, injectable so their decisions can be
// tested step by step (ManualClock) instead of with real sleeps.

/** Opaque: only the clock that returned it can cancel it. */
export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once, `ms` from now (0 or less: as soon as possible, never synchronously). */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; nothing happens when it fired or was cancelled already. */
  clearTimeout(handle: TimerHandle): void;
}

export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    return setTimeout(fn, Math.max(0, ms));
  }
  clearTimeout(handle: TimerHandle): void {
    if (handle !== undefined) clearTimeout(handle as NodeJS.Timeout);
  }
}

interface ManualTimer {
  readonly at: number;
  readonly fn: () => void;
}

/**
 * A clock that moves only when told. `advance` fires every timer that falls due, earliest first
 * (timers due at the same moment in the order they were set), with `now()` equal to each timer's
 * due time while it runs; timers set by a firing timer fire in the same `advance` when due.
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Map<number, ManualTimer>();

  constructor(start = 0) {
    this.time = start;
  }
  now(): number {
    return this.time;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }
  clearTimeout(handle: TimerHandle): void {
    if (typeof handle === 'number') this.timers.delete(handle);
  }
  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`ManualClock.advance: ${ms} is not a duration`);
    const target = this.time + ms;
    for (;;) {
      const next = this.nextDue(target);
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].fn();
    }
    this.time = target;
  }
  /** Timers set and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.size;
  }
  /** When the next timer is due, if any. */
  nextTimerAt(): number | undefined {
    return this.nextDue(Number.POSITIVE_INFINITY)?.[1].at;
  }

  private nextDue(limit: number): [number, ManualTimer] | undefined {
    let next: [number, ManualTimer] | undefined;
    // Map iteration is in insertion (= id) order, so a strict `<` keeps ties in the order set.
    for (const e of this.timers)
      if (e[1].at <= limit && (next === undefined || e[1].at < next[1].at)) next = e;
    return next;
  }
}
