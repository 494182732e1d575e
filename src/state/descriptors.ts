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

/**
 * Turns the stored unit of a state into bytes and back: the value of value, reducing and
 * aggregating state, each element of list state, each value of map state. `id` is recorded in
 * snapshots; a restore needs a serializer with the same id. Without one, weir's CBOR codec
 * ('weir-cbor', docs/value-codec.md) stores the values.
 */
export interface StateSerializer<T> {
  readonly id: string;
  serialize(value: T): Uint8Array;
  deserialize(bytes: Uint8Array): T;
}

/** The id of the default serializer (docs/value-codec.md), recorded in snapshots. */
export const DEFAULT_SERIALIZER_ID = 'weir-cbor';

/**
 * Schema evolution of a state's stored unit (see StateSerializer): `version` (default 1) is
 * recorded in snapshots; when a snapshot holds an older version, `migrate` turns each stored unit
 * of it into the current form on restore.
 */
export interface StateSchemaOptions<T> {
  readonly version?: number;
  readonly migrate?: (old: unknown, fromVersion: number) => T;
  readonly serializer?: StateSerializer<T>;
}

abstract class BaseStateDescriptor<U = unknown> {
  abstract readonly kind: StateKind;
  /** The schema version of the stored unit; 1 unless given. */
  readonly version: number;
  readonly migrate: ((old: unknown, fromVersion: number) => U) | undefined;
  readonly serializer: StateSerializer<U> | undefined;
  constructor(
    readonly name: string,
    options: StateSchemaOptions<U> = {},
  ) {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(
        'a state descriptor needs a non-empty name, e.g. new ValueStateDescriptor("count")',
      );
    }
    // Flink's descriptors take a type here (`new ValueStateDescriptor("c", Types.INT)`); weir's
    // take options, and a type given instead would be read as no options at all.
    if (typeof options !== 'object' || options === null || Array.isArray(options))
      throw new TypeError(
        `state '${name}': the argument after the name is options ({ defaultValue, version, migrate, serializer }), got ${typeof options === 'function' ? `a function (${(options as { name?: string }).name || 'anonymous'})` : String(options)}; weir's state needs no type, leave it out`,
      );
    const { version = 1, migrate, serializer } = options;
    if (!Number.isSafeInteger(version) || version < 1)
      throw new TypeError(
        `state '${name}': version must be an integer of at least 1, got ${String(version)}`,
      );
    if (migrate !== undefined && typeof migrate !== 'function')
      throw new TypeError(`state '${name}': migrate must be a function (old, fromVersion) => new value`);
    if (
      serializer !== undefined &&
      (typeof serializer.id !== 'string' ||
        serializer.id.length === 0 ||
        typeof serializer.serialize !== 'function' ||
        typeof serializer.deserialize !== 'function')
    )
      throw new TypeError(
        `state '${name}': a serializer needs a non-empty id and serialize/deserialize functions`,
      );
    if (serializer?.id === DEFAULT_SERIALIZER_ID)
      throw new TypeError(
        `state '${name}': the serializer id '${DEFAULT_SERIALIZER_ID}' is weir's own codec; leave serializer out to use it, or give yours another id`,
      );
    this.version = version;
    this.migrate = migrate;
    this.serializer = serializer;
  }
}

/**
 * A single value per key.
 * @example
 * const count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
 * // Version 2 stores { n, last } where version 1 stored a number:
 * const count2 = ctx.getState(
 *   new ValueStateDescriptor<{ n: number; last: number }>('count', {
 *     version: 2,
 *     migrate: (old, from) => (from === 1 ? { n: old as number, last: 0 } : (old as never)),
 *   }),
 * );
 */
export class ValueStateDescriptor<T> extends BaseStateDescriptor<T> {
  readonly kind = 'value' as const;
  readonly defaultValue: T | undefined;
  constructor(name: string, options: { defaultValue?: T } & StateSchemaOptions<T> = {}) {
    super(name, options);
    this.defaultValue = options.defaultValue;
  }
}

/**
 * A list of values per key (keyed state), or per subtask (operator state). `version`, `migrate`
 * and `serializer` apply to each element.
 */
export class ListStateDescriptor<T> extends BaseStateDescriptor<T> {
  readonly kind = 'list' as const;
  declare readonly __element?: T;
  constructor(name: string, options: StateSchemaOptions<T> = {}) {
    super(name, options);
  }
}

/**
 * A map per key (or broadcast state). User keys follow the same rules as record keys.
 * `version`, `migrate` and `serializer` apply to each map value.
 */
export class MapStateDescriptor<UK, UV> extends BaseStateDescriptor<UV> {
  readonly kind = 'map' as const;
  declare readonly __entry?: [UK, UV];
  constructor(name: string, options: StateSchemaOptions<UV> = {}) {
    super(name, options);
  }
}

/** A value per key that every `add` folds in with `reduce`. */
export class ReducingStateDescriptor<T> extends BaseStateDescriptor<T> {
  readonly kind = 'reducing' as const;
  constructor(
    name: string,
    readonly reduce: ReduceFunction<T>,
    options: StateSchemaOptions<T> = {},
  ) {
    super(name, options);
    if (typeof reduce !== 'function') throw new TypeError(`reducing state '${name}' needs a reduce function`);
  }
}

/** An accumulator per key, fed by `add`, read through `getResult`. The schema options apply to the accumulator. */
export class AggregatingStateDescriptor<IN, ACC, OUT> extends BaseStateDescriptor<ACC> {
  readonly kind = 'aggregating' as const;
  constructor(
    name: string,
    readonly aggregate: AggregateFunction<IN, ACC, OUT>,
    options: StateSchemaOptions<ACC> = {},
  ) {
    super(name, options);
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
