// A weir Source of generated events, for benchmarks: event i (0 ≤ i < count) is
// { key: 'key-' + (i * 7919 % keys), ts: i, value: 1 }. 7919 is prime, so with `keys` a power of
// ten every key comes round once per `keys` events. The key string is built per event, as a
// real stream delivers fresh strings. Modelled on SequenceSource: each subtask owns ranges of
// indices, kept in operator state, so the source is parallel and checkpointable.
import {
  ListStateDescriptor,
  type FunctionInitializationContext,
  type InputStatus,
  type ListState,
  type Source,
  type SourceOutput,
  type SourceReader,
  type SourceReaderContext,
} from '../../src/index.js';

export interface BenchEvent {
  key: string;
  ts: number;
  value: number;
}

export const KEY_STRIDE = 7919;

type Range = [next: number, last: number];

export class GeneratedEventSource implements Source<BenchEvent> {
  readonly boundedness = 'bounded' as const;

  constructor(
    readonly count: number,
    readonly keys: number,
  ) {
    if (!Number.isSafeInteger(count) || count < 0)
      throw new RangeError(`GeneratedEventSource: count must be a non-negative safe integer, got ${count}`);
    if (!Number.isSafeInteger(keys) || keys < 1)
      throw new RangeError(`GeneratedEventSource: keys must be a positive safe integer, got ${keys}`);
  }

  createReader(ctx: SourceReaderContext): SourceReader<BenchEvent> {
    return new GeneratedEventReader(this.count, this.keys, ctx.batchSize);
  }
}

class GeneratedEventReader implements SourceReader<BenchEvent> {
  private ranges: Range[] = [];
  private state!: ListState<Range>;

  constructor(
    private readonly count: number,
    private readonly keys: number,
    private readonly batchSize: number,
  ) {}

  initializeState(ctx: FunctionInitializationContext): void {
    this.state = ctx.operatorStateStore.getListState(
      new ListStateDescriptor<Range>('generated-event-ranges'),
    );
    if (ctx.isRestored) {
      this.ranges = this.state.get().map((r) => [r[0], r[1]]);
    } else {
      const start = Math.floor((ctx.subtaskIndex * this.count) / ctx.parallelism);
      const end = Math.floor(((ctx.subtaskIndex + 1) * this.count) / ctx.parallelism) - 1;
      if (end >= start) this.ranges = [[start, end]];
    }
  }

  snapshotState(): void {
    this.state.update(this.ranges.map((r) => [r[0], r[1]] as Range));
  }

  pollNext(out: SourceOutput<BenchEvent>): InputStatus {
    const r = this.ranges[0];
    if (r === undefined) return 'end-of-input';
    const last = Math.min(r[1], r[0] + this.batchSize - 1);
    const keys = this.keys;
    for (let i = r[0]; i <= last; i++)
      out.collect({ key: 'key-' + ((i * KEY_STRIDE) % keys), ts: i, value: 1 });
    if (last === r[1]) this.ranges.shift();
    else r[0] = last + 1;
    return this.ranges.length === 0 ? 'end-of-input' : 'more-available';
  }
}
