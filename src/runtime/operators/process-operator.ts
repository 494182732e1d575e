import type { KeyedProcessContext, KeyedProcessFunction, ProcessFunction } from '../functions.js';
import { StreamOperator } from '../stream-operator.js';

export class ProcessOperator<I, O> extends StreamOperator<I, O> {
  private readonly ctx = { subtaskIndex: 0 };
  constructor(private readonly fn: ProcessFunction<I, O>) {
    super();
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  override async open(): Promise<void> {
    this.ctx.subtaskIndex = this.info.subtaskIndex;
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
  private ctx!: KeyedProcessContext<K>;
  constructor(private readonly fn: KeyedProcessFunction<K, I, O>) {
    super();
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  override async open(): Promise<void> {
    const keyCtx = this.keyedBackend!.ctx;
    this.ctx = { subtaskIndex: this.info.subtaskIndex, getCurrentKey: () => keyCtx.key as K };
    await super.open();
  }
  processElement(record: I): void {
    this.fn.processElement(record, this.ctx, this.output);
  }
}
