// Event-time and processing-time timers of one keyed operator subtask (ARCHITECTURE.md §6:
// timers are state, stored per key group so they snapshot, restore and rescale with keyed state).
//
// The truth is one StateTable per time domain — key group → (state key → sorted timestamps) —
// which gives timers the same O(key groups) copy-on-write capture as keyed state. A min-heap of
// (timestamp, key) orders the firing; it is only an index: entries of deleted timers stay in it
// and are skipped when they surface, so deleting costs no heap search. A timer is registered once
// per key and timestamp however often it is asked for.
import type { KeyGroupRange } from '../state/key-group.js';
import { StateTable } from '../state/state-table.js';

export type TimeDomain = 'event' | 'processing';

/** Milliseconds since the epoch; injectable so tests are deterministic. */
export interface ProcessingClock {
  now(): number;
}

export const SYSTEM_CLOCK: ProcessingClock = { now: () => Date.now() };

/**
 * Time as the operators of one task see it: the event timestamp of the record (or timer) being
 * processed — set by the task per record, read by writers so outputs keep their input's
 * timestamp — and processing time, with a way to ask the task for a wakeup.
 */
export class TaskTime {
  /** Event timestamp of the current record; undefined when the stream has none. */
  timestamp: number | undefined = undefined;
  /** Earliest processing-time wakeup asked for and not yet delivered. */
  wakeupAt: number | undefined = undefined;
  /** Called when a new, earlier wakeup is asked for (the task arms a timer). */
  onWakeupRequest: (at: number) => void = () => undefined;

  constructor(readonly clock: ProcessingClock = SYSTEM_CLOCK) {}

  requestWakeup(at: number): void {
    if (this.wakeupAt !== undefined && this.wakeupAt <= at) return;
    this.wakeupAt = at;
    this.onWakeupRequest(at);
  }
}

interface HeapEntry {
  readonly timestamp: number;
  readonly stateKey: unknown;
  readonly kgIndex: number;
}

/** A binary min-heap by timestamp; equal timestamps in no promised order. */
class TimerHeap {
  private readonly items: HeapEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): HeapEntry | undefined {
    return this.items[0];
  }

  push(e: HeapEntry): void {
    const a = this.items;
    let i = a.length;
    a.push(e);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]!.timestamp <= e.timestamp) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = e;
  }

  pop(): HeapEntry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const r = l + 1;
      const c = r < a.length && a[r]!.timestamp < a[l]!.timestamp ? r : l;
      if (a[c]!.timestamp >= last.timestamp) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = last;
    return top;
  }

  clear(): void {
    this.items.length = 0;
  }
}

/** What a snapshot of the timers reads: the frozen maps per domain, by key group index. */
export interface TimerCapture {
  readonly range: KeyGroupRange;
  readonly domains: ReadonlyArray<{
    readonly domain: TimeDomain;
    /** state key → sorted timestamps, indexed by key group − range.start. */
    readonly maps: ReadonlyArray<Map<unknown, unknown> | undefined>;
  }>;
  release(): void;
}

/** The timers of one domain: the table (truth) and the heap (firing order). */
class TimerQueue {
  readonly table: StateTable;
  readonly heap = new TimerHeap();
  count = 0;

  constructor(range: KeyGroupRange) {
    this.table = new StateTable(range);
  }

  register(kgIndex: number, stateKey: unknown, timestamp: number): void {
    const old = this.table.get(kgIndex, stateKey) as readonly number[] | undefined;
    if (old === undefined) {
      this.table.set(kgIndex, stateKey, [timestamp]);
    } else {
      if (old.includes(timestamp)) return;
      // A new array, never a change in place: a snapshot may hold the old one.
      const next = [...old, timestamp].sort((a, b) => a - b);
      this.table.set(kgIndex, stateKey, next);
    }
    this.count++;
    this.heap.push({ timestamp, stateKey, kgIndex });
  }

  remove(kgIndex: number, stateKey: unknown, timestamp: number): boolean {
    const old = this.table.get(kgIndex, stateKey) as readonly number[] | undefined;
    if (old === undefined || !old.includes(timestamp)) return false;
    if (old.length === 1) this.table.delete(kgIndex, stateKey);
    else
      this.table.set(
        kgIndex,
        stateKey,
        old.filter((t) => t !== timestamp),
      );
    this.count--;
    return true;
  }

