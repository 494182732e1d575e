// DataStream and KeyedStream: the fluent surface that builds transformations. Nothing runs
// until the environment executes the graph.
import {
  GraphValidationError,
  Transformation,
  type EdgeSpec,
  type PartitionSpec,
} from '../graph/transformation.js';
import type {
  FilterFunction,
  FlatMapFunction,
  KeyedProcessFunction,
  KeySelector,
  MapFunction,
  ProcessFunction,
} from '../runtime/functions.js';
import { FilterOperator } from '../runtime/operators/filter-operator.js';
import { FlatMapOperator } from '../runtime/operators/flat-map-operator.js';
import { MapOperator } from '../runtime/operators/map-operator.js';
import { KeyedProcessOperator, ProcessOperator } from '../runtime/operators/process-operator.js';
import { ReduceOperator } from '../runtime/operators/reduce-operator.js';
import { SinkOperator } from '../runtime/operators/sink-operator.js';
import type { Sink } from '../runtime/sink.js';
import { copyFunction, type StreamOperator } from '../runtime/stream-operator.js';
import type { AggregateFunction, ReduceFunction } from '../state/descriptors.js';
import {
  WindowOperator,
  type ProcessWindowFunction,
  type WindowFunctionSpec,
} from '../runtime/operators/window-operator.js';
import type { WindowAssigner } from '../runtime/time-window.js';
import { CountWindowOperator } from '../runtime/operators/count-window-operator.js';
import type { KeyValue } from '../state/key-group.js';
import { PrintSink } from '../connectors/print-sink.js';
import type { StreamGraphBuilder } from './stream-graph-builder.js';

/** Settings shared by everything that is one operator: a stream produced by it, or a sink. */
abstract class OperatorHandle {
  constructor(protected readonly op: Transformation | undefined) {}

  private target(what: string): Transformation {
    if (this.op === undefined) {
      throw new GraphValidationError(
        `${what} applies to an operator, but this stream is a union or keyBy of streams; call it on the operator before`,
      );
    }
    return this.op;
  }

  /** A stable id for this operator's state across versions of the job. Give every stateful operator one. */
  uid(uid: string): this {
    if (typeof uid !== 'string' || uid.length === 0)
      throw new GraphValidationError('uid(...) needs a non-empty string');
    this.target('uid()').uid = uid;
    return this;
  }

  /** The operator's name in logs, errors and metrics. */
  name(name: string): this {
    if (typeof name !== 'string' || name.length === 0)
      throw new GraphValidationError('name(...) needs a non-empty string');
    this.target('name()').name = name;
    return this;
  }

  setParallelism(parallelism: number): this {
    if (!Number.isInteger(parallelism) || parallelism < 1) {
      throw new GraphValidationError(
        `setParallelism(${parallelism}): parallelism must be a positive integer`,
      );
    }
    this.target('setParallelism()').parallelism = parallelism;
    return this;
  }

  setMaxParallelism(maxParallelism: number): this {
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1) {
      throw new GraphValidationError(
        `setMaxParallelism(${maxParallelism}): max parallelism must be a positive integer`,
      );
    }
    this.target('setMaxParallelism()').maxParallelism = maxParallelism;
    return this;
  }
}

/** A stream of records of type T. */
export class DataStream<T> extends OperatorHandle {
  /** @internal */
  constructor(
    protected readonly graph: StreamGraphBuilder,
    protected readonly edges: readonly EdgeSpec[],
    op: Transformation | undefined,
  ) {
    super(op);
  }

  protected get keyed(): boolean {
    return false;
  }

  protected transform<R>(name: string, create: () => StreamOperator, fn?: unknown): DataStream<R> {
    const t = this.graph.add('operator', name, this.edges, create, {
      keyed: this.keyed,
      stateful: this.keyed || keepsOperatorState(fn),
    });
    return new DataStream<R>(this.graph, [{ from: t, partition: { kind: 'default' } }], t);
  }

