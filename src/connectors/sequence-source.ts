// Integers from..to, split in contiguous ranges over the subtasks. Each subtask's position is a
// list of [next, last] ranges in operator state, so a restore at another parallelism deals the
// remaining ranges out again and every number is still emitted exactly once.
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

type Range = [next: number, last: number];

export class SequenceSource implements Source<number> {
  readonly boundedness = 'bounded' as const;

  constructor(
    readonly from: number,
    readonly to: number,
  ) {
    if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to))
      throw new RangeError(`fromSequence(${from}, ${to}) needs two safe integers`);
    if (to < from) throw new RangeError(`fromSequence(${from}, ${to}): 'to' must not be less than 'from'`);
  }

  createReader(ctx: SourceReaderContext): SourceReader<number> {
    return new SequenceReader(this.from, this.to, ctx.batchSize);
  }
}

class SequenceReader implements SourceReader<number> {
  private ranges: Range[] = [];
  private state!: ListState<Range>;

  constructor(
    private readonly from: number,
    private readonly to: number,
    private readonly batchSize: number,
  ) {}

  initializeState(ctx: FunctionInitializationContext): void {
    this.state = ctx.operatorStateStore.getListState(new ListStateDescriptor<Range>('sequence-ranges'));
    if (ctx.isRestored) {
      this.ranges = this.state.get().map((r) => [r[0], r[1]]);
    } else {
      const count = this.to - this.from + 1;
      const start = this.from + Math.floor((ctx.subtaskIndex * count) / ctx.parallelism);
      const end = this.from + Math.floor(((ctx.subtaskIndex + 1) * count) / ctx.parallelism) - 1;
      if (end >= start) this.ranges = [[start, end]];
    }
  }

  snapshotState(): void {
    this.state.update(this.ranges.map((r) => [r[0], r[1]] as Range));
  }

  pollNext(out: SourceOutput<number>): InputStatus {
    const r = this.ranges[0];
    if (r === undefined) return 'end-of-input';
    const last = Math.min(r[1], r[0] + this.batchSize - 1);
    for (let n = r[0]; n <= last; n++) out.collect(n);
    if (last === r[1]) this.ranges.shift();
    else r[0] = last + 1;
    return this.ranges.length === 0 ? 'end-of-input' : 'more-available';
  }
}
