// The head of a source task: owns the reader and passes what it emits into the chain. With a
// watermark strategy it gives each record its event timestamp and turns them into watermarks,
// emitted at most every `watermarkIntervalMs` (Flink's auto-watermark interval) and always as
// the maximum watermark when the input ends.
import type { EventTimeSpec, WatermarkGenerator, WatermarkOutput } from '../watermark-generator.js';
import { MAX_WATERMARK } from '../record-batch.js';
import type { Source, SourceOutput, SourceReader } from '../source.js';
import { StreamOperator, type OperatorSubtaskState } from '../stream-operator.js';

/** Collects what one generator says. */
class GeneratorOutput implements WatermarkOutput {
  watermark = Number.NEGATIVE_INFINITY;
  idle = false;
  emitWatermark(timestamp: number): void {
    if (timestamp > this.watermark) this.watermark = timestamp;
    this.idle = false;
  }
  markIdle(): void {
    this.idle = true;
  }
  markActive(): void {
    this.idle = false;
  }
}

export class SourceOperator<T> extends StreamOperator<never, T> {
  reader: SourceReader<T> | undefined;
  /** What the reader emits into: stamps and watches records when the source has event time. */
  sourceOutput!: SourceOutput<T>;
  /** Where the task sends idle / active changes (its writers). */
  statusOutput: (idle: boolean) => void = () => undefined;
  /** Of records the reader emitted, counted in the output's closures. */
  private readonly counter = { records: 0 };
  private generator: WatermarkGenerator<T> | undefined;
  private readonly generated = new GeneratorOutput();
  private lastEmit = Number.NEGATIVE_INFINITY;
  private idle = false;

  constructor(
    private readonly source: Source<T>,
    private readonly batchSize: number,
    private readonly strategy?: EventTimeSpec<T>,
    private readonly watermarkIntervalMs = 200,
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
    this.sourceOutput = this.createSourceOutput();
    await super.open();
    await this.reader!.start?.();
  }
  processElement(): void {
    throw new Error('internal: a source operator has no input');
  }

  /** Records the reader emitted: what the job read, for its status and progress line. */
  get emitted(): number {
    return this.counter.records;
  }

  private createSourceOutput(): SourceOutput<T> {
    const output = this.output;
    const time = this.time;
    const strategy = this.strategy;
    const counter = this.counter;
    if (strategy === undefined) {
      return {
        collect(record: T, timestamp?: number) {
          time.timestamp = timestamp;
          counter.records++;
          output.collect(record);
        },
      };
    }
    const assigner = strategy.timestampAssigner;
    const generator = strategy.createGenerator(time.clock);
    this.generator = generator;
    const generated = this.generated;
    return {
      collect(record: T, timestamp?: number) {
        const t = assigner === undefined ? timestamp : assigner(record, timestamp);
        if (t !== undefined && !Number.isFinite(t))
          throw new TypeError(
            `the timestamp assigner returned ${String(t)}; it must return epoch milliseconds`,
          );
        time.timestamp = t;
        if (t !== undefined) generator?.onEvent(record, t, generated);
        counter.records++;
        output.collect(record);
      },
    };
  }

  /**
   * After a batch (or while waiting for input): asks the generator for its watermark, at most
   * every watermark interval, and passes an advanced one down the chain.
   */
  emitPeriodicWatermark(): void {
    const g = this.generator;
    if (g === undefined) return;
    const now = this.time.clock.now();
    if (now - this.lastEmit < this.watermarkIntervalMs) return;
    this.lastEmit = now;
    g.onPeriodicEmit(this.generated);
    if (this.generated.idle !== this.idle) {
      this.idle = this.generated.idle;
      this.statusOutput(this.idle);
    }
    if (!this.idle && this.generated.watermark > this.currentWatermark)
      this.processWatermark(this.generated.watermark);
  }

  /** The input ended (or was drained): event time is complete, every timer and window may fire. */
  endOfEventTime(): void {
    if (this.idle) {
      this.idle = false;
      this.statusOutput(false);
    }
    this.processWatermark(MAX_WATERMARK);
  }
}