  /** One output per input. @example stream.map((s) => s.length) */
  map<R>(fn: MapFunction<T, R>): DataStream<R> {
    return this.transform('Map', () => new MapOperator(copyFunction(fn)), fn);
  }

  /** Keeps the records for which `fn` is true. */
  filter(fn: FilterFunction<T>): DataStream<T> {
    return this.transform('Filter', () => new FilterOperator(copyFunction(fn)), fn);
  }

  /** Zero or more outputs per input. @example lines.flatMap((l) => l.split(/\s+/)) */
  flatMap<R>(fn: FlatMapFunction<T, R>): DataStream<R> {
    return this.transform('FlatMap', () => new FlatMapOperator(copyFunction(fn)), fn);
  }

  /** A process function: full control over output; operator state through initializeState. */
  process<R>(fn: ProcessFunction<T, R>): DataStream<R> {
    return this.transform('Process', () => new ProcessOperator(copyFunction(fn)), fn);
  }

  /** Partitions by key: records with equal keys go to the same subtask and share keyed state. */
  keyBy<K extends KeyValue>(keySelector: KeySelector<T, K>): KeyedStream<T, K> {
    if (typeof keySelector !== 'function')
      throw new GraphValidationError('keyBy(...) needs a key selector function, e.g. keyBy((r) => r.id)');
    return new KeyedStream<T, K>(
      this.graph,
      this.repartition({ kind: 'hash', keySelector: keySelector as KeySelector<unknown, unknown> }),
    );
  }

  /** Spreads records round-robin over the next operator's subtasks. */
  rebalance(): DataStream<T> {
    return new DataStream<T>(this.graph, this.repartition({ kind: 'rebalance' }), undefined);
  }

  /** Sends every record to every subtask of the next operator. */
  broadcast(): DataStream<T> {
    return new DataStream<T>(this.graph, this.repartition({ kind: 'broadcast' }), undefined);
  }

  /** Keeps records in the subtask that produced them; needs equal parallelism. */
  forward(): DataStream<T> {
    return new DataStream<T>(this.graph, this.repartition({ kind: 'forward' }), undefined);
  }

  /** Merges streams of the same type. */
  union(...others: DataStream<T>[]): DataStream<T> {
    const edges = [...this.edges];
    for (const o of others) {
      if (o.graph !== this.graph)
        throw new GraphValidationError('union(...) needs streams of the same environment');
      edges.push(...o.edges);
    }
    return new DataStream<T>(this.graph, edges, undefined);
  }

  /** Ends the stream in a sink. */
  sinkTo(sink: Sink<T>): DataStreamSink {
    const t = this.graph.add('sink', 'Sink', this.edges, () => new SinkOperator(sink), {
      keyed: this.keyed,
      stateful: this.keyed || sink.stateful === true,
    });
    return new DataStreamSink(t);
  }

  /** Prints every record to stdout (prefixed with the subtask when parallel). */
  print(prefix?: string): DataStreamSink {
    return this.sinkTo(new PrintSink<T>(prefix)).name('Print');
  }

  private repartition(partition: PartitionSpec): EdgeSpec[] {
    return this.edges.map((e) => ({ from: e.from, partition }));
  }
}

type NumericField<T> = { [P in keyof T]: T[P] extends number ? P : never }[keyof T];

/** A stream partitioned by key; operators on it may use keyed state. */
export class KeyedStream<T, K extends KeyValue> extends DataStream<T> {
  /** @internal */
  constructor(graph: StreamGraphBuilder, edges: readonly EdgeSpec[]) {
    super(graph, edges, undefined);
  }

  protected override get keyed(): boolean {
    return true;
  }

  /** A keyed process function: keyed state and the current key in its context. */
  override process<R>(fn: KeyedProcessFunction<K, T, R>): DataStream<R> {
    return this.transform('KeyedProcess', () => new KeyedProcessOperator(copyFunction(fn)));
  }

