// The interval join (Flink's IntervalJoinOperator): per key, each side's records wait in keyed
// map state, bucketed by timestamp, for as long as a record of the other side may still match
// them; a record joins every buffered record of the other side within its interval. An
// event-time timer per bucket drops it once the watermark has passed the last time it could
// match. Buffers and timers are keyed state: they are in every checkpoint and savepoint.
import { MapStateDescriptor } from '../../state/descriptors.js';
import { StateAccessError, type MapState } from '../../state/state.js';
import type { Collector, RichFunction, CheckpointedFunction, CheckpointListener } from '../functions.js';
import type { OutputTag } from '../output-tag.js';
import { EVENT_TIME_HINT } from '../event-time-hint.js';
import { StreamOperator } from '../stream-operator.js';

/** What a join function learns about the pair it is called with. */
export interface IntervalJoinContext {
  readonly leftTimestamp: number;
  readonly rightTimestamp: number;
  /** The pair's timestamp: the larger of the two, which its output carries. */
  readonly timestamp: number;
  output<X>(tag: OutputTag<X>, value: X): void;
}

/**
 * Called once per matching pair of an interval join.
 * @example
 * const fn: ProcessJoinFunction<Order, Shipment, string> = {
 *   processElement(order, shipment, ctx, out) { out.collect(`${order.id},${ctx.rightTimestamp - ctx.leftTimestamp}`); },
 * };
 */
export interface ProcessJoinFunction<L, R, O>
  extends RichFunction, Partial<CheckpointedFunction>, CheckpointListener {
  processElement(left: L, right: R, ctx: IntervalJoinContext, out: Collector<O>): void;
}

export interface IntervalJoinBounds {
  /** Inclusive: a left record at t meets right records at t + lower … t + upper. */
  readonly lower: number;
  readonly upper: number;
}

export class IntervalJoinOperator<L, R, O> extends StreamOperator<L, O> {
  private left!: MapState<number, unknown[]>;
  private right!: MapState<number, unknown[]>;
  /** Records dropped because they came behind the watermark (not those sent to a late-data side output). */
  lateRecordsDropped = 0;
  private readonly ctx = {
    leftTimestamp: 0,
    rightTimestamp: 0,
    timestamp: 0,
    output: <X>(tag: OutputTag<X>, value: X) => this.emitToSide(tag, value),
  };

  constructor(
    private readonly fn: ProcessJoinFunction<L, R, O>,
    private readonly bounds: IntervalJoinBounds,
    private readonly lateTags: { left?: OutputTag<L> | undefined; right?: OutputTag<R> | undefined } = {},
  ) {
    super();
    const { lower, upper } = bounds;
    if (!Number.isSafeInteger(lower) || !Number.isSafeInteger(upper) || lower > upper)
      throw new RangeError(
        `interval join bounds (${lower}, ${upper}): need whole numbers of ms with lower ≤ upper`,
      );
  }

  protected get userFunction(): unknown {
    return this.fn;
  }

  override async open(): Promise<void> {
    const ctx = this.getRuntimeContext();
    this.left = ctx.getMapState(new MapStateDescriptor<number, unknown[]>('_join_left'));
    this.right = ctx.getMapState(new MapStateDescriptor<number, unknown[]>('_join_right'));
    await super.open();
  }

  processElement(record: L): void {
    this.process(record, true);
  }

  override processElement2(record: unknown): void {
    this.process(record, false);
  }

  private process(record: unknown, isLeft: boolean): void {
    const ts = this.time.timestamp;
    if (ts === undefined)
      throw new StateAccessError(
        `an interval join needs event-time timestamps on both inputs: ${EVENT_TIME_HINT}`,
      );
    if (ts < this.currentWatermark) {
      const tag = isLeft ? this.lateTags.left : this.lateTags.right;
      if (tag !== undefined) this.emitToSide(tag as OutputTag<unknown>, record);
      else this.lateRecordsDropped++;
      return;
    }
    const { lower, upper } = this.bounds;
    const own = isLeft ? this.left : this.right;
    const bucket = own.get(ts);
    // In place: `get` hands out the copy a running snapshot does not read (copy-on-write).
    if (bucket === undefined) {
      own.put(ts, [record]);
      // The bucket can be dropped once no record of the other side can still reach it. Its
      // cleanup time depends only on its timestamp and side, and a bucket lives exactly as
      // long as this timer (onTimer removes it): registered once, when the bucket is made.
      const cleanup = ts + Math.max(isLeft ? upper : -lower, 0);
      const keyCtx = this.keyedBackend!.ctx;
      this.timers!.register('event', keyCtx.kgIndex, keyCtx.stateKey, cleanup);
    } else bucket.push(record);
    // The other side's records at other + [lower', upper'] relative to this record.
    const from = isLeft ? ts + lower : ts - upper;
    const to = isLeft ? ts + upper : ts - lower;
    const other = isLeft ? this.right : this.left;
    for (const [otherTs, records] of other.entries()) {
      if (otherTs < from || otherTs > to) continue;
      for (const o of records) {
        if (isLeft) this.emit(record as L, ts, o as R, otherTs);
        else this.emit(o as L, otherTs, record as R, ts);
      }
    }
  }

  private emit(left: L, leftTs: number, right: R, rightTs: number): void {
    const time = this.time;
    const saved = time.timestamp;
    const ctx = this.ctx;
    ctx.leftTimestamp = leftTs;
    ctx.rightTimestamp = rightTs;
    ctx.timestamp = leftTs > rightTs ? leftTs : rightTs;
    time.timestamp = ctx.timestamp;
    try {
      this.fn.processElement(left, right, ctx, this.output);
    } finally {
      time.timestamp = saved;
    }
  }

  /**
   * The cleanup time of a bucket is its timestamp plus a fixed amount per side, so the timer
   * names at most one bucket of each side: those two buckets are the ones due.
   */
  protected override onTimer(_domain: 'event' | 'processing', timestamp: number): void {
    const { lower, upper } = this.bounds;
    this.left.remove(timestamp - Math.max(upper, 0));
    this.right.remove(timestamp - Math.max(-lower, 0));
  }
}
