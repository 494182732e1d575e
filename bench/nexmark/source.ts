// The Nexmark generator as a weir Source. Event numbers 0..events−1 are dealt out in strides:
// subtask s of p makes events s, s+p, s+2p… so all subtasks move through event time together
// and the set of events is the same at any parallelism. A reader's position is a list of
// [next, stride] splits in operator list state; restored at another parallelism the splits are
// dealt out again and a reader holding several merges them in event-number order, so each
// subtask's output stays in event-time order.
import {
  ListStateDescriptor,
  WatermarkStrategy,
  type DataStream,
  type FunctionInitializationContext,
  type InputStatus,
  type ListState,
  type Source,
  type SourceOutput,
  type SourceReader,
  type SourceReaderContext,
  type StreamExecutionEnvironment,
} from '../../src/index.js';
import {
  generatorConfig,
  NexmarkGenerator,
  type GeneratorConfig,
  type GeneratorOptions,
} from './generator.js';
import type { NexmarkEvent } from './model.js';

export interface NexmarkSourceOptions extends GeneratorOptions {
  /** Events to make, numbered 0..events−1. */
  readonly events: number;
  /**
   * Emit each event no sooner than its event time says, counted from the first poll (the
   * reference's rate-limited mode); default false: as fast as possible.
   */
  readonly rateLimited?: boolean;
  /**
   * After the last event, stay open this long (ms of wall time) before ending (the reference's
   * keep-alive), e.g. so processing-time windows fire. Default 0.
   */
  readonly keepAliveMs?: number;
}

/** Flink's Nexmark DDL: WATERMARK FOR dateTime AS dateTime − INTERVAL '4' SECOND. */
export const DEFAULT_OUT_OF_ORDERNESS_MS = 4000;

type Split = [next: number, stride: number];

export class NexmarkSource implements Source<NexmarkEvent> {
  readonly boundedness = 'bounded' as const;
  readonly config: GeneratorConfig;

  constructor(readonly options: NexmarkSourceOptions) {
    if (!Number.isSafeInteger(options.events) || options.events < 0)
      throw new RangeError(
        `NexmarkSource: events must be a non-negative safe integer, got ${options.events}`,
      );
    const keepAlive = options.keepAliveMs ?? 0;
    if (!Number.isFinite(keepAlive) || keepAlive < 0)
      throw new RangeError(`NexmarkSource: keepAliveMs must be 0 or more, got ${keepAlive}`);
    this.config = generatorConfig(options);
  }

  createReader(ctx: SourceReaderContext): SourceReader<NexmarkEvent> {
    return new NexmarkReader(
      new NexmarkGenerator(this.config),
      this.options.events,
      ctx.batchSize,
      this.options.rateLimited === true,
      this.options.keepAliveMs ?? 0,
    );
  }
}

class NexmarkReader implements SourceReader<NexmarkEvent> {
  private splits: Split[] = [];
  private state!: ListState<Split>;
  /** Rate-limited mode: wall-clock ms when the first event was due, and that event's time. */
  private wallStart = -1;
  private eventStart = 0;
  private keepAliveUntil = -1;
  private waitMs = 0;

  constructor(
    private readonly gen: NexmarkGenerator,
    private readonly events: number,
    private readonly batchSize: number,
    private readonly rateLimited: boolean,
    private readonly keepAliveMs: number,
  ) {}

  initializeState(ctx: FunctionInitializationContext): void {
    this.state = ctx.operatorStateStore.getListState(new ListStateDescriptor<Split>('nexmark-splits'));
    if (ctx.isRestored) this.splits = this.state.get().map((s) => [s[0], s[1]]);
    else if (ctx.subtaskIndex < this.events) this.splits = [[ctx.subtaskIndex, ctx.parallelism]];
    this.splits = this.splits.filter((s) => s[0] < this.events);
  }

  snapshotState(): void {
    this.state.update(this.splits.map((s) => [s[0], s[1]] as Split));
  }

  pollNext(out: SourceOutput<NexmarkEvent>): InputStatus {
    if (this.splits.length === 0) return this.afterLast();
    let limit = this.batchSize;
    if (this.rateLimited) {
      limit = this.dueNow(limit);
      if (limit === 0) return 'nothing-available';
    }
    if (this.splits.length === 1) this.emitOne(this.splits[0]!, limit, out);
    else this.emitMerged(limit, out);
    this.splits = this.splits.filter((s) => s[0] < this.events);
    return this.splits.length === 0 ? this.afterLast() : 'more-available';
  }

  isAvailable(): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.max(1, this.waitMs)));
  }

  /** The hot path: one stride, straight through. */
  private emitOne(split: Split, limit: number, out: SourceOutput<NexmarkEvent>): void {
    const gen = this.gen;
    const events = this.events;
    const stride = split[1];
    let n = split[0];
    for (let i = 0; i < limit && n < events; i++, n += stride) {
      const e = gen.event(n);
      out.collect(e, e.dateTime);
    }
    split[0] = n;
  }

  /** Several splits (after a restore at a lower parallelism): their events in number order. */
  private emitMerged(limit: number, out: SourceOutput<NexmarkEvent>): void {
    const gen = this.gen;
    for (let i = 0; i < limit; i++) {
      let min: Split | undefined;
      for (const s of this.splits) if (s[0] < this.events && (min === undefined || s[0] < min[0])) min = s;
      if (min === undefined) return;
      const e = gen.event(min[0]);
      out.collect(e, e.dateTime);
      min[0] += min[1];
    }
  }

  /** Rate-limited mode: how many of the next `limit` events are due (0: wait `waitMs`). */
  private dueNow(limit: number): number {
    const now = Date.now();
    const next = (): number => Math.min(...this.splits.map((s) => s[0]));
    if (this.wallStart < 0) {
      this.wallStart = now;
      this.eventStart = this.gen.timestamp(next());
    }
    const dueAt = (n: number): number => this.wallStart + (this.gen.timestamp(n) - this.eventStart);
    const first = next();
    if (dueAt(first) > now) {
      this.waitMs = dueAt(first) - now;
      return 0;
    }
    // Events due by now: those whose event time is within (now − wallStart) of the start.
    const stride = this.splits.length === 1 ? this.splits[0]![1] : 1;
    let count = 1;
    while (count < limit && dueAt(first + count * stride) <= now) count++;
    return count;
  }

  private afterLast(): InputStatus {
    if (this.keepAliveMs <= 0) return 'end-of-input';
    const now = Date.now();
    if (this.keepAliveUntil < 0) this.keepAliveUntil = now + this.keepAliveMs;
    if (now >= this.keepAliveUntil) return 'end-of-input';
    this.waitMs = this.keepAliveUntil - now;
    return 'nothing-available';
  }
}

export interface NexmarkStreamOptions extends NexmarkSourceOptions {
  /** The watermark trails the largest event time seen by this much (default 4000 ms, as Flink's Nexmark DDL). */
  readonly outOfOrdernessMs?: number;
}

/** The events as a stream with event time (uid 'nexmark-source'). */
export function nexmarkEvents(
  env: StreamExecutionEnvironment,
  options: NexmarkStreamOptions,
): DataStream<NexmarkEvent> {
  return env
    .fromSource(
      new NexmarkSource(options),
      WatermarkStrategy.forBoundedOutOfOrderness<NexmarkEvent>(
        options.outOfOrdernessMs ?? DEFAULT_OUT_OF_ORDERNESS_MS,
      ),
      'nexmark',
    )
    .uid('nexmark-source');
}