  /**
   * Windows per key: records are grouped into the windows `assigner` gives them, and each window
   * fires once when it ends (event time: when the watermark passes its end).
   * @example
   * events.keyBy((e) => e.user).window(TumblingEventTimeWindows.of(60_000)).aggregate(countEvents)
   */
  window(assigner: WindowAssigner): WindowedStream<T, K> {
    if (typeof assigner?.assign !== 'function')
      throw new GraphValidationError(
        'window(...) needs a window assigner, e.g. TumblingEventTimeWindows.of(60_000)',
      );
    return new WindowedStream<T, K>(assigner, (name, create) => this.transform(name, create));
  }

  /**
   * Count windows: every `size` records of a key are one window, which fires with its last record
   * (a key's incomplete last window never fires, as in Flink).
   * @example keyed.countWindow(100).reduce((a, b) => a + b)
   */
  countWindow(size: number): CountWindowedStream<T> {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new GraphValidationError(`countWindow(${size}) needs a size of at least 1 record`);
    return new CountWindowedStream<T>(size, (name, create) => this.transform(name, create));
  }

  /** Rolling reduce per key: emits the reduced value after each record. */
  reduce(fn: ReduceFunction<T>): DataStream<T> {
    if (typeof fn !== 'function')
      throw new GraphValidationError('reduce(...) needs a function (a, b) => combined');
    return this.transform('Reduce', () => new ReduceOperator<T>(fn));
  }

  /** Rolling sum per key of a numeric field (or of the records, for a stream of numbers). */
  sum(field?: NumericField<T>): DataStream<T> {
    return this.aggregate('Sum', field, (a, b) => a + b, false);
  }
  /** Rolling minimum of a field; other fields keep the key's first record's values. */
  min(field?: NumericField<T>): DataStream<T> {
    return this.aggregate('Min', field, Math.min, false);
  }
  max(field?: NumericField<T>): DataStream<T> {
    return this.aggregate('Max', field, Math.max, false);
  }
  /** The whole record with the smallest value of the field so far (the first one on ties). */
  minBy(field: NumericField<T>): DataStream<T> {
    return this.aggregate('MinBy', field, (a, b) => (b < a ? b : a), true);
  }
  maxBy(field: NumericField<T>): DataStream<T> {
    return this.aggregate('MaxBy', field, (a, b) => (b > a ? b : a), true);
  }

  private aggregate(
    name: string,
    field: NumericField<T> | undefined,
    combine: (a: number, b: number) => number,
    byRecord: boolean,
  ): DataStream<T> {
    let reduce: ReduceFunction<T>;
    if (field === undefined) {
      reduce = (a, b) => combine(a as number, b as number) as T;
    } else if (byRecord) {
      reduce = (a, b) => {
        const x = (a as Record<PropertyKey, number>)[field as PropertyKey]!;
        const y = (b as Record<PropertyKey, number>)[field as PropertyKey]!;
        return combine(x, y) === x ? a : b;
      };
    } else {
      reduce = (a, b) => {
        const f = field as PropertyKey;
        const r = { ...(a as object) } as Record<PropertyKey, number>;
        r[f] = combine((a as Record<PropertyKey, number>)[f]!, (b as Record<PropertyKey, number>)[f]!);
        return r as T;
      };
    }
    return this.transform(name, () => new ReduceOperator<T>(reduce));
  }
}

/** A keyed stream cut into windows; a window function makes it a stream again. */
export class WindowedStream<T, K extends KeyValue> {
  private lateness = 0;
  /** @internal */
  constructor(
    private readonly assigner: WindowAssigner,
    private readonly build: <R>(name: string, create: () => StreamOperator) => DataStream<R>,
  ) {}

  /**
   * Keeps each event-time window `ms` after its end: a record that late still updates it and
   * fires it again; later ones are dropped.
   */
  allowedLateness(ms: number): this {
    if (!Number.isSafeInteger(ms) || ms < 0)
      throw new GraphValidationError(`allowedLateness(${ms}) needs a whole number of ms, 0 or more`);
    if (this.assigner.domain !== 'event')
      throw new GraphValidationError('allowedLateness(...) applies to event-time windows only');
    this.lateness = ms;
    return this;
  }

