// What travels through a channel: batches of records, and control events in order with them.

export interface RecordBatch {
  readonly kind: 'records';
  readonly records: unknown[];
  /** Present on hash-partitioned edges: the key and key group of each record, computed once by the sender. */
  readonly keys: unknown[] | undefined;
  readonly keyGroups: number[] | undefined;
}

export interface EndOfInput {
  readonly kind: 'end-of-input';
}

/**
 * Marks the point in a stream before which every record belongs to snapshot `id` (ARCHITECTURE.md
 * §4). Injected by sources between two batches and forwarded by each task once it has snapshotted.
 */
export interface CheckpointBarrier {
  readonly kind: 'barrier';
  readonly id: number;
  readonly timestamp: number;
  readonly type: 'checkpoint' | 'savepoint';
}

export type ChannelItem = RecordBatch | EndOfInput | CheckpointBarrier;

export const END_OF_INPUT: EndOfInput = Object.freeze({ kind: 'end-of-input' });
