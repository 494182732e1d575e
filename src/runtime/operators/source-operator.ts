// The head of a source task: owns the reader and passes what it emits into the chain.
import type { Source, SourceReader } from '../source.js';
import { StreamOperator, type OperatorSubtaskState } from '../stream-operator.js';

export class SourceOperator<T> extends StreamOperator<never, T> {
  reader: SourceReader<T> | undefined;

  constructor(
    private readonly source: Source<T>,
    private readonly batchSize: number,
  ) {
    super();
  }
  protected get userFunction(): unknown {
    return this.reader;
  }
  override async initializeState(restored: OperatorSubtaskState | undefined): Promise<void> {
    this.reader = this.source.createReader({ ...this.getRuntimeContext(), batchSize: this.batchSize });
    await super.initializeState(restored);
  }
  override async open(): Promise<void> {
    await super.open();
    await this.reader!.start?.();
  }
  processElement(): void {
    throw new Error('internal: a source operator has no input');
  }
}
