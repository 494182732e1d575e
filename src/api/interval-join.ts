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
import type { DataStream, KeyedStream } from './data-stream.js';

/** Two keyed streams about to be joined by time interval; `between` gives the interval. */
export class IntervalJoin<L, R, K extends KeyValue> {
  /** @internal */
  constructor(
    private readonly left: KeyedStream<L, K>,
    private readonly right: KeyedStream<R, K>,
  ) {
    if (left.internals.graph !== right.internals.graph)
      throw new GraphValidationError('intervalJoin(...) needs streams of the same environment');
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

export class IntervalJoined<L, R, K extends KeyValue> {
  private lateLeft: OutputTag<L> | undefined;
  private lateRight: OutputTag<R> | undefined;
  /** @internal */
  constructor(
    private readonly left: KeyedStream<L, K>,
    private readonly right: KeyedStream<R, K>,
    private lower: number,
    private upper: number,
  ) {}

  /** Excludes t + lower itself. */
  lowerBoundExclusive(): this {
    this.lower += 1;
    return this.checked();
  }

  /** Excludes t + upper itself. */
  upperBoundExclusive(): this {
    this.upper -= 1;
    return this.checked();
  }

  /** Left records that arrive behind the watermark go to this side output instead of being dropped. */
  sideOutputLeftLateData(tag: OutputTag<L>): this {
    this.lateLeft = tag;
    return this;
  }

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
    const bounds = { lower: this.lower, upper: this.upper };
    const late = { left: this.lateLeft, right: this.lateRight };
    const { graph, edges } = this.left.internals;
    const t = graph.add(
      'operator',
      'IntervalJoin',
      [
        ...edges.map((e) => ({ ...e, inputIndex: 0 as const })),
        ...this.right.internals.edges.map((e) => ({ ...e, inputIndex: 1 as const })),
      ],
      () => new IntervalJoinOperator<L, R, O>(copyFunction(fn), bounds, late),
      { keyed: true, stateful: true, twoInput: true },
    );
    return this.left.streamOf<O>(t);
  }

  private checked(): this {
    if (this.lower > this.upper)
      throw new GraphValidationError(
        `the interval join's bounds are empty (lower ${this.lower} > upper ${this.upper}) once exclusive`,
      );
    return this;
  }
}
