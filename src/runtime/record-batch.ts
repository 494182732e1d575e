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

export type ChannelItem = RecordBatch | EndOfInput;

export const END_OF_INPUT: EndOfInput = Object.freeze({ kind: 'end-of-input' });
