// Windows on a keyed stream (ARCHITECTURE.md §6: their contents and timers are state). Per key,
// one map state holds every open window of the key — its bounds and either an accumulator
// (reduce, aggregate: incremental) or the records (process, or any window with an evictor) — and
// timers fire it. With allowed lateness a window stays until its end + lateness: a late record
// re-fires it at once; later records go to the late-data side output, or are dropped (counted).
// Session windows merge when they touch.
//
// Two paths share the storage. Without a trigger or evictor (or with the default trigger) the
// operator fires each window by one timer per window end, as it always has: it is the fast path
// every default window job takes. With a custom trigger or an evictor, the trigger decides (as in
// Flink's WindowOperator): each window's entry also records the timers its trigger registered
// and the trigger's state (window-trigger.ts), because timers here are (key, time) and a timer
// must find every window of the key that asked for it.
import { MapStateDescriptor, type AggregateFunction, type ReduceFunction } from '../../state/descriptors.js';
import type { MapState } from '../../state/state.js';
import { cover, intersects, maxTimestamp, type TimeWindow, type WindowAssigner } from '../time-window.js';
import type { Collector } from '../functions.js';
import { EVENT_TIME_HINT } from '../event-time-hint.js';
import { StreamOperator } from '../stream-operator.js';
import type { TimeDomain } from '../timer-service.js';
import type { OutputTag } from '../output-tag.js';
import type { Evictor, TimestampedValue } from '../window-evictor.js';
import {
  defaultTrigger,
  scopeTimers,
  WindowTriggerContext,
  type Trigger,
  type TriggerResult,
  type TriggerScope,
} from '../window-trigger.js';

/** What a process window function learns about the window it is called for. */
export interface WindowContext {
  readonly window: TimeWindow;
  /** The operator's watermark when the window fires. */
  currentWatermark(): number;
  currentProcessingTime(): number;
  /** Emits `value` to the side output `tag`, with the window's last timestamp. */
  output<X>(tag: OutputTag<X>, value: X): void;
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

/** How windows fire and what they drop, beside the assigner and the function. */
export interface WindowSettings<IN> {
  /** Event time only: how long after its end a window still takes records (default 0). */
  readonly allowedLateness?: number;
  /** When windows fire; default: the assigner's (EventTimeTrigger or ProcessingTimeTrigger). */
  readonly trigger?: Trigger<IN> | undefined;
  readonly evictor?: Evictor<IN> | undefined;
  /** Where records too late for every window go; without it they are dropped and counted. */
  readonly lateDataTag?: OutputTag<IN> | undefined;
}

/** One open window of one key, as stored (its trigger's timers and state too, see TriggerScope). */
interface WindowEntry extends TriggerScope {
  start: number;
  end: number;
  /** reduce/aggregate: the accumulator (undefined until the first record). */
  acc?: unknown;
  /** process, or any function with an evictor: the records. */
  elements?: unknown[];
  /** With an evictor: the event timestamp of each record of `elements`. */
  timestamps?: Array<number | undefined>;
}

const windowKey = (w: TimeWindow): string => `${w.start}|${w.end}`;
const boundsOf = (e: WindowEntry): TimeWindow => ({ start: e.start, end: e.end });

export class WindowOperator<K, IN, OUT> extends StreamOperator<IN, OUT> {
  private contents!: MapState<string, WindowEntry>;
  /**
   * Records dropped because every window they belong to was already cleaned up (as Flink's
   * numLateRecordsDropped: not those sent to the late-data side output).
   */
  lateRecordsDropped = 0;
  private readonly ctx: WindowContext & { window: TimeWindow };
  private readonly allowedLateness: number;
  /** Undefined on the fast path: no evictor and the assigner's default trigger. */
  private readonly trigger: Trigger<IN> | undefined;
  private readonly evictor: Evictor<IN> | undefined;
  private readonly lateDataTag: OutputTag<IN> | undefined;
  private readonly triggerCtx: WindowTriggerContext;

