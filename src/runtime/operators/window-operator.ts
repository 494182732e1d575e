// Windows on a keyed stream (ARCHITECTURE.md §6: their contents and timers are state). Per key,
// one map state holds every open window of the key — its bounds and either an accumulator
// (reduce, aggregate: incremental) or the records (process) — and one timer per window end fires
// it. With allowed lateness a window stays until its end + lateness: a late record re-fires it
// at once; later records are dropped (counted). Session windows merge when they touch.
import { MapStateDescriptor, type AggregateFunction, type ReduceFunction } from '../../state/descriptors.js';
import type { MapState } from '../../state/state.js';
import { cover, intersects, maxTimestamp, type TimeWindow, type WindowAssigner } from '../time-window.js';
import type { Collector } from '../functions.js';
import { StreamOperator } from '../stream-operator.js';
import type { TimeDomain } from '../timer-service.js';

/** What a process window function learns about the window it is called for. */
export interface WindowContext {
  readonly window: TimeWindow;
  /** The operator's watermark when the window fires. */
  currentWatermark(): number;
  currentProcessingTime(): number;
}

/**
 * Called once per window and key when the window fires, with every record of the window (or the
 * single result of an incremental aggregation before it).
 * @example
 * const count: ProcessWindowFunction<Event, string, string> = {
 *   process(key, ctx, events, out) { out.collect(`${ctx.window.start},${key},${events.length}`); },
 * };
 */
export interface ProcessWindowFunction<IN, OUT, K> {
  process(key: K, ctx: WindowContext, elements: readonly IN[], out: Collector<OUT>): void;
}

/** How a window's contents grow and turn into output. */
export type WindowFunctionSpec<IN, OUT, K> =
  | { kind: 'reduce'; reduce: ReduceFunction<IN>; process?: ProcessWindowFunction<IN, OUT, K> }
  | {
      kind: 'aggregate';
      aggregate: AggregateFunction<IN, unknown, unknown>;
      process?: ProcessWindowFunction<unknown, OUT, K>;
    }
  | { kind: 'process'; process: ProcessWindowFunction<IN, OUT, K> };

/** One open window of one key, as stored. */
interface WindowEntry {
  start: number;
  end: number;
  /** reduce/aggregate: the accumulator (undefined until the first record). */
  acc?: unknown;
  /** process: the records. */
  elements?: unknown[];
}

const windowKey = (w: TimeWindow): string => `${w.start}|${w.end}`;

export class WindowOperator<K, IN, OUT> extends StreamOperator<IN, OUT> {
  private contents!: MapState<string, WindowEntry>;
  /** Records dropped because every window they belong to was already cleaned up. */
  lateRecordsDropped = 0;
  private readonly ctx: WindowContext & { window: TimeWindow };

  constructor(
    private readonly assigner: WindowAssigner,
    private readonly fn: WindowFunctionSpec<IN, OUT, K>,
    private readonly allowedLateness = 0,
  ) {
    super();
    if (assigner.merging && fn.kind === 'aggregate' && typeof fn.aggregate.merge !== 'function')
      throw new TypeError(
        `${assigner.describe()} merge windows, so the aggregate function needs a merge(a, b) method`,
      );
    if (!Number.isSafeInteger(allowedLateness) || allowedLateness < 0)
      throw new RangeError(
        `allowed lateness must be a whole number of ms, 0 or more, got ${allowedLateness}`,
      );
    if (allowedLateness > 0 && assigner.domain === 'processing')
      throw new RangeError('allowed lateness applies to event-time windows only');
    this.ctx = {
      window: { start: 0, end: 0 },
      currentWatermark: () => this.currentWatermark,
      currentProcessingTime: () => this.time.clock.now(),
    };
  }

  protected get userFunction(): unknown {
    return this.fn.kind === 'process'
      ? this.fn.process
      : this.fn.kind === 'reduce'
        ? this.fn.reduce
        : this.fn.aggregate;
  }

  override async open(): Promise<void> {
    this.contents = this.keyedBackend!.getMapState(new MapStateDescriptor<string, WindowEntry>('_windows'));
    await super.open();
  }

  private get domain(): TimeDomain {
    return this.assigner.domain;
  }

  /** The time windows are cleaned up at: their end − 1, plus the allowed lateness. */
  private cleanupTime(w: TimeWindow): number {
    return maxTimestamp(w) + this.allowedLateness;
  }

  processElement(record: IN): void {
    const event = this.domain === 'event';
    const t = event ? this.time.timestamp : this.time.clock.now();
    if (t === undefined)
      throw new Error(
        `${this.assigner.describe()} need records with event timestamps: give the source a WatermarkStrategy with a timestamp assigner`,
      );
    let assigned = false;
    for (const w of this.assigner.assign(t)) {
      if (event && this.cleanupTime(w) <= this.currentWatermark) continue; // too late for this one
      assigned = true;
      if (this.assigner.merging) this.addMerging(w, record);
      else this.add(w, record);
    }
    if (!assigned) this.lateRecordsDropped++;
  }

