// The end of a chain: partitions emitted records over the channels of one outgoing edge and
// sends them as batches. Partial batches go out when the task runs out of input, at events and
// when the flush interval has passed, so a slow trickle is not held back.
import { hashKey, murmurMix } from '../state/key-group.js';
import type { Channel } from './channel.js';
import type { Collector, KeySelector } from './functions.js';
import { attribute, type OperatorIdentity } from './operator-failure.js';
import type { ChannelItem, RecordBatch } from './record-batch.js';
import type { TaskTime } from './timer-service.js';

export type PartitionerKind = 'forward' | 'rebalance' | 'hash' | 'broadcast';

class Pending {
  records: unknown[] = [];
  keys: unknown[] | undefined;
  keyGroups: number[] | undefined;
  /** Created by the first record with a timestamp in the batch. */
  timestamps: Array<number | undefined> | undefined;
  constructor(keyed: boolean) {
    if (keyed) {
      this.keys = [];
      this.keyGroups = [];
    }
  }
}

export abstract class RecordWriter implements Collector<unknown> {
  protected readonly pending: Pending[];
  recordsOut = 0;
  /** The task's time: records leave with the timestamp of the record (or timer) that made them. */
  time: TaskTime | undefined;

  constructor(
    protected readonly channels: Channel[],
    protected readonly batchSize: number,
    keyed = false,
  ) {
    this.pending = channels.map(() => new Pending(keyed));
  }

  abstract collect(record: unknown): void;

  /** Adds the current timestamp for the record just added to `p`; costs nothing without event time. */
  protected stamp(p: Pending): void {
    const ts = this.time?.timestamp;
    if (ts === undefined && p.timestamps === undefined) return;
    if (p.timestamps === undefined)
      p.timestamps = new Array<number | undefined>(p.records.length - 1).fill(undefined);
    p.timestamps.push(ts);
  }

  protected send(i: number): void {
    const p = this.pending[i]!;
    const batch: RecordBatch = {
      kind: 'records',
      records: p.records,
      keys: p.keys,
      keyGroups: p.keyGroups,
      timestamps: p.timestamps,
    };
    this.recordsOut += p.records.length;
    p.records = [];
    p.timestamps = undefined;
    if (p.keys !== undefined) {
      p.keys = [];
      p.keyGroups = [];
    }
    this.channels[i]!.push(batch);
  }

  /** Sends every partial batch. */
  flush(): void {
    for (let i = 0; i < this.pending.length; i++) if (this.pending[i]!.records.length > 0) this.send(i);
  }

  /** Flushes, then puts the event on every channel, in order after the records. */
  broadcastEvent(event: ChannelItem): void {
    this.flush();
    for (const c of this.channels) c.push(event);
  }

  hasCredit(): boolean {
    for (const c of this.channels) if (!c.hasCredit) return false;
    return true;
  }
}

class ForwardWriter extends RecordWriter {
  collect(record: unknown): void {
    const p = this.pending[0]!;
    const n = p.records.push(record);
    this.stamp(p);
    if (n >= this.batchSize) this.send(0);
  }
}

class RebalanceWriter extends RecordWriter {
  private next: number;
  constructor(channels: Channel[], batchSize: number, producerIndex: number) {
    super(channels, batchSize);
    // Start each producer at a different channel so small inputs still spread out.
    this.next = producerIndex % channels.length;
  }
  collect(record: unknown): void {
    const i = this.next;
    this.next = i + 1 === this.channels.length ? 0 : i + 1;
    const p = this.pending[i]!;
    const n = p.records.push(record);
    this.stamp(p);
    if (n >= this.batchSize) this.send(i);
  }
}

class BroadcastWriter extends RecordWriter {
  collect(record: unknown): void {
    for (let i = 0; i < this.pending.length; i++) {
      const p = this.pending[i]!;
      const n = p.records.push(record);
      this.stamp(p);
      if (n >= this.batchSize) this.send(i);
    }
  }
}

class HashWriter extends RecordWriter {
  constructor(
    channels: Channel[],
    batchSize: number,
    private readonly keySelector: KeySelector<unknown, unknown>,
    private readonly maxParallelism: number,
    private readonly target: OperatorIdentity,
  ) {
    super(channels, batchSize, true);
  }
  collect(record: unknown): void {
    let key: unknown;
    let kg: number;
    try {
      key = this.keySelector(record);
      kg = murmurMix(hashKey(key)) % this.maxParallelism;
    } catch (e) {
      throw attribute(e, this.target, 'its key selector');
    }
    const i = Math.floor((kg * this.channels.length) / this.maxParallelism);
    const p = this.pending[i]!;
    p.keys!.push(key);
    p.keyGroups!.push(kg);
    const n = p.records.push(record);
    this.stamp(p);
    if (n >= this.batchSize) this.send(i);
  }
}

export interface WriterSpec {
  kind: PartitionerKind;
  keySelector?: KeySelector<unknown, unknown> | undefined;
  maxParallelism: number;
  /** The consuming operator, named in errors from its key selector. */
  target: OperatorIdentity;
}

export function createRecordWriter(
  spec: WriterSpec,
  channels: Channel[],
  batchSize: number,
  producerIndex: number,
): RecordWriter {
  switch (spec.kind) {
    case 'forward':
      return new ForwardWriter(channels, batchSize);
    case 'rebalance':
      return new RebalanceWriter(channels, batchSize, producerIndex);
    case 'broadcast':
      return new BroadcastWriter(channels, batchSize);
    case 'hash':
      if (spec.keySelector === undefined)
        throw new Error('internal: hash partitioning without a key selector');
      return new HashWriter(channels, batchSize, spec.keySelector, spec.maxParallelism, spec.target);
  }
}
