// What travels through a channel: batches of records, and control events in order with them.

export interface RecordBatch {
  readonly kind: 'records';
  readonly records: unknown[];
  /** Present on hash-partitioned edges: the key and key group of each record, computed once by the sender. */
  readonly keys: unknown[] | undefined;
  readonly keyGroups: number[] | undefined;
  /** Present when some record has an event timestamp: one per record (undefined where none). */
  readonly timestamps?: Array<number | undefined> | undefined;
}

/**
 * Event time has reached `timestamp` on this channel: no record with a timestamp ≤ it follows.
 * Sources emit them (their watermark strategy); each task forwards the minimum over its inputs.
 */
export interface Watermark {
  readonly kind: 'watermark';
  readonly timestamp: number;
}

/** The channel's producer has no records for a while (idle) or has them again: idle inputs do not hold event time back. */
export interface WatermarkStatus {
  readonly kind: 'watermark-status';
  readonly idle: boolean;
}

/** The watermark of an input that has ended: every event-time timer and window may fire. */
export const MAX_WATERMARK = Number.MAX_SAFE_INTEGER;

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

export type ChannelItem = RecordBatch | EndOfInput | CheckpointBarrier | Watermark | WatermarkStatus;

export const END_OF_INPUT: EndOfInput = Object.freeze({ kind: 'end-of-input' });