  private add(w: TimeWindow, record: IN): void {
    const key = windowKey(w);
    let entry = this.contents.get(key);
    if (entry === undefined) {
      entry = { start: w.start, end: w.end };
      this.registerTimers(w);
      this.fold(entry, record);
      this.contents.put(key, entry);
    } else {
      // In place: `get` hands out the copy a running snapshot does not read (copy-on-write).
      this.fold(entry, record);
    }
    if (this.domain === 'event' && maxTimestamp(w) <= this.currentWatermark) this.emit(entry); // late but allowed: fire again
  }

  private addMerging(w: TimeWindow, record: IN): void {
    let merged: WindowEntry = { start: w.start, end: w.end };
    const absorbed: WindowEntry[] = [];
    for (const entry of this.contents.values()) {
      if (!intersects(entry, merged)) continue;
      absorbed.push(entry);
    }
    // Merge in start order so concatenated records keep their order across sessions.
    absorbed.sort((a, b) => a.start - b.start);
    for (const e of absorbed) {
      const bounds = cover(merged, e);
      merged = this.combine({ start: bounds.start, end: bounds.end, ...this.contentOf(merged) }, e);
      this.contents.remove(windowKey(e));
      this.deleteTimers(e);
    }
    this.fold(merged, record);
    this.contents.put(windowKey(merged), merged);
    this.registerTimers(merged);
    if (this.domain === 'event' && maxTimestamp(merged) <= this.currentWatermark) this.emit(merged);
  }

  private contentOf(e: WindowEntry): Pick<WindowEntry, 'acc' | 'elements'> {
    return this.fn.kind === 'process' ? { elements: e.elements } : { acc: e.acc };
  }

  /** `into` with the contents of `other` added. */
  private combine(into: WindowEntry, other: WindowEntry): WindowEntry {
    const f = this.fn;
    if (f.kind === 'process') {
      into.elements = [...(into.elements ?? []), ...(other.elements ?? [])];
    } else if (other.acc !== undefined) {
      if (into.acc === undefined) into.acc = other.acc;
      else if (f.kind === 'reduce') into.acc = f.reduce(into.acc as IN, other.acc as IN);
      else into.acc = f.aggregate.merge!(into.acc, other.acc);
    }
    return into;
  }

  private fold(entry: WindowEntry, record: IN): void {
    const f = this.fn;
    if (f.kind === 'process') {
      (entry.elements ??= []).push(record);
    } else if (f.kind === 'reduce') {
      entry.acc = entry.acc === undefined ? record : f.reduce(entry.acc as IN, record);
    } else {
      entry.acc = f.aggregate.add(
        record,
        entry.acc === undefined ? f.aggregate.createAccumulator() : entry.acc,
      );
    }
  }

  private registerTimers(w: TimeWindow): void {
    const timers = this.timers!;
    const kg = this.keyedBackend!.ctx;
    timers.register(this.domain, kg.kgIndex, kg.stateKey, maxTimestamp(w));
    if (this.allowedLateness > 0) timers.register(this.domain, kg.kgIndex, kg.stateKey, this.cleanupTime(w));
    if (this.domain === 'processing') this.requestProcessingWakeup();
  }

  private deleteTimers(w: TimeWindow): void {
    // A timer another window of the key shares stays: it is one timer per key and time.
    const others = [...this.contents.values()];
    const timers = this.timers!;
    const kg = this.keyedBackend!.ctx;
    for (const t of new Set([maxTimestamp(w), this.cleanupTime(w)]))
      if (!others.some((o) => maxTimestamp(o) === t || this.cleanupTime(o) === t))
        timers.delete(this.domain, kg.kgIndex, kg.stateKey, t);
  }

  protected override onTimer(domain: TimeDomain, timestamp: number): void {
    if (domain !== this.domain) return;
    const due = [...this.contents.values()];
    for (const entry of due) {
      if (maxTimestamp(entry) === timestamp) this.emit(entry);
      if (this.cleanupTime(entry) <= timestamp) this.contents.remove(windowKey(entry));
    }
  }

  /** Window results carry the window's last timestamp, as in Flink. */
  private emit(entry: WindowEntry): void {
    const f = this.fn;
    const key = this.keyedBackend!.ctx.key as K;
    const saved = this.time.timestamp;
    this.time.timestamp = maxTimestamp(entry);
    this.ctx.window = { start: entry.start, end: entry.end };
    try {
      if (f.kind === 'process') f.process.process(key, this.ctx, (entry.elements ?? []) as IN[], this.output);
      else if (entry.acc !== undefined) {
        const result = f.kind === 'reduce' ? entry.acc : f.aggregate.getResult(entry.acc);
        if (f.process !== undefined)
          (f.process as ProcessWindowFunction<unknown, OUT, K>).process(key, this.ctx, [result], this.output);
        else this.output.collect(result as OUT);
      }
    } finally {
      this.time.timestamp = saved;
    }
  }
}
