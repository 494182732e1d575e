// A stream connected to a broadcast stream. The broadcast input reaches every subtask whole and
// may write the broadcast state; the other input reads it. The broadcast state is operator state
// of mode 'broadcast' (each subtask snapshots its copy; a restore gives every new subtask one).
import type { MapStateDescriptor } from '../../state/descriptors.js';
import { StateAccessError, type MapState } from '../../state/state.js';
import { StreamOperator } from '../stream-operator.js';
import type { TimeDomain } from '../timer-service.js';
import type {
  BroadcastContext,
  BroadcastProcessFunction,
  KeyedBroadcastContext,
  KeyedBroadcastProcessFunction,
  KeyedOnTimerBroadcastContext,
  KeyedReadOnlyBroadcastContext,
  KeyedStateDescriptor,
  ReadOnlyBroadcastContext,
  ReadOnlyMapState,
} from '../two-input-functions.js';
import { createKeyedContexts, createProcessContext, type KeyedContexts } from './function-contexts.js';

type AnyMapDescriptor = MapStateDescriptor<unknown, unknown>;

/** What both variants share: the declared broadcast states, writable and read-only. */
abstract class BroadcastStateOperator<IN, O> extends StreamOperator<IN, O> {
  private readonly writable = new Map<string, MapState<unknown, unknown>>();
  private readonly readable = new Map<string, ReadOnlyMapState<unknown, unknown>>();

  constructor(private readonly descriptors: readonly AnyMapDescriptor[]) {
    super();
  }

  override async open(): Promise<void> {
    for (const d of this.descriptors) {
      const state = this.operatorState.getBroadcastState(d);
      this.writable.set(d.name, state);
      this.readable.set(d.name, readOnly(state, d.name));
    }
    await super.open();
  }

  protected broadcastState<UK, UV>(d: MapStateDescriptor<UK, UV>): MapState<UK, UV> {
    return this.lookup(this.writable, d) as MapState<UK, UV>;
  }

  protected readOnlyBroadcastState<UK, UV>(d: MapStateDescriptor<UK, UV>): ReadOnlyMapState<UK, UV> {
    return this.lookup(this.readable, d) as ReadOnlyMapState<UK, UV>;
  }

  private lookup<S>(states: Map<string, S>, d: { name: string }): S {
    const s = states.get(d?.name);
    if (s === undefined) {
      const declared = this.descriptors.map((x) => `'${x.name}'`).join(', ');
      throw new StateAccessError(
        `broadcast state '${String(d?.name)}' was not declared; declare it in broadcast(...) (declared: ${declared})`,
      );
    }
    return s;
  }
}

function readOnly(state: MapState<unknown, unknown>, name: string): ReadOnlyMapState<unknown, unknown> {
  const refuse = (): never => {
    throw new StateAccessError(
      `broadcast state '${name}' is read-only outside processBroadcastElement: change it there, so that every subtask changes its copy the same way`,
    );
  };
  return {
    get: (k) => state.get(k),
    contains: (k) => state.contains(k),
    entries: () => state.entries(),
    keys: () => state.keys(),
    values: () => state.values(),
    isEmpty: () => state.isEmpty(),
    // Not in the type: a caller that casts the view away still may not write.
    ...({ put: refuse, putAll: refuse, remove: refuse, clear: refuse } as object),
  };
}

export class BroadcastProcessOperator<IN, BC, O> extends BroadcastStateOperator<IN, O> {
  private ctx!: ReadOnlyBroadcastContext;
  private bctx!: BroadcastContext;
  constructor(
    private readonly fn: BroadcastProcessFunction<IN, BC, O>,
    descriptors: readonly AnyMapDescriptor[],
  ) {
    super(descriptors);
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  override async open(): Promise<void> {
    const base = createProcessContext(this);
    this.ctx = { ...base, getBroadcastState: (d) => this.readOnlyBroadcastState(d) };
    this.bctx = { ...base, getBroadcastState: (d) => this.broadcastState(d) };
    await super.open();
  }
  processElement(record: IN): void {
    this.fn.processElement(record, this.ctx, this.output);
  }
  override processElement2(record: unknown): void {
    this.fn.processBroadcastElement(record as BC, this.bctx, this.output);
  }
}

export class KeyedBroadcastProcessOperator<K, IN, BC, O> extends BroadcastStateOperator<IN, O> {
  private contexts!: KeyedContexts<K>;
  private ctx!: KeyedReadOnlyBroadcastContext<K>;
  private timerCtx!: KeyedOnTimerBroadcastContext<K>;
  private bctx!: KeyedBroadcastContext<K>;
  constructor(
    private readonly fn: KeyedBroadcastProcessFunction<K, IN, BC, O>,
    descriptors: readonly AnyMapDescriptor[],
  ) {
    super(descriptors);
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  override async open(): Promise<void> {
    const contexts = createKeyedContexts<K>(this, typeof this.fn.onTimer === 'function');
    this.contexts = contexts;
    const getBroadcastState = <UK, UV>(d: MapStateDescriptor<UK, UV>): ReadOnlyMapState<UK, UV> =>
      this.readOnlyBroadcastState(d);
    this.ctx = Object.assign(Object.create(contexts.ctx) as KeyedReadOnlyBroadcastContext<K>, {
      getBroadcastState,
    });
    this.timerCtx = Object.assign(Object.create(contexts.timerCtx) as KeyedOnTimerBroadcastContext<K>, {
      getBroadcastState,
    });
    const backend = this.keyedBackend!;
    const runtime = this.getRuntimeContext();
    this.bctx = {
      ...createProcessContext(this),
      getBroadcastState: (d) => this.broadcastState(d),
      applyToKeyedState: (d, fn) => {
        const state = keyedStateFor(runtime, d);
        backend.forEachKey(d.name, () => fn(backend.ctx.key as K, state as never));
      },
    };
    await super.open();
  }
  processElement(record: IN): void {
    this.fn.processElement(record, this.ctx, this.output);
  }
  override processElement2(record: unknown): void {
    this.fn.processBroadcastElement(record as BC, this.bctx, this.output);
  }
  protected override onTimer(domain: TimeDomain, timestamp: number): void {
    this.contexts.firing(domain);
    this.fn.onTimer!(timestamp, this.timerCtx, this.output);
  }
}

function keyedStateFor(
  runtime: ReturnType<StreamOperator['getRuntimeContext']>,
  d: KeyedStateDescriptor,
): unknown {
  switch (d.kind) {
    case 'value':
      return runtime.getState(d);
    case 'list':
      return runtime.getListState(d);
    case 'map':
      return runtime.getMapState(d);
    case 'reducing':
      return runtime.getReducingState(d);
    case 'aggregating':
      return runtime.getAggregatingState(d);
  }
}
