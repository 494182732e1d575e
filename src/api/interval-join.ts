// keyed.intervalJoin(otherKeyed).between(lower, upper).process(fn): the fluent steps of an
// interval join. The two keyed streams feed the two inputs of one IntervalJoinOperator.
import { GraphValidationError } from '../graph/transformation.js';
import {
  IntervalJoinOperator,
  type ProcessJoinFunction,
} from '../runtime/operators/interval-join-operator.js';
import type { OutputTag } from '../runtime/output-tag.js';
import { copyFunction } from '../runtime/stream-operator.js';
import type { KeyValue } from '../state/key-group.js';
import { addTwoInputOperator, sameGraph } from './connected-streams.js';
import type { DataStream, KeyedStream } from './data-stream.js';

/** Two keyed streams about to be joined by time interval; `between` gives the interval. */
export class IntervalJoin<L, R, K extends KeyValue> {
  /** @internal */
  constructor(
    private readonly left: KeyedStream<L, K>,
    private readonly right: KeyedStream<R, K>,
  ) {
    sameGraph('intervalJoin(...)', left as DataStream<unknown>, right as DataStream<unknown>);
  }

  /**
   * A left record at time t meets the right records of its key at t + lower … t + upper
   * (inclusive; ms; either may be negative).
   */
  between(lower: number, upper: number): IntervalJoined<L, R, K> {
    if (!Number.isSafeInteger(lower) || !Number.isSafeInteger(upper) || lower > upper)
      throw new GraphValidationError(
        `between(${lower}, ${upper}) needs whole numbers of ms with lower ≤ upper`,
      );
    return new IntervalJoined<L, R, K>(this.left, this.right, lower, upper);
  }
}

/** An interval join with its bounds: choose late-data outputs, then `process` the pairs. */
export class IntervalJoined<L, R, K extends KeyValue> {
  private lateLeft: OutputTag<L> | undefined;
  private lateRight: OutputTag<R> | undefined;
  private lowerExclusive = false;
  private upperExclusive = false;
  /** @internal */
  constructor(
    private readonly left: KeyedStream<L, K>,
    private readonly right: KeyedStream<R, K>,
    private readonly lower: number,
    private readonly upper: number,
  ) {}

  /** Excludes t + lower itself (calling it again changes nothing). */
  lowerBoundExclusive(): this {
    this.lowerExclusive = true;
    return this.checked();
  }

  /** Excludes t + upper itself (calling it again changes nothing). */
  upperBoundExclusive(): this {
    this.upperExclusive = true;
    return this.checked();
  }

  /** Left records that arrive behind the watermark go to this side output instead of being dropped. */
  sideOutputLeftLateData(tag: OutputTag<L>): this {
    this.lateLeft = tag;
    return this;
  }

  /** Right records that arrive behind the watermark go to this side output instead of being dropped. */
  sideOutputRightLateData(tag: OutputTag<R>): this {
    this.lateRight = tag;
    return this;
  }

  /** Calls `fn` once per matching pair; its output carries the later of the two timestamps. */
  process<O>(fn: ProcessJoinFunction<L, R, O>): DataStream<O> {
    if (typeof fn?.processElement !== 'function')
      throw new GraphValidationError(
        'process(...) of an interval join needs a function with processElement(left, right, ctx, out)',
      );
    const bounds = this.bounds();
    const late = { left: this.lateLeft, right: this.lateRight };
    return addTwoInputOperator<O>(
      this.left as DataStream<unknown>,
      this.right.internals.edges,
      'IntervalJoin',
      () => new IntervalJoinOperator<L, R, O>(copyFunction(fn), bounds, late),
      { keyed: true, stateful: true },
    );
  }

  /** The inclusive bounds, in whole ms. */
  private bounds(): { lower: number; upper: number } {
    return {
      lower: this.lowerExclusive ? this.lower + 1 : this.lower,
      upper: this.upperExclusive ? this.upper - 1 : this.upper,
    };
  }

  private checked(): this {
    const { lower, upper } = this.bounds();
    if (lower > upper)
      throw new GraphValidationError(
        `the interval join's bounds are empty (lower ${lower} > upper ${upper}) once exclusive`,
      );
    return this;
  }
}
