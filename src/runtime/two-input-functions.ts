// The functions of operators with two inputs: connected streams (co-process, co-map, co-flatMap)
// and a stream connected to a broadcast stream. As with one input, a function is an object with
// these methods and the optional lifecycle hooks; each subtask works on its own copy.
import type {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  StateDescriptor,
  ValueStateDescriptor,
} from '../state/descriptors.js';
import type { AggregatingState, ListState, MapState, ReducingState, ValueState } from '../state/state.js';
import type {
  CheckpointedFunction,
  CheckpointListener,
  Collector,
  KeyedProcessContext,
  OnTimerContext,
  ProcessContext,
  RichFunction,
} from './functions.js';

type Lifecycle = RichFunction & Partial<CheckpointedFunction> & CheckpointListener;

/**
 * Processes two streams in one operator (e.g. control messages beside data); on connected
 * non-keyed streams, operator state only.
 */
export interface CoProcessFunction<I1, I2, O> extends Lifecycle {
  processElement1(value: I1, ctx: ProcessContext, out: Collector<O>): void;
  processElement2(value: I2, ctx: ProcessContext, out: Collector<O>): void;
  /** Both inputs have ended: emit anything still buffered. */
  endInput?(out: Collector<O>): void;
}

/**
 * Two streams keyed the same way: records of both inputs with equal keys meet in one subtask and
 * share keyed state and timers.
 * @example
 * // emits each order once its payment has arrived, whichever came first
 * class MatchPayments implements KeyedCoProcessFunction<string, Order, Payment, string> { … }
 * orders.connect(payments).keyBy((o) => o.id, (p) => p.orderId).process(new MatchPayments())
 */
export interface KeyedCoProcessFunction<K, I1, I2, O> extends Lifecycle {
  processElement1(value: I1, ctx: KeyedProcessContext<K>, out: Collector<O>): void;
  processElement2(value: I2, ctx: KeyedProcessContext<K>, out: Collector<O>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
}

/** One output per record of either input. */
export interface CoMapFunction<I1, I2, O> extends Lifecycle {
  map1(value: I1): O;
  map2(value: I2): O;
}

/** Zero or more outputs per record of either input: emit through `out` or return an iterable. */
export interface CoFlatMapFunction<I1, I2, O> extends Lifecycle {
  flatMap1(value: I1, out: Collector<O>): Iterable<O> | void;
  flatMap2(value: I2, out: Collector<O>): Iterable<O> | void;
}

/** Broadcast state as the non-broadcast side sees it: it may read, never write. */
export interface ReadOnlyMapState<UK, UV> {
  get(key: UK): UV | undefined;
  contains(key: UK): boolean;
  entries(): IterableIterator<[UK, UV]>;
  keys(): IterableIterator<UK>;
  values(): IterableIterator<UV>;
  isEmpty(): boolean;
}

export interface ReadOnlyBroadcastContext extends ProcessContext {
  /** A broadcast state declared in `broadcast(...)`, read-only. */
  getBroadcastState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): ReadOnlyMapState<UK, UV>;
}

export interface BroadcastContext extends ProcessContext {
  /**
   * A broadcast state declared in `broadcast(...)`. Every subtask receives every broadcast
   * record, so each must change its copy the same way for the copies to stay equal.
   */
  getBroadcastState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): MapState<UK, UV>;
}

/** A stream connected to a broadcast stream (rules, configuration) that every subtask sees whole. */
export interface BroadcastProcessFunction<IN, BC, O> extends Lifecycle {
  processElement(value: IN, ctx: ReadOnlyBroadcastContext, out: Collector<O>): void;
  processBroadcastElement(value: BC, ctx: BroadcastContext, out: Collector<O>): void;
}

export interface KeyedReadOnlyBroadcastContext<K> extends KeyedProcessContext<K> {
  getBroadcastState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): ReadOnlyMapState<UK, UV>;
}

export interface KeyedOnTimerBroadcastContext<K> extends OnTimerContext<K> {
  getBroadcastState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): ReadOnlyMapState<UK, UV>;
}

/** Any keyed state descriptor, and the state it gives. */
export type KeyedStateDescriptor = StateDescriptor;
export type StateOf<D> =
  D extends ValueStateDescriptor<infer T>
    ? ValueState<T>
    : D extends ListStateDescriptor<infer T>
      ? ListState<T>
      : D extends MapStateDescriptor<infer UK, infer UV>
        ? MapState<UK, UV>
        : D extends ReducingStateDescriptor<infer T>
          ? ReducingState<T>
          : D extends AggregatingStateDescriptor<infer IN, infer _ACC, infer OUT>
            ? AggregatingState<IN, OUT>
            : never;

export interface KeyedBroadcastContext<K> extends BroadcastContext {
  /**
   * Calls `fn` once for every key of this subtask that has a value in the keyed state
   * `descriptor`, with that key's state (e.g. to clear every key's state when a rule changes).
   */
  applyToKeyedState<D extends KeyedStateDescriptor>(
    descriptor: D,
    fn: (key: K, state: StateOf<D>) => void,
  ): void;
}

/**
 * A keyed stream connected to a broadcast stream: keyed state and timers for the keyed side,
 * broadcast state (read-only there) shared by both.
 * @example
 * const rulesState = new MapStateDescriptor<string, Rule>('rules');
 * events.keyBy((e) => e.user).connect(rules.broadcast(rulesState)).process(new ApplyRules())
 */
export interface KeyedBroadcastProcessFunction<K, IN, BC, O> extends Lifecycle {
  processElement(value: IN, ctx: KeyedReadOnlyBroadcastContext<K>, out: Collector<O>): void;
  processBroadcastElement(value: BC, ctx: KeyedBroadcastContext<K>, out: Collector<O>): void;
  onTimer?(timestamp: number, ctx: KeyedOnTimerBroadcastContext<K>, out: Collector<O>): void;
}
