// Window joins and co-groups, built as Flink builds them: both streams tagged with their side and
// key, united, keyed, windowed; per key and window, a process function splits the records by side
// and joins (every pair) or co-groups (both lists) them. The window operator keeps the records.
import { GraphValidationError } from '../graph/transformation.js';
import type { Collector, KeySelector, RichFunction, RuntimeContext } from '../runtime/functions.js';
import type { ProcessWindowFunction, WindowContext } from '../runtime/operators/window-operator.js';
import { copyFunction } from '../runtime/stream-operator.js';
import type { WindowAssigner } from '../runtime/time-window.js';
import type { KeyValue } from '../state/key-group.js';
import { sameGraph } from './connected-streams.js';
import type { DataStream } from './data-stream.js';

/** Joins one record of each side (a pair of a window join); an object may have `open`/`close`. */
export type JoinFunction<L, R, O> =
  ((left: L, right: R) => O) | (RichFunction & { join(left: L, right: R): O });

/** Gets all records of both sides of one key and window (either list may be empty). */
export interface CoGroupFunction<L, R, O> extends RichFunction {
  coGroup(left: readonly L[], right: readonly R[], out: Collector<O>): void;
}

interface Tagged {
  k: unknown;
  /** 0: left, 1: right. */
  s: 0 | 1;
  v: unknown;
}

/**
 * `a.join(b)` or `a.coGroup(b)`: name each side's key with `where` and `equalTo`, then a window.
 * @example a.join(b).where((x) => x.id).equalTo((y) => y.id).window(TumblingEventTimeWindows.of(60_000)).apply((x, y) => ({ ...x, ...y }))
 */
export class JoinedStreams<L, R> {
  /** @internal */
  constructor(
    private readonly left: DataStream<L>,
    private readonly right: DataStream<R>,
    private readonly kind: 'join' | 'coGroup',
  ) {
    sameGraph(`${kind}(...)`, left as DataStream<unknown>, right as DataStream<unknown>);
  }

  /** The key of the left stream's records. */
  where<K extends KeyValue>(
    leftKey: KeySelector<L, K>,
  ): {
    /** The key of the right stream's records; records with equal keys meet. */
    equalTo(rightKey: KeySelector<R, K>): {
      window(assigner: WindowAssigner): WindowedJoin<L, R, K>;
    };
  } {
    if (typeof leftKey !== 'function')
      throw new GraphValidationError('where(...) needs a key selector function');
    return {
      equalTo: (rightKey) => {
        if (typeof rightKey !== 'function')
          throw new GraphValidationError('equalTo(...) needs a key selector function');
        return {
          window: (assigner) =>
            new WindowedJoin<L, R, K>(this.left, this.right, leftKey, rightKey, assigner, this.kind),
        };
      },
    };
  }
}

/** A window join or co-group with its keys and window: `apply` the function (optionally after `allowedLateness`). */
export class WindowedJoin<L, R, K extends KeyValue> {
  private lateness = 0;
  /** @internal */
  constructor(
    private readonly left: DataStream<L>,
    private readonly right: DataStream<R>,
    private readonly leftKey: KeySelector<L, K>,
    private readonly rightKey: KeySelector<R, K>,
    private readonly assigner: WindowAssigner,
    private readonly kind: 'join' | 'coGroup',
  ) {
    if (typeof assigner?.assign !== 'function')
      throw new GraphValidationError(
        'window(...) needs a window assigner, e.g. TumblingEventTimeWindows.of(60_000)',
      );
  }

  /** As for windows: a record this late after a window's end still joins, and the window fires again. */
  allowedLateness(ms: number): this {
    if (!Number.isSafeInteger(ms) || ms < 0)
      throw new GraphValidationError(`allowedLateness(${ms}) needs a whole number of ms, 0 or more`);
    this.lateness = ms;
    return this;
  }

  /**
   * join: `fn` once per pair of a left and a right record of the same key and window.
   * coGroup: a CoGroupFunction once per key and window with records on either side.
   * @example
   * clicks.join(views).where((c) => c.ad).equalTo((v) => v.ad).window(TumblingEventTimeWindows.of(60_000)).apply((c, v) => ({ ad: c.ad, click: c.t, view: v.t }))
   */
  apply<O>(fn: JoinFunction<L, R, O> | CoGroupFunction<L, R, O>): DataStream<O> {
    const { leftKey, rightKey, kind } = this;
    if (kind === 'join') {
      if (typeof fn !== 'function' && typeof (fn as { join?: unknown })?.join !== 'function')
        throw new GraphValidationError('apply(...) of a join needs a function (left, right) => output');
    } else if (typeof (fn as CoGroupFunction<L, R, O>)?.coGroup !== 'function')
      throw new GraphValidationError(
        'apply(...) of a coGroup needs a function with coGroup(left, right, out)',
      );
    const tag =
      (s: 0 | 1, key: KeySelector<never, K>) =>
      (v: unknown): Tagged => ({ k: key(v as never), s, v });
    const tagged = this.left
      .map<Tagged>(tag(0, leftKey as KeySelector<never, K>))
      .name(`${kind === 'join' ? 'Join' : 'CoGroup'}: left`)
      .union(
        this.right
          .map<Tagged>(tag(1, rightKey as KeySelector<never, K>))
          .name(`${kind === 'join' ? 'Join' : 'CoGroup'}: right`),
      );
    let windowed = tagged.keyBy((t) => t.k as K).window(this.assigner);
    if (this.lateness > 0) windowed = windowed.allowedLateness(this.lateness);
    return windowed
      .process<O>(new SplitBySide<L, R, O>(fn, kind))
      .name(kind === 'join' ? 'WindowJoin' : 'WindowCoGroup');
  }
}

/**
 * The window's process function: splits a window's records by side and joins or co-groups
 * them. The user's function is copied per subtask (this object is, by the window operator) and
 * its `open`/`close` run with the operator's, as for any function object.
 */
class SplitBySide<L, R, O> implements ProcessWindowFunction<Tagged, O, unknown> {
  constructor(
    private fn: JoinFunction<L, R, O> | CoGroupFunction<L, R, O>,
    private readonly kind: 'join' | 'coGroup',
  ) {}

  async open(ctx: RuntimeContext): Promise<void> {
    this.fn = copyFunction(this.fn);
    const f = this.fn as Partial<RichFunction>;
    if (typeof f === 'object' && typeof f.open === 'function') await f.open(ctx);
  }

  async close(): Promise<void> {
    const f = this.fn as Partial<RichFunction>;
    if (typeof f === 'object' && typeof f.close === 'function') await f.close();
  }

  process(_key: unknown, _ctx: WindowContext, elements: readonly Tagged[], out: Collector<O>): void {
    const ls: L[] = [];
    const rs: R[] = [];
    for (const e of elements) (e.s === 0 ? ls : rs).push(e.v as never);
    const fn = this.fn;
    if (this.kind === 'coGroup') {
      (fn as CoGroupFunction<L, R, O>).coGroup(ls, rs, out);
      return;
    }
    if (typeof fn === 'function') {
      for (const l of ls) for (const r of rs) out.collect(fn(l, r));
    } else {
      const j = fn as { join(l: L, r: R): O };
      for (const l of ls) for (const r of rs) out.collect(j.join(l, r));
    }
  }
}
