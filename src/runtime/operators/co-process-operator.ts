// Operators with two inputs whose records go to a user function by input: connected streams,
// keyed (shared keyed state and timers) or not.
import type { ProcessContext } from '../functions.js';
import { StreamOperator } from '../stream-operator.js';
import type { TimeDomain } from '../timer-service.js';
import type { CoProcessFunction, KeyedCoProcessFunction } from '../two-input-functions.js';
import { createKeyedContexts, createProcessContext, type KeyedContexts } from './function-contexts.js';

export class CoProcessOperator<I1, I2, O> extends StreamOperator<I1, O> {
  private ctx!: ProcessContext;
  /** `lifecycle`: the object whose hooks (open, state, checkpoint listener) run, when `fn` adapts another function. */
  constructor(
    private readonly fn: CoProcessFunction<I1, I2, O>,
    private readonly lifecycle: unknown = fn,
  ) {
    super();
  }
  protected get userFunction(): unknown {
    return this.lifecycle;
  }
  override async open(): Promise<void> {
    this.ctx = createProcessContext(this);
    await super.open();
  }
  processElement(record: I1): void {
    this.fn.processElement1(record, this.ctx, this.output);
  }
  override processElement2(record: unknown): void {
    this.fn.processElement2(record as I2, this.ctx, this.output);
  }
  override finish(): void {
    this.fn.endInput?.(this.output);
  }
}

export class KeyedCoProcessOperator<K, I1, I2, O> extends StreamOperator<I1, O> {
  private contexts!: KeyedContexts<K>;
  constructor(private readonly fn: KeyedCoProcessFunction<K, I1, I2, O>) {
    super();
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  override async open(): Promise<void> {
    this.contexts = createKeyedContexts<K>(this, typeof this.fn.onTimer === 'function');
    await super.open();
  }
  processElement(record: I1): void {
    this.fn.processElement1(record, this.contexts.ctx, this.output);
  }
  override processElement2(record: unknown): void {
    this.fn.processElement2(record as I2, this.contexts.ctx, this.output);
  }
  protected override onTimer(domain: TimeDomain, timestamp: number): void {
    this.contexts.firing(domain);
    this.fn.onTimer!(timestamp, this.contexts.timerCtx, this.output);
  }
}
