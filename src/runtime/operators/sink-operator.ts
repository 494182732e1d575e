import type { Sink, SinkWriter } from '../sink.js';
import { StreamOperator, type OperatorSnapshotParts, type OperatorSubtaskState } from '../stream-operator.js';

export class SinkOperator<T> extends StreamOperator<T, never> {
  private writer: SinkWriter<T> | undefined;
  private buffer: T[] = [];
  recordsIn = 0;

  constructor(private readonly sink: Sink<T>) {
    super();
  }
  protected get userFunction(): unknown {
    return this.writer;
  }
  override async initializeState(restored: OperatorSubtaskState | undefined): Promise<void> {
    this.writer = await this.sink.createWriter(this.getRuntimeContext());
    await super.initializeState(restored);
  }
  processElement(record: T): void {
    this.buffer.push(record);
  }
  override endBatch(): void | Promise<void> {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.recordsIn += batch.length;
    return this.writer!.write(batch);
  }
  /**
   * Records that arrived since the last batch ended (emitted by timers or windows firing on a
   * watermark, between two batches) belong to this snapshot: they go to the writer first.
   */
  override snapshotForCheckpoint(
    checkpointId: number,
    timestamp: number,
    withKeyedState = true,
    isSavepoint = false,
  ): OperatorSnapshotParts {
    const written = this.endBatch();
    written?.catch(() => undefined); // awaited through the parts
    const parts = super.snapshotForCheckpoint(checkpointId, timestamp, withKeyedState, isSavepoint);
    if (written === undefined) return parts;
    const pending =
      parts.pending === undefined ? written : Promise.all([written, parts.pending]).then(() => undefined);
    return { ...parts, pending };
  }

  override async finish(): Promise<void> {
    await this.endBatch();
    await this.writer!.finish?.();
  }
}
