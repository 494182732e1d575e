// State descriptors name a piece of state and say what kind it is. The runtime creates the state
// from them, so the same descriptor works in every backend and survives in a snapshot by name.

export type StateKind = 'value' | 'list' | 'map' | 'reducing' | 'aggregating';

/** Combines an input with an accumulator; `getResult` turns the accumulator into the output. */
export interface AggregateFunction<IN, ACC, OUT> {
  createAccumulator(): ACC;
  add(value: IN, accumulator: ACC): ACC;
  getResult(accumulator: ACC): OUT;
  merge?(a: ACC, b: ACC): ACC;
}

export type ReduceFunction<T> = (a: T, b: T) => T;

abstract class BaseStateDescriptor {
  abstract readonly kind: StateKind;
  constructor(readonly name: string) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(
        'a state descriptor needs a non-empty name, e.g. new ValueStateDescriptor("count")',
      );
    }
  }
}

/**
 * A single value per key.
 * @example
 * const count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
 */
export class ValueStateDescriptor<T> extends BaseStateDescriptor {
  readonly kind = 'value' as const;
  readonly defaultValue: T | undefined;
  constructor(name: string, options: { defaultValue?: T } = {}) {
    super(name);
    this.defaultValue = options.defaultValue;
  }
}

/** A list of values per key (keyed state), or per subtask (operator state). */
export class ListStateDescriptor<T> extends BaseStateDescriptor {
  readonly kind = 'list' as const;
  declare readonly __element?: T;
}

/** A map per key. User keys follow the same rules as record keys. */
export class MapStateDescriptor<UK, UV> extends BaseStateDescriptor {
  readonly kind = 'map' as const;
  declare readonly __entry?: [UK, UV];
}

/** A value per key that every `add` folds in with `reduce`. */
export class ReducingStateDescriptor<T> extends BaseStateDescriptor {
  readonly kind = 'reducing' as const;
  constructor(
    name: string,
    readonly reduce: ReduceFunction<T>,
  ) {
    super(name);
    if (typeof reduce !== 'function') throw new TypeError(`reducing state '${name}' needs a reduce function`);
  }
}

/** An accumulator per key, fed by `add`, read through `getResult`. */
export class AggregatingStateDescriptor<IN, ACC, OUT> extends BaseStateDescriptor {
  readonly kind = 'aggregating' as const;
  constructor(
    name: string,
    readonly aggregate: AggregateFunction<IN, ACC, OUT>,
  ) {
    super(name);
    if (typeof aggregate?.add !== 'function' || typeof aggregate.createAccumulator !== 'function') {
      throw new TypeError(
        `aggregating state '${name}' needs an aggregate function with createAccumulator, add and getResult`,
      );
    }
  }
}

export type StateDescriptor =
  | ValueStateDescriptor<any>
  | ListStateDescriptor<any>
  | MapStateDescriptor<any, any>
  | ReducingStateDescriptor<any>
  | AggregatingStateDescriptor<any, any, any>;
