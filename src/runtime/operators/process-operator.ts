import type { KeyedProcessFunction, ProcessContext, ProcessFunction } from '../functions.js';
import { createKeyedContexts, createProcessContext, type KeyedContexts } from './function-contexts.js';
import type { TimeDomain } from '../timer-service.js';
import { StreamOperator } from '../stream-operator.js';

export class ProcessOperator<I, O> extends StreamOperator<I, O> {
  private ctx!: ProcessContext;
  constructor(private readonly fn: ProcessFunction<I, O>) {
    super();
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  override async open(): Promise<void> {
    this.ctx = createProcessContext(this);
    await super.open();
  }
  processElement(record: I): void {
    this.fn.processElement(record, this.ctx, this.output);
  }
  override finish(): void {
    this.fn.endInput?.(this.output);
  }
}

export class KeyedProcessOperator<K, I, O> extends StreamOperator<I, O> {
  private contexts!: KeyedContexts<K>;
  constructor(private readonly fn: KeyedProcessFunction<K, I, O>) {
    super();
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  override async open(): Promise<void> {
    this.contexts = createKeyedContexts<K>(this, typeof this.fn.onTimer === 'function');
    await super.open();
  }
  processElement(record: I): void {
    this.fn.processElement(record, this.contexts.ctx, this.output);
  }
  protected override onTimer(domain: TimeDomain, timestamp: number): void {
    this.contexts.firing(domain);
    this.fn.onTimer!(timestamp, this.contexts.timerCtx, this.output);
  }
}
