// A checkpoint (or savepoint) whose `_metadata` is durable: it exists, and a restore can use it.
import type { SnapshotMetadata } from '../storage/metadata.js';
import type { SnapshotLocation } from '../storage/checkpoint-storage.js';
import type { SnapshotKind } from './pending-checkpoint.js';

export interface CompletedCheckpoint {
  readonly id: number;
  readonly kind: SnapshotKind;
  readonly timestamp: number;
  /** Undefined for commit-only checkpoints of a job without checkpoint storage. */
  readonly location: SnapshotLocation | undefined;
  readonly metadata: SnapshotMetadata | undefined;
  readonly sizeBytes: number;
  readonly durationMs: number;
}
