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
import type { AggregateFunction, MapStateDescriptor, ReduceFunction } from '../state/descriptors.js';
import {
  WindowOperator,
  type ProcessWindowFunction,
  type WindowFunctionSpec,
} from '../runtime/operators/window-operator.js';
import type { WindowAssigner } from '../runtime/time-window.js';
import { defaultTrigger, type Trigger } from '../runtime/window-trigger.js';
import type { Evictor } from '../runtime/window-evictor.js';
import { CountWindowOperator } from '../runtime/operators/count-window-operator.js';
import type { KeyValue } from '../state/key-group.js';
import { PrintSink } from '../connectors/print-sink.js';
import type { StreamGraphBuilder } from './stream-graph-builder.js';
import { BroadcastConnectedStream, BroadcastStream, ConnectedStreams } from './connected-streams.js';
import { IntervalJoin } from './interval-join.js';
import { JoinedStreams } from './window-join.js';
import { OutputTag } from '../runtime/output-tag.js';
import { keepsOperatorState } from './operator-state-check.js';

/** Settings shared by everything that is one operator: a stream produced by it, or a sink. */
abstract class OperatorHandle {
  constructor(protected readonly op: Transformation | undefined) {}

  protected target(what: string): Transformation {
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

  /** @internal What connect and joins build on: the environment's graph and the edges into the next operator. */
  get internals(): { graph: StreamGraphBuilder; edges: readonly EdgeSpec[]; keyed: boolean } {
    return { graph: this.graph, edges: this.edges, keyed: this.keyed };
  }

  /** @internal The stream an operator built by connect or a join emits. */
  streamOf<R>(t: Transformation): DataStream<R> {
    return new DataStream<R>(this.graph, [{ from: t, partition: { kind: 'default' } }], t);
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
  broadcast(): DataStream<T>;
  /**
   * A broadcast stream for `connect`: every subtask of the connected operator receives every
   * record and keeps the given broadcast states (map states, in every checkpoint and savepoint).
   * @example
   * const rules = new MapStateDescriptor<string, Rule>('rules');
   * events.keyBy((e) => e.user).connect(ruleUpdates.broadcast(rules)).process(new ApplyRules())
   */
  broadcast(...descriptors: MapStateDescriptor<any, any>[]): BroadcastStream<T>;
  broadcast(...descriptors: MapStateDescriptor<any, any>[]): DataStream<T> | BroadcastStream<T> {
    const edges = this.repartition({ kind: 'broadcast' });
    if (descriptors.length === 0) return new DataStream<T>(this.graph, edges, undefined);
    return new BroadcastStream<T>(this.graph, edges, descriptors);
  }

  /**
   * Two streams in one operator: with a keyed stream on both sides (or `keyBy` after) a keyed
   * co-process function sees records of both with equal keys; with a broadcast stream, every
   * subtask sees all of it.
   * @example
   * control.connect(data).flatMap({ flatMap1: (c) => [], flatMap2: (d) => [d] })
   */
  connect<T2>(other: BroadcastStream<T2>): BroadcastConnectedStream<T, T2>;
  connect<T2>(other: DataStream<T2>): ConnectedStreams<T, T2>;
  connect<T2>(
    other: DataStream<T2> | BroadcastStream<T2>,
  ): ConnectedStreams<T, T2> | BroadcastConnectedStream<T, T2> {
    if (other instanceof BroadcastStream) return new BroadcastConnectedStream<T, T2>(this, other);
    if (!(other instanceof DataStream))
      throw new GraphValidationError(
        'connect(...) needs a stream or a broadcast stream of the same environment',
      );
    return new ConnectedStreams<T, T2>(this, other);
  }

  /**
   * The records this stream's operator emitted to the side output `tag` (late records of a
   * window, records a process function split off with `ctx.output(tag, value)`).
   */
  getSideOutput<X>(tag: OutputTag<X>): DataStream<X> {
    if (!(tag instanceof OutputTag)) throw new GraphValidationError('getSideOutput(...) needs an OutputTag');
    const t = this.target('getSideOutput()');
    return new DataStream<X>(
      this.graph,
      [{ from: t, partition: { kind: 'default' }, tag: tag.id }],
      undefined,
    );
  }

  /** A window join: pairs of records of both streams with equal keys in the same window. */
  join<T2>(other: DataStream<T2>): JoinedStreams<T, T2> {
    return new JoinedStreams<T, T2>(this, other, 'join');
  }

  /** A window co-group: per key and window, the records of both streams together. */
  coGroup<T2>(other: DataStream<T2>): JoinedStreams<T, T2> {
    return new JoinedStreams<T, T2>(this, other, 'coGroup');
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
    return this.edges.map((e) => ({ ...e, partition }));
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
   * (a key's incomplete last window never fires, as in Flink). With `slide`, a window of the
   * key's last `size` records fires every `slide` records (the first ones hold fewer).
   * @example keyed.countWindow(100).reduce((a, b) => a + b)
   * @example keyed.countWindow(100, 10).aggregate(average) // the last 100, every 10
   */
  countWindow(size: number, slide?: number): CountWindowedStream<T> {
    if (!Number.isSafeInteger(size) || size < 1)
      throw new GraphValidationError(`countWindow(${size}) needs a size of at least 1 record`);
    return new CountWindowedStream<T>(size, (name, create) => this.transform(name, create), slide ?? size);
  }

  /**
   * An interval join: each record `a` of this stream meets every record `b` of `other` with the
   * same key and `a.timestamp + lower ≤ b.timestamp ≤ a.timestamp + upper` (event time).
   * @example
   * orders.keyBy((o) => o.id).intervalJoin(shipments.keyBy((s) => s.orderId)).between(0, 3_600_000).process(fn)
   */
  intervalJoin<T2>(other: KeyedStream<T2, K>): IntervalJoin<T, T2, K> {
    if (!(other instanceof KeyedStream))
      throw new GraphValidationError(
        'intervalJoin(...) needs a keyed stream: call keyBy(...) on the other stream first',
      );
    return new IntervalJoin<T, T2, K>(this, other);
  }

  /** Rolling reduce per key: emits the reduced value after each record. */
  reduce(fn: ReduceFunction<T>): DataStream<T> {
    checkReduce(fn);
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
    // Checked, as JavaScript's + would join strings ('b' + 'b') and make NaN of a missing field.
    const call = `${name[0]!.toLowerCase()}${name.slice(1)}(${field === undefined ? '' : `'${String(field)}'`})`;
    const numberIn = (record: T): number => {
      const v = field === undefined ? record : (record as Record<PropertyKey, unknown>)[field as PropertyKey];
      if (typeof v === 'number') return v;
      throw new TypeError(
        field === undefined
          ? `${call} adds up records that are numbers, but got ${describeValue(v)}: map the records to numbers first, or name a numeric field`
          : `${call}: field '${String(field)}' of a record is ${describeValue(v)}, not a number`,
      );
    };
    // Only the new record is checked: the key's accumulator was, as its first record (checkFirst
    // below) or as a record before, or is a result of `combine`.
    const held = (a: T): number => (a as Record<PropertyKey, number>)[field as PropertyKey]!;
    let reduce: ReduceFunction<T>;
    if (field === undefined) {
      reduce = (a, b) => combine(a as number, numberIn(b)) as T;
    } else if (byRecord) {
      reduce = (a, b) => {
        const x = held(a);
        return combine(x, numberIn(b)) === x ? a : b;
      };
    } else {
      reduce = (a, b) => {
        const r = { ...(a as object) } as Record<PropertyKey, number>;
        r[field as PropertyKey] = combine(held(a), numberIn(b));
        return r as T;
      };
    }
    return this.transform(name, () => new ReduceOperator<T>(reduce, numberIn));
  }
}

/** A keyed stream cut into windows; a window function makes it a stream again. */
export class WindowedStream<T, K extends KeyValue> {
  private lateness = 0;
  private windowTrigger: Trigger<T> | undefined;
  private windowEvictor: Evictor<T> | undefined;
  private lateDataTag: OutputTag<T> | undefined;
  /** @internal */
  constructor(
    private readonly assigner: WindowAssigner,
    private readonly build: <R>(name: string, create: () => StreamOperator) => DataStream<R>,
  ) {}

  /**
   * Keeps each event-time window `ms` after its end: a record that late still updates it and
   * fires it again; later ones are dropped (or go to `sideOutputLateData`).
   */
  allowedLateness(ms: number): this {
    if (!Number.isSafeInteger(ms) || ms < 0)
      throw new GraphValidationError(`allowedLateness(${ms}) needs a whole number of ms, 0 or more`);
    if (this.assigner.domain !== 'event')
      throw new GraphValidationError('allowedLateness(...) applies to event-time windows only');
    this.lateness = ms;
    return this;
  }

  /**
   * Decides when windows fire, instead of the assigner's default (EventTimeTrigger,
   * ProcessingTimeTrigger); the window is still cleaned up at its end plus the allowed lateness.
   * @example .window(TumblingEventTimeWindows.of(60_000)).trigger(ContinuousEventTimeTrigger.of(5_000))
   */
  trigger(trigger: Trigger<T>): this {
    if (
      typeof trigger?.onElement !== 'function' ||
      typeof trigger.onEventTime !== 'function' ||
      typeof trigger.onProcessingTime !== 'function' ||
      typeof trigger.clear !== 'function'
    )
      throw new GraphValidationError(
        'trigger(...) needs a trigger with onElement, onEventTime, onProcessingTime and clear, e.g. CountTrigger.of(100)',
      );
    if (this.assigner.merging && (trigger.canMerge?.() !== true || typeof trigger.onMerge !== 'function'))
      throw new GraphValidationError(
        `${this.assigner.describe()} merge windows, so trigger(...) needs a trigger that can merge: give it canMerge() returning true and onMerge(window, ctx)`,
      );
    this.windowTrigger = trigger;
    return this;
  }

  /**
   * Removes records from a window when it fires, before and/or after the window function. The
   * window then keeps every record (no incremental reduce or aggregate), as in Flink.
   * @example .window(SlidingEventTimeWindows.of(60_000, 10_000)).evictor(CountEvictor.of(100))
   */
  evictor(evictor: Evictor<T>): this {
    if (typeof evictor?.evictBefore !== 'function' || typeof evictor.evictAfter !== 'function')
      throw new GraphValidationError(
        'evictor(...) needs an evictor with evictBefore and evictAfter, e.g. CountEvictor.of(100)',
      );
    this.windowEvictor = evictor;
    return this;
  }

  /**
   * Sends records too late for every window they belong to (past its end plus the allowed
   * lateness) to the side output `tag` instead of dropping them; read it with
   * `getSideOutput(tag)` on the stream the window function returns.
   */
  sideOutputLateData(tag: OutputTag<T>): this {
    if (!(tag instanceof OutputTag))
      throw new GraphValidationError(
        'sideOutputLateData(...) needs an OutputTag, e.g. new OutputTag<Event>("late-events")',
      );
    this.lateDataTag = tag;
    return this;
  }

  /** Folds each record into the window's value as it arrives; emits the value when the window fires. */
  reduce(fn: ReduceFunction<T>): DataStream<T> {
    checkReduce(fn);
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
    checkAggregate(fn);
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
    const assigner = this.assigner;
    const settings = {
      allowedLateness: this.lateness,
      trigger: this.windowTrigger,
      evictor: this.windowEvictor,
      lateDataTag: this.lateDataTag,
    };
    // Checked now: a bad combination fails the build, not the first subtask.
    try {
      new WindowOperator<K, T, R>(assigner, spec, settings);
    } catch (e) {
      throw new GraphValidationError((e as Error).message, { cause: e });
    }
    // Each subtask gets its own copies of the function objects, as for every other operator:
    // fields set in `open` (state handles) belong to one subtask. The default trigger stays
    // itself (the operator recognises it and takes its fast path).
    const fallback = defaultTrigger(assigner.domain);
    return this.build<R>(
      name,
      () =>
        new WindowOperator<K, T, R>(assigner, copySpec(spec), {
          ...settings,
          trigger:
            settings.trigger === undefined || settings.trigger === fallback
              ? settings.trigger
              : copyFunction(settings.trigger),
          evictor: copyFunction(settings.evictor),
        }),
    );
  }
}

/** The window function spec with each function object copied (plain functions are shared). */
function copySpec<IN, OUT, K>(spec: WindowFunctionSpec<IN, OUT, K>): WindowFunctionSpec<IN, OUT, K> {
  switch (spec.kind) {
    case 'process':
      return { kind: 'process', process: copyFunction(spec.process) };
    case 'aggregate':
      return {
        kind: 'aggregate',
        aggregate: copyFunction(spec.aggregate),
        process: copyFunction(spec.process),
      };
    case 'reduce':
      return { kind: 'reduce', reduce: spec.reduce, process: copyFunction(spec.process) };
  }
}

/**
 * A keyed stream cut into windows of a fixed number of records per key: tumbling (every `size`
 * records) or, with a `slide`, sliding (every `slide` records, the last `size` of them).
 */
export class CountWindowedStream<T> {
  /** @internal */
  constructor(
    private readonly size: number,
    private readonly build: <R>(name: string, create: () => StreamOperator) => DataStream<R>,
    private readonly slide: number = size,
  ) {
    if (!Number.isSafeInteger(slide) || slide < 1)
      throw new GraphValidationError(`countWindow(${size}, ${slide}) needs a slide of at least 1 record`);
  }

  reduce(fn: ReduceFunction<T>): DataStream<T> {
    checkReduce(fn);
    const { size, slide } = this;
    return this.build<T>(
      'CountWindowReduce',
      () => new CountWindowOperator<T, T>(size, { kind: 'reduce', reduce: fn }, slide),
    );
  }

  aggregate<ACC, OUT>(fn: AggregateFunction<T, ACC, OUT>): DataStream<OUT> {
    checkAggregate(fn);
    const { size, slide } = this;
    const aggregate = fn as AggregateFunction<T, unknown, unknown>;
    return this.build<OUT>(
      'CountWindowAggregate',
      () =>
        new CountWindowOperator<T, OUT>(
          size,
          { kind: 'aggregate', aggregate: copyFunction(aggregate) },
          slide,
        ),
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

function checkReduce(fn: unknown): void {
  if (typeof fn !== 'function')
    throw new GraphValidationError('reduce(...) needs a function (a, b) => combined');
}

function checkAggregate(fn: Partial<AggregateFunction<never, unknown, unknown>> | undefined): void {
  if (
    typeof fn?.add !== 'function' ||
    typeof fn.createAccumulator !== 'function' ||
    typeof fn.getResult !== 'function'
  )
    throw new GraphValidationError(
      'aggregate(...) needs an aggregate function with createAccumulator, add and getResult',
    );
}

/** A value in a message: its type, and the value itself when short. */
function describeValue(v: unknown): string {
  if (v === undefined || v === null) return String(v);
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v)})`;
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return `a ${typeof v} (${String(v)})`;
}
