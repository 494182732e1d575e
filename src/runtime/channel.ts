// A bounded channel from one producing subtask to one consuming subtask. Capacity counts record
// batches (credits): a producer may always enqueue, so a chained flatMap never has to stop in the
// middle of a record, but it takes no new input while any of its channels is at capacity. Events
// take no credit, so a barrier or end-of-input is never held back by a full channel.
import type { ChannelItem } from './record-batch.js';
import type { Signal } from './signal.js';

export class Channel {
  private readonly queue: ChannelItem[] = [];
  private head = 0;
  private batches = 0;
  /** Set on the consumer side when it reads end-of-input. */
  finished = false;

  constructor(
    readonly capacity: number,
    private readonly producer: Signal,
    private readonly consumer: Signal,
    /** Which logical input of the consumer this channel feeds (for operators with two inputs). */
    readonly inputIndex = 0,
  ) {}

  push(item: ChannelItem): void {
    this.queue.push(item);
    if (item.kind === 'records') this.batches++;
    this.consumer.notify();
  }

  get hasCredit(): boolean {
    return this.batches < this.capacity;
  }

  poll(): ChannelItem | undefined {
    if (this.head === this.queue.length) return undefined;
    const item = this.queue[this.head]!;
    this.queue[this.head++] = undefined as unknown as ChannelItem;
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    }
    if (item.kind === 'records' && this.batches-- === this.capacity) this.producer.notify();
    return item;
  }

  get isEmpty(): boolean {
    return this.head === this.queue.length;
  }

  /** Batches queued, for metrics and tests. */
  get queuedBatches(): number {
    return this.batches;
  }
}