  constructor(
    private readonly assigner: WindowAssigner,
    private readonly fn: WindowFunctionSpec<IN, OUT, K>,
    settings: WindowSettings<IN> = {},
  ) {
    super();
    const { allowedLateness = 0, trigger, evictor, lateDataTag } = settings;
    this.allowedLateness = allowedLateness;
    // With an evictor a window keeps its records, so merging needs no accumulator merge.
    if (
      assigner.merging &&
      fn.kind === 'aggregate' &&
      evictor === undefined &&
      typeof fn.aggregate.merge !== 'function'
    )
      throw new TypeError(
        `${assigner.describe()} merge windows, so the aggregate function needs a merge(a, b) method (or the window an evictor)`,
      );
    if (!Number.isSafeInteger(allowedLateness) || allowedLateness < 0)
      throw new RangeError(
        `allowed lateness must be a whole number of ms, 0 or more, got ${allowedLateness}`,
      );
    if (allowedLateness > 0 && assigner.domain === 'processing')
      throw new RangeError('allowed lateness applies to event-time windows only');
    if (
      trigger !== undefined &&
      (typeof trigger?.onElement !== 'function' ||
        typeof trigger.onEventTime !== 'function' ||
        typeof trigger.onProcessingTime !== 'function' ||
        typeof trigger.clear !== 'function')
    )
      throw new TypeError(
        'a window trigger needs onElement, onEventTime, onProcessingTime and clear methods',
      );
    if (
      trigger !== undefined &&
      assigner.merging &&
      (trigger.canMerge?.() !== true || typeof trigger.onMerge !== 'function')
    )
      throw new TypeError(
        `${assigner.describe()} merge windows, so their trigger must support merging: canMerge() returning true and onMerge(window, ctx)`,
      );
    if (
      evictor !== undefined &&
      (typeof evictor?.evictBefore !== 'function' || typeof evictor.evictAfter !== 'function')
    )
      throw new TypeError('a window evictor needs evictBefore and evictAfter methods');
    if (lateDataTag !== undefined && typeof lateDataTag?.id !== 'string')
      throw new TypeError('the late-data side output needs an OutputTag, e.g. new OutputTag<Event>("late")');
    this.evictor = evictor;
    this.lateDataTag = lateDataTag;
    const fallback = defaultTrigger(assigner.domain) as Trigger<IN>;
    this.trigger =
      evictor === undefined && (trigger === undefined || trigger === fallback)
        ? undefined
        : (trigger ?? fallback);
    this.triggerCtx = new WindowTriggerContext({
      currentWatermark: () => this.currentWatermark,
      currentProcessingTime: () => this.time.clock.now(),
      registerTimer: (scope, domain, time) => this.registerWindowTimer(scope, domain, time),
      deleteTimer: (scope, domain, time) => this.deleteWindowTimer(scope, domain, time),
    });
    this.ctx = {
      window: { start: 0, end: 0 },
      currentWatermark: () => this.currentWatermark,
      currentProcessingTime: () => this.time.clock.now(),
      output: (tag, value) => this.emitToSide(tag, value),
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
      throw new Error(`${this.assigner.describe()} need records with event timestamps: ${EVENT_TIME_HINT}`);
    if (this.trigger !== undefined) {
      this.processTriggered(this.trigger, record, t, event);
      return;
    }
    let assigned = false;
    for (const w of this.assigner.assign(t)) {
      if (event && this.cleanupTime(w) <= this.currentWatermark) continue; // too late for this one
      assigned = true;
      if (this.assigner.merging) this.addMerging(w, record);
      else this.add(w, record);
    }
    if (!assigned) this.dropLate(record);
  }

  private dropLate(record: IN): void {
    if (this.lateDataTag !== undefined) this.emitToSide(this.lateDataTag, record);
    else this.lateRecordsDropped++;
  }

  /**
   * The state key of a window. Tumbling and sliding windows recur in record after record: their
   * key strings are kept, so the hot path neither builds a string nor hashes one (V8 keeps a
   * string's hash in it). Keyed by start, checked by end (an assigner may give other ends).
   */
  private windowKeyOf(w: TimeWindow): string {
    const cached = this.windowKeys.get(w.start);
    if (cached !== undefined && cached.end === w.end) return cached.key;
    const key = windowKey(w);
    if (this.windowKeys.size >= 4096) this.windowKeys.clear();
    this.windowKeys.set(w.start, { end: w.end, key });
    return key;
  }
  private readonly windowKeys = new Map<number, { end: number; key: string }>();

  private add(w: TimeWindow, record: IN): void {
    const key = this.windowKeyOf(w);
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
    // The common cases, in place: the record falls inside one session, or extends its end (a
    // stream in order). The entry is the copy a running snapshot does not read (copy-on-write).
    const only = absorbed.length === 1 ? absorbed[0]! : undefined;
    if (only !== undefined && only.start <= w.start) {
      if (w.end > only.end) {
        this.contents.remove(windowKey(only));
        this.deleteTimers(only);
        only.end = w.end;
        this.fold(only, record);
        this.contents.put(windowKey(only), only);
        this.registerTimers(only);
      } else this.fold(only, record);
      if (this.domain === 'event' && maxTimestamp(only) <= this.currentWatermark) this.emit(only);
      return;
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
    if (this.evictor !== undefined) {
      into.elements = [...(into.elements ?? []), ...(other.elements ?? [])];
      into.timestamps = [...(into.timestamps ?? []), ...(other.timestamps ?? [])];
    } else if (f.kind === 'process') {
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
    // A window first seen within its allowed lateness fires at once (the caller does that); an
    // end timer in the past would fire it a second time at the next watermark.
    if (this.domain === 'processing' || maxTimestamp(w) > this.currentWatermark)
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
    if (this.trigger !== undefined) {
      this.onTriggerTimer(this.trigger, domain, timestamp);
      return;
    }
    if (domain !== this.domain) return;
    const due = [...this.contents.values()];
    for (const entry of due) {
      if (maxTimestamp(entry) === timestamp) this.emit(entry);
      if (this.cleanupTime(entry) <= timestamp) this.contents.remove(windowKey(entry));
    }
  }

  private emit(entry: WindowEntry): void {
    const f = this.fn;
    this.inWindow(boundsOf(entry), (key) => {
      if (f.kind === 'process') f.process.process(key, this.ctx, (entry.elements ?? []) as IN[], this.output);
      else if (entry.acc !== undefined)
        this.collectResult(key, f.kind === 'reduce' ? entry.acc : f.aggregate.getResult(entry.acc));
    });
  }

  /** Runs `body` with the window in the context; window results carry its last timestamp, as in Flink. */
  private inWindow(window: TimeWindow, body: (key: K) => void): void {
    const saved = this.time.timestamp;
    this.time.timestamp = maxTimestamp(window);
    this.ctx.window = window;
    try {
      body(this.keyedBackend!.ctx.key as K);
    } finally {
      this.time.timestamp = saved;
    }
  }

  /** A reduce or aggregate result: through the process function given with it, or out as it is. */
  private collectResult(key: K, result: unknown): void {
    const p = this.fn.kind === 'process' ? undefined : this.fn.process;
    if (p !== undefined)
      (p as ProcessWindowFunction<unknown, OUT, K>).process(key, this.ctx, [result], this.output);
    else this.output.collect(result as OUT);
  }

  // ---- With a trigger or an evictor (Flink's WindowOperator / EvictingWindowOperator) ----

  private processTriggered(trigger: Trigger<IN>, record: IN, t: number, event: boolean): void {
    let assigned = false;
    for (const w of this.assigner.assign(t)) {
      // As on the fast path, a record's own window decides lateness (also before a session merge).
      if (event && this.cleanupTime(w) <= this.currentWatermark) continue;
      assigned = true;
      const entry = this.assigner.merging ? this.mergeInto(trigger, w) : this.openWindow(w);
      if (this.evictor !== undefined) {
        (entry.elements ??= []).push(record);
        (entry.timestamps ??= []).push(this.time.timestamp);
      } else this.fold(entry, record);
      this.triggerCtx.scope = entry;
      this.apply(
        entry,
        trigger.onElement(record, this.time.timestamp, boundsOf(entry), this.triggerCtx),
        'onElement',
      );
      this.registerWindowTimer(entry, this.domain, this.cleanupTime(entry));
    }
    if (!assigned) this.dropLate(record);
  }

  private openWindow(w: TimeWindow): WindowEntry {
    const key = this.windowKeyOf(w);
    let entry = this.contents.get(key);
    if (entry === undefined) {
      entry = { start: w.start, end: w.end };
      this.contents.put(key, entry);
    }
    return entry;
  }

  /**
   * The session `w` joins: an existing window that covers it, or a new window covering `w` and
   * every window it touches, which takes over their contents and (through `onMerge`) their
   * trigger state and timers.
   */
  private mergeInto(trigger: Trigger<IN>, w: TimeWindow): WindowEntry {
    const absorbed: WindowEntry[] = [];
    for (const entry of this.contents.values()) if (intersects(entry, w)) absorbed.push(entry);
    const only = absorbed.length === 1 ? absorbed[0]! : undefined;
    if (only !== undefined && only.start <= w.start && w.end <= only.end) return only;
    if (absorbed.length === 0) return this.openWindow(w);
    absorbed.sort((a, b) => a.start - b.start);
    let bounds = w;
    for (const e of absorbed) bounds = cover(bounds, e);
    const merged: WindowEntry = { start: bounds.start, end: bounds.end };
    // Stored first: a timer an absorbed window gives up stays when the merged window holds it.
    this.contents.put(windowKey(merged), merged);
    const ctx = this.triggerCtx;
    ctx.scope = merged;
    ctx.merging = absorbed;
    try {
      trigger.onMerge!(boundsOf(merged), ctx);
    } finally {
      ctx.merging = [];
    }
    for (const e of absorbed) {
      ctx.scope = e;
      trigger.clear(boundsOf(e), ctx);
      this.combine(merged, e);
      this.retire(e);
    }
    return merged;
  }

  private onTriggerTimer(trigger: Trigger<IN>, domain: TimeDomain, timestamp: number): void {
    // Every window of the key that registered this time fires; the timer itself is gone already.
    const due: WindowEntry[] = [];
    for (const entry of this.contents.values()) if (removeTime(entry, domain, timestamp)) due.push(entry);
    const ctx = this.triggerCtx;
    for (const entry of due) {
      const w = boundsOf(entry);
      ctx.scope = entry;
      if (domain === 'event') this.apply(entry, trigger.onEventTime(timestamp, w, ctx), 'onEventTime');
      else this.apply(entry, trigger.onProcessingTime(timestamp, w, ctx), 'onProcessingTime');
      if (domain === this.domain && this.cleanupTime(entry) === timestamp) {
        ctx.scope = entry;
        trigger.clear(w, ctx);
        this.retire(entry);
      }
    }
  }

  private apply(entry: WindowEntry, result: TriggerResult, call: string): void {
    switch (result) {
      case 'CONTINUE':
        return;
      case 'FIRE':
        this.fire(entry);
        return;
      case 'PURGE':
        purge(entry);
        return;
      case 'FIRE_AND_PURGE':
        this.fire(entry);
        purge(entry);
        return;
      default:
        throw new TypeError(
          `the window trigger's ${call} returned ${String(result)}; return TriggerResult.CONTINUE, FIRE, PURGE or FIRE_AND_PURGE`,
        );
    }
  }

  private fire(entry: WindowEntry): void {
    // A purged window holds nothing and emits nothing, as in Flink.
    if (this.evictor !== undefined) {
      if (entry.elements !== undefined) this.emitEvicting(this.evictor, entry);
    } else if (this.fn.kind === 'process' ? entry.elements !== undefined : entry.acc !== undefined)
      this.emit(entry);
  }

  /** Evicts, applies the function to what is left, evicts again, and keeps what is left. */
  private emitEvicting(evictor: Evictor<IN>, entry: WindowEntry): void {
    const window = boundsOf(entry);
    const ts = entry.timestamps ?? [];
    const all = entry.elements!.map((value, i): TimestampedValue<IN> => ({
      value: value as IN,
      timestamp: ts[i],
    }));
    const before = checkEvicted(evictor.evictBefore(all, window, this.ctx), 'evictBefore');
    this.emitValues(
      window,
      before.map((r) => r.value),
    );
    const after = checkEvicted(evictor.evictAfter(before, window, this.ctx), 'evictAfter');
    if (after.length === 0) purge(entry);
    else {
      entry.elements = after.map((r) => r.value);
      entry.timestamps = after.map((r) => r.timestamp);
    }
  }

  /** The window function over records (an evicting window reduces and aggregates when it fires). */
  private emitValues(window: TimeWindow, values: readonly IN[]): void {
    const f = this.fn;
    this.inWindow(window, (key) => {
      if (f.kind === 'process') f.process.process(key, this.ctx, values, this.output);
      else if (f.kind === 'reduce') {
        if (values.length > 0)
          this.collectResult(
            key,
            values.reduce((a, b) => f.reduce(a, b)),
          );
      } else {
        // As Flink, an aggregate over no records still gives the empty accumulator's result.
        let acc = f.aggregate.createAccumulator();
        for (const v of values) acc = f.aggregate.add(v, acc);
        this.collectResult(key, f.aggregate.getResult(acc));
      }
    });
  }

  private registerWindowTimer(scope: TriggerScope, domain: TimeDomain, time: number): void {
    const own = domain === 'event' ? (scope.eventTimers ??= []) : (scope.processingTimers ??= []);
    if (own.includes(time)) return;
    own.push(time);
    const kg = this.keyedBackend!.ctx;
    this.timers!.register(domain, kg.kgIndex, kg.stateKey, time);
    if (domain === 'processing') this.requestProcessingWakeup();
  }

  private deleteWindowTimer(scope: TriggerScope, domain: TimeDomain, time: number): void {
    if (removeTime(scope, domain, time)) this.releaseTimer(domain, time);
  }

  /** Deletes the key's timer at `time` unless another window of the key still holds it. */
  private releaseTimer(domain: TimeDomain, time: number): void {
    for (const other of this.contents.values()) if (scopeTimers(other, domain)?.includes(time)) return;
    const kg = this.keyedBackend!.ctx;
    this.timers!.delete(domain, kg.kgIndex, kg.stateKey, time);
  }

  /** Removes a window and the timers only it held. */
  private retire(entry: WindowEntry): void {
    this.contents.remove(windowKey(entry));
    for (const domain of ['event', 'processing'] as const)
      for (const time of scopeTimers(entry, domain) ?? []) this.releaseTimer(domain, time);
    delete entry.eventTimers;
    delete entry.processingTimers;
  }
}

function purge(entry: WindowEntry): void {
  delete entry.acc;
  delete entry.elements;
  delete entry.timestamps;
}

/** Removes `time` from the scope's timers of `domain`; false when it was not there. */
function removeTime(scope: TriggerScope, domain: TimeDomain, time: number): boolean {
  const own = scopeTimers(scope, domain);
  const i = own === undefined ? -1 : own.indexOf(time);
  if (i < 0) return false;
  own!.splice(i, 1);
  if (own!.length === 0) {
    if (domain === 'event') delete scope.eventTimers;
    else delete scope.processingTimers;
  }
  return true;
}

function checkEvicted<T>(kept: readonly TimestampedValue<T>[], call: string): readonly TimestampedValue<T>[] {
  if (!Array.isArray(kept))
    throw new TypeError(
      `the window evictor's ${call} returned ${String(kept)}; return the records to keep (an array)`,
    );
  return kept;
}
