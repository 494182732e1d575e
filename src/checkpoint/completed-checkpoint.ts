// A checkpoint (or savepoint) whose `_metadata` is durable: it exists, and a restore can use it.
// And the retained ones: weir keeps the newest `numRetained` checkpoints and drops the rest;
// savepoints belong to the user and are never kept or dropped here.
import type { SnapshotMetadata } from '../storage/metadata.js';
import type { SnapshotLocation } from '../storage/checkpoint-storage.js';
import type { SnapshotKind } from './pending-checkpoint.js';

export interface CompletedCheckpoint {
  readonly id: number;
  readonly kind: SnapshotKind;
  /** Trigger time, as carried by the barriers. */
  readonly timestamp: number;
  /** Undefined for commit-only checkpoints of a job without checkpoint storage. */
  readonly location: SnapshotLocation | undefined;
  readonly metadata: SnapshotMetadata | undefined;
  readonly sizeBytes: number;
  /** From trigger to durable `_metadata`. */
  readonly durationMs: number;
}

/** The completed checkpoints weir keeps, oldest first, at most `maxRetained`. */
export class RetainedCheckpoints {
  private readonly kept: CompletedCheckpoint[] = [];

  constructor(readonly maxRetained: number) {
    if (!Number.isInteger(maxRetained) || maxRetained < 1)
      throw new RangeError(`retained checkpoints must be a positive integer, got ${maxRetained}`);
  }

  /**
   * Keeps `c` and returns the checkpoints no longer retained because of it, oldest first (`c`
   * itself when it is older than all of `maxRetained` kept ones). Adding one already kept does
   * nothing.
   */
  add(c: CompletedCheckpoint): CompletedCheckpoint[] {
    if (c.kind !== 'checkpoint') throw new Error(`internal: savepoint ${c.id} offered for retention`);
    if (this.kept.some((k) => k.id === c.id)) return [];
    const at = this.kept.findIndex((k) => k.id > c.id);
    if (at < 0) this.kept.push(c);
    else this.kept.splice(at, 0, c);
    return this.kept.length > this.maxRetained
      ? this.kept.splice(0, this.kept.length - this.maxRetained)
      : [];
  }

  /** The newest retained checkpoint. */
  latest(): CompletedCheckpoint | undefined {
    return this.kept[this.kept.length - 1];
  }

  /** Oldest first. */
  all(): readonly CompletedCheckpoint[] {
    return [...this.kept];
  }
}
