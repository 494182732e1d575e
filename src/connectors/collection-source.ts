// A fixed list of records, emitted in order by a single subtask; its position is the index of
// the next record.
import { ListStateDescriptor } from '../state/descriptors.js';
import type { ListState } from '../state/state.js';
import type { FunctionInitializationContext } from '../runtime/functions.js';
import type {
  InputStatus,
  Source,
  SourceOutput,
  SourceReader,
  SourceReaderContext,
} from '../runtime/source.js';

export class CollectionSource<T> implements Source<T> {
  readonly boundedness = 'bounded' as const;
  readonly maxParallelism = 1;

  constructor(private readonly elements: readonly T[]) {}

  createReader(ctx: SourceReaderContext): SourceReader<T> {
    return new CollectionReader(this.elements, ctx.batchSize);
  }
}

class CollectionReader<T> implements SourceReader<T> {
  private next = 0;
  private state!: ListState<number>;

  constructor(
    private readonly elements: readonly T[],
    private readonly batchSize: number,
  ) {}

  initializeState(ctx: FunctionInitializationContext): void {
    this.state = ctx.operatorStateStore.getListState(new ListStateDescriptor<number>('collection-position'));
    this.next = this.state.get()[0] ?? 0;
  }

  snapshotState(): void {
    this.state.update([this.next]);
  }

  pollNext(out: SourceOutput<T>): InputStatus {
    const end = Math.min(this.elements.length, this.next + this.batchSize);
    for (let i = this.next; i < end; i++) out.collect(this.elements[i]!);
    this.next = end;
    return end === this.elements.length ? 'end-of-input' : 'more-available';
  }
}
