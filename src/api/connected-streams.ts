// Two streams into one operator: connected streams (keyed or not) and a stream connected to a
// broadcast stream. The first stream feeds input 0 of the operator, the second input 1.
import { GraphValidationError, type EdgeSpec } from '../graph/transformation.js';
import type { KeySelector } from '../runtime/functions.js';
import {
  BroadcastProcessOperator,
  KeyedBroadcastProcessOperator,
} from '../runtime/operators/broadcast-process-operator.js';
import { CoProcessOperator, KeyedCoProcessOperator } from '../runtime/operators/co-process-operator.js';
import { copyFunction, type StreamOperator } from '../runtime/stream-operator.js';
import type {
  BroadcastProcessFunction,
  CoFlatMapFunction,
  CoMapFunction,
  CoProcessFunction,
  KeyedBroadcastProcessFunction,
  KeyedCoProcessFunction,
} from '../runtime/two-input-functions.js';
import type { MapStateDescriptor } from '../state/descriptors.js';
import type { KeyValue } from '../state/key-group.js';
import type { DataStream } from './data-stream.js';
import { keepsOperatorState } from './operator-state-check.js';
import type { StreamGraphBuilder } from './stream-graph-builder.js';

/** A stream made for `connect(...)`: broadcast to every subtask, with the broadcast states it fills. */
export class BroadcastStream<T> {
  /** Never set: carries the record type for the compiler. */
  declare readonly __type?: T;
  /** @internal */
  constructor(
    readonly graph: StreamGraphBuilder,
    readonly edges: readonly EdgeSpec[],
    readonly descriptors: readonly MapStateDescriptor<unknown, unknown>[],
  ) {
    const names = new Set<string>();
    for (const d of descriptors) {
      if (d?.kind !== 'map')
        throw new GraphValidationError('broadcast(...) takes MapStateDescriptors: broadcast state is a map');
      if (names.has(d.name))
        throw new GraphValidationError(`broadcast(...) declares the state '${d.name}' twice`);
      names.add(d.name);
    }
  }
}

/** Refuses two streams of different environments; `what` names the call, e.g. `connect(...)`. */
export function sameGraph(
  what: string,
  a: DataStream<unknown>,
  b: { graph: StreamGraphBuilder } | DataStream<unknown>,
): void {
  const g = 'internals' in b ? b.internals.graph : b.graph;
  if (a.internals.graph !== g)
    throw new GraphValidationError(`${what} needs streams of the same environment`);
}

/**
 * Adds an operator with two inputs: `first`'s edges as input 0 and `secondEdges` as input 1.
 * Returns the operator's output stream.
 */
export function addTwoInputOperator<O>(
  first: DataStream<unknown>,
  secondEdges: readonly EdgeSpec[],
  name: string,
  create: () => StreamOperator,
  options: { keyed: boolean; stateful: boolean },
): DataStream<O> {
  const { graph, edges } = first.internals;
  const t = graph.add(
    'operator',
    name,
    [
      ...edges.map((e) => ({ ...e, inputIndex: 0 as const })),
      ...secondEdges.map((e) => ({ ...e, inputIndex: 1 as const })),
    ],
    create,
    { ...options, twoInput: true },
  );
  return first.streamOf<O>(t);
}

/** The operations both kinds of connected streams offer. */
abstract class TwoInputs<I1, I2> {
  constructor(
    protected readonly first: DataStream<I1>,
    protected readonly second: DataStream<I2>,
  ) {
    sameGraph('connect(...)', first as DataStream<unknown>, second as DataStream<unknown>);
  }

  protected abstract get keyed(): boolean;

  protected build<O>(name: string, create: () => StreamOperator, fn: unknown): DataStream<O> {
    return addTwoInputOperator<O>(
      this.first as DataStream<unknown>,
      this.second.internals.edges,
      name,
      create,
      { keyed: this.keyed, stateful: this.keyed || keepsOperatorState(fn) },
    );
  }

  /** One output per record of either input. */
  map<O>(fn: CoMapFunction<I1, I2, O>): DataStream<O> {
    if (typeof fn?.map1 !== 'function' || typeof fn.map2 !== 'function')
      throw new GraphValidationError('map(...) on connected streams needs an object with map1 and map2');
    return this.build<O>(
      'CoMap',
      () => {
        const f = copyFunction(fn);
        return new CoProcessOperator<I1, I2, O>(
          {
            processElement1: (v, _ctx, out) => out.collect(f.map1(v)),
            processElement2: (v, _ctx, out) => out.collect(f.map2(v)),
          },
          f,
        );
      },
      fn,
    );
  }

  /** Zero or more outputs per record of either input. */
  flatMap<O>(fn: CoFlatMapFunction<I1, I2, O>): DataStream<O> {
    if (typeof fn?.flatMap1 !== 'function' || typeof fn.flatMap2 !== 'function')
      throw new GraphValidationError(
        'flatMap(...) on connected streams needs an object with flatMap1 and flatMap2',
      );
    const emit = <O>(r: Iterable<O> | void, out: { collect(o: O): void }): void => {
      if (r !== undefined) for (const o of r) out.collect(o);
    };
    return this.build<O>(
      'CoFlatMap',
      () => {
        const f = copyFunction(fn);
        return new CoProcessOperator<I1, I2, O>(
          {
            processElement1: (v, _ctx, out) => emit(f.flatMap1(v, out), out),
            processElement2: (v, _ctx, out) => emit(f.flatMap2(v, out), out),
          },
          f,
        );
      },
      fn,
    );
  }
}