  /** Folds each record into the window's value as it arrives; emits the value when the window fires. */
  reduce(fn: ReduceFunction<T>): DataStream<T> {
    if (typeof fn !== 'function')
      throw new GraphValidationError('reduce(...) needs a function (a, b) => combined');
    return this.create<T>('WindowReduce', { kind: 'reduce', reduce: fn });
  }

  /**
   * Incremental aggregation (one accumulator per window); with `process`, that function gets the
   * result together with the window and the key.
   */
  aggregate<ACC, OUT, R = OUT>(
    fn: AggregateFunction<T, ACC, OUT>,
    process?: ProcessWindowFunction<OUT, R, K>,
  ): DataStream<R> {
    if (
      typeof fn?.add !== 'function' ||
      typeof fn.createAccumulator !== 'function' ||
      typeof fn.getResult !== 'function'
    )
      throw new GraphValidationError(
        'aggregate(...) needs an aggregate function with createAccumulator, add and getResult',
      );
    return this.create<R>('WindowAggregate', {
      kind: 'aggregate',
      aggregate: fn as AggregateFunction<T, unknown, unknown>,
      process: process as ProcessWindowFunction<unknown, R, K> | undefined,
    });
  }

  /** Gets all records of the window at once, with the key and the window (keeps every record in state). */
  process<R>(fn: ProcessWindowFunction<T, R, K>): DataStream<R> {
    if (typeof fn?.process !== 'function')
      throw new GraphValidationError(
        'process(...) needs a window function with process(key, ctx, elements, out)',
      );
    return this.create<R>('WindowProcess', { kind: 'process', process: fn });
  }

  private create<R>(name: string, spec: WindowFunctionSpec<T, R, K>): DataStream<R> {
    const { assigner, lateness } = this;
    // Checked now: a bad combination fails the build, not the first subtask.
    new WindowOperator<K, T, R>(assigner, spec, lateness);
    return this.build<R>(name, () => new WindowOperator<K, T, R>(assigner, spec, lateness));
  }
}

/** A keyed stream cut into windows of a fixed number of records per key. */
export class CountWindowedStream<T> {
  /** @internal */
  constructor(
    private readonly size: number,
    private readonly build: <R>(name: string, create: () => StreamOperator) => DataStream<R>,
  ) {}

  reduce(fn: ReduceFunction<T>): DataStream<T> {
    if (typeof fn !== 'function')
      throw new GraphValidationError('reduce(...) needs a function (a, b) => combined');
    const size = this.size;
    return this.build<T>(
      'CountWindowReduce',
      () => new CountWindowOperator<T, T>(size, { kind: 'reduce', reduce: fn }),
    );
  }

  aggregate<ACC, OUT>(fn: AggregateFunction<T, ACC, OUT>): DataStream<OUT> {
    if (
      typeof fn?.add !== 'function' ||
      typeof fn.createAccumulator !== 'function' ||
      typeof fn.getResult !== 'function'
    )
      throw new GraphValidationError(
        'aggregate(...) needs an aggregate function with createAccumulator, add and getResult',
      );
    const size = this.size;
    const aggregate = fn as AggregateFunction<T, unknown, unknown>;
    return this.build<OUT>(
      'CountWindowAggregate',
      () => new CountWindowOperator<T, OUT>(size, { kind: 'aggregate', aggregate }),
    );
  }
}

/** The end of a stream; carries the sink operator's settings. */
export class DataStreamSink extends OperatorHandle {
  /** @internal */
  constructor(op: Transformation) {
    super(op);
  }
}

/** A function that snapshots operator state (CheckpointedFunction): its operator needs a uid. */
function keepsOperatorState(fn: unknown): boolean {
  return (
    typeof fn === 'object' &&
    fn !== null &&
    (typeof (fn as { snapshotState?: unknown }).snapshotState === 'function' ||
      typeof (fn as { initializeState?: unknown }).initializeState === 'function')
  );
}