  /** The earliest live timer, dropping stale heap entries on the way. */
  peekLive(): HeapEntry | undefined {
    for (;;) {
      const top = this.heap.peek();
      if (top === undefined) return undefined;
      const ts = this.table.get(top.kgIndex, top.stateKey) as readonly number[] | undefined;
      if (ts !== undefined && ts.includes(top.timestamp)) return top;
      this.heap.pop();
    }
  }
}

/** One key's timers of one domain, as a snapshot holds them. */
export interface RestoredTimers {
  readonly domain: TimeDomain;
  readonly keyGroup: number;
  readonly stateKey: unknown;
  readonly timestamps: readonly number[];
}

/** Called for each timer that fires, with the key's state key and key group index set up by the caller. */
export type FireTimer = (domain: TimeDomain, stateKey: unknown, kgIndex: number, timestamp: number) => void;

export class TimerService {
  private readonly queues: Record<TimeDomain, TimerQueue>;
  /** Largest watermark seen; event-time timers at or before it have fired. */
  currentWatermark = Number.NEGATIVE_INFINITY;

  constructor(readonly range: KeyGroupRange) {
    this.queues = { event: new TimerQueue(range), processing: new TimerQueue(range) };
  }

  register(domain: TimeDomain, kgIndex: number, stateKey: unknown, timestamp: number): void {
    if (!Number.isFinite(timestamp))
      throw new RangeError(`a timer needs a finite timestamp in epoch milliseconds, got ${timestamp}`);
    this.queues[domain].register(kgIndex, stateKey, timestamp);
  }

  delete(domain: TimeDomain, kgIndex: number, stateKey: unknown, timestamp: number): void {
    this.queues[domain].remove(kgIndex, stateKey, timestamp);
  }

  /** Registered timers of a domain. */
  size(domain: TimeDomain): number {
    return this.queues[domain].count;
  }

  /** The earliest registered timestamp of a domain, if any (to schedule a processing-time wakeup). */
  nextTimestamp(domain: TimeDomain): number | undefined {
    return this.queues[domain].peekLive()?.timestamp;
  }

  /**
   * Fires, in timestamp order, every timer of `domain` at or before `time`; timers registered by
   * `fire` that are due fire too. Each timer is removed before it fires.
   */
  advance(domain: TimeDomain, time: number, fire: FireTimer): number {
    if (domain === 'event') {
      if (time <= this.currentWatermark) return 0;
      this.currentWatermark = time;
    }
    const q = this.queues[domain];
    let fired = 0;
    for (;;) {
      const top = q.peekLive();
      if (top === undefined || top.timestamp > time) return fired;
      q.heap.pop();
      q.remove(top.kgIndex, top.stateKey, top.timestamp);
      fired++;
      fire(domain, top.stateKey, top.kgIndex, top.timestamp);
    }
  }

  /** The timers of one key in a domain, sorted. */
  timersOf(domain: TimeDomain, kgIndex: number, stateKey: unknown): readonly number[] {
    return (this.queues[domain].table.get(kgIndex, stateKey) as readonly number[] | undefined) ?? [];
  }

  /** Synchronous part of a snapshot: O(key groups); the maps stay unchanged until `release()`. */
  capture(): TimerCapture {
    const domains = (['event', 'processing'] as const).map((domain) => ({
      domain,
      maps: this.queues[domain].table.freeze(),
    }));
    let released = false;
    return {
      range: this.range,
      domains,
      release: () => {
        if (released) return;
        released = true;
        for (const d of ['event', 'processing'] as const) this.queues[d].table.unfreeze();
      },
    };
  }

  /** Folds copy-on-write overlays back in, a little at a time; true when none is left. */
  mergeStep(budget = 4096): boolean {
    const a = this.queues.event.table.mergeStep(budget);
    const b = this.queues.processing.table.mergeStep(budget);
    return a && b;
  }

  /** Loads restored timers (of any key group; those outside this subtask's range are skipped). */
  restore(entries: Iterable<RestoredTimers>): void {
    for (const e of entries) {
      if (!this.range.contains(e.keyGroup)) continue;
      const kgIndex = e.keyGroup - this.range.start;
      for (const ts of e.timestamps) this.queues[e.domain].register(kgIndex, e.stateKey, ts);
    }
  }

  /** Every timer, for snapshots in memory (the operator harness) and tests. */
  *entries(): IterableIterator<RestoredTimers> {
    for (const domain of ['event', 'processing'] as const) {
      const table = this.queues[domain].table;
      for (let i = 0; i < table.maps.length; i++)
        for (const [stateKey, ts] of table.groupEntries(i))
          yield { domain, keyGroup: this.range.start + i, stateKey, timestamps: ts as readonly number[] };
    }
  }
}