/** Two streams connected, not partitioned by key: each subtask sees what its channels bring. */
export class ConnectedStreams<I1, I2> extends TwoInputs<I1, I2> {
  /** @internal */
  constructor(first: DataStream<I1>, second: DataStream<I2>) {
    super(first, second);
    const k1 = first.internals.keyed;
    const k2 = second.internals.keyed;
    if (k1 !== k2)
      throw new GraphValidationError(
        'connect(...) of a keyed and a non-keyed stream: key both (keyBy on each, or connect(...).keyBy(key1, key2)), or broadcast the other with broadcast(descriptor)',
      );
  }

  protected get keyed(): boolean {
    return this.first.internals.keyed;
  }

  /** Partitions both inputs by key, so records with equal keys meet in one subtask. */
  keyBy<K extends KeyValue>(
    key1: KeySelector<I1, K>,
    key2: KeySelector<I2, K>,
  ): KeyedConnectedStreams<I1, I2, K> {
    if (typeof key1 !== 'function' || typeof key2 !== 'function')
      throw new GraphValidationError(
        'keyBy(key1, key2) on connected streams needs a key selector for each input',
      );
    return new KeyedConnectedStreams<I1, I2, K>(this.first.keyBy(key1), this.second.keyBy(key2));
  }

  /** `processElement1`/`processElement2` per record of each input, with a context (side outputs, time). */
  process<O>(fn: CoProcessFunction<I1, I2, O>): DataStream<O> {
    if (this.keyed)
      return new KeyedConnectedStreams<I1, I2, KeyValue>(this.first, this.second).process(fn as never);
    if (typeof fn?.processElement1 !== 'function' || typeof fn.processElement2 !== 'function')
      throw new GraphValidationError(
        'process(...) on connected streams needs a function with processElement1 and processElement2',
      );
    return this.build<O>('CoProcess', () => new CoProcessOperator<I1, I2, O>(copyFunction(fn)), fn);
  }
}

/** Two streams partitioned by the same kind of key: keyed state and timers shared per key. */
export class KeyedConnectedStreams<I1, I2, K extends KeyValue> extends TwoInputs<I1, I2> {
  /** @internal */
  constructor(first: DataStream<I1>, second: DataStream<I2>) {
    super(first, second);
  }

  protected get keyed(): boolean {
    return true;
  }

  /** As `process` on unkeyed connected streams, with keyed state and timers shared by both inputs' records of a key. */
  process<O>(fn: KeyedCoProcessFunction<K, I1, I2, O>): DataStream<O> {
    if (typeof fn?.processElement1 !== 'function' || typeof fn.processElement2 !== 'function')
      throw new GraphValidationError(
        'process(...) on connected streams needs a function with processElement1 and processElement2',
      );
    return this.build<O>(
      'KeyedCoProcess',
      () => new KeyedCoProcessOperator<K, I1, I2, O>(copyFunction(fn)),
      fn,
    );
  }
}

/** A stream connected to a broadcast stream. */
export class BroadcastConnectedStream<I, B> {
  /** @internal */
  constructor(
    private readonly stream: DataStream<I>,
    private readonly broadcastStream: BroadcastStream<B>,
  ) {
    sameGraph('connect(...)', stream as DataStream<unknown>, broadcastStream);
  }

  /**
   * A BroadcastProcessFunction on a plain stream, or a KeyedBroadcastProcessFunction when the
   * stream is keyed (keyed state and timers on its side).
   */
  process<O>(fn: BroadcastProcessFunction<I, B, O>): DataStream<O>;
  process<K, O>(fn: KeyedBroadcastProcessFunction<K, I, B, O>): DataStream<O>;
  process<K, O>(
    fn: BroadcastProcessFunction<I, B, O> | KeyedBroadcastProcessFunction<K, I, B, O>,
  ): DataStream<O> {
    if (typeof fn?.processElement !== 'function' || typeof fn.processBroadcastElement !== 'function')
      throw new GraphValidationError(
        'process(...) on a broadcast-connected stream needs a function with processElement and processBroadcastElement',
      );
    const keyed = this.stream.internals.keyed;
    const descriptors = this.broadcastStream.descriptors;
    return addTwoInputOperator<O>(
      this.stream as DataStream<unknown>,
      this.broadcastStream.edges,
      keyed ? 'KeyedBroadcastProcess' : 'BroadcastProcess',
      keyed
        ? () =>
            new KeyedBroadcastProcessOperator<K, I, B, O>(
              copyFunction(fn as KeyedBroadcastProcessFunction<K, I, B, O>),
              descriptors,
            )
        : () =>
            new BroadcastProcessOperator<I, B, O>(
              copyFunction(fn as BroadcastProcessFunction<I, B, O>),
              descriptors,
            ),
      { keyed, stateful: true },
    );
  }
}
