// A checkpoint that was triggered and waits for every task's acknowledgement. It only tracks
// acknowledgements; timing, pacing and how it ends are the coordinator's business.

export type SnapshotKind = 'checkpoint' | 'savepoint';

/** What one task reports about its snapshot, for statistics. */
export interface TaskSnapshotStats {
  readonly syncMs: number;
  readonly asyncMs: number;
  readonly alignmentMs: number;
  readonly bytes: number;
}

export interface TaskAcknowledgement {
  /** What the task wrote; opaque to the coordinator, handed to `finalize` and `discard`. */
  readonly stateHandles: unknown;
  readonly stats: TaskSnapshotStats;
}

/**
 * - 'accepted': kept; the checkpoint now owns the task's handles.
 * - 'duplicate': the task acknowledged before; the first acknowledgement is kept.
 * - 'unknown': not a task of this checkpoint.
 */
export type TaskAckResult = 'accepted' | 'duplicate' | 'unknown';

export class PendingCheckpoint {
  readonly id: number;
  readonly kind: SnapshotKind;
  /** Wall-clock trigger time; barriers carry it as the snapshot's timestamp. */
  readonly timestamp: number;
  /** The job's last checkpoint, taken when its sources ended: not subject to pacing. */
  readonly final: boolean;
  /** Not durable yet, so no location: storage derives the folder of a checkpoint from its id. */
  readonly location = undefined;

  private readonly tasks: readonly string[];
  private readonly acks = new Map<string, TaskAcknowledgement>();
  private readonly waitingFor: Set<string>;
  private finalizing = false;

  constructor(init: {
    id: number;
    kind: SnapshotKind;
    timestamp: number;
    tasks: readonly string[];
    final?: boolean;
  }) {
    this.id = init.id;
    this.kind = init.kind;
    this.timestamp = init.timestamp;
    this.final = init.final ?? false;
    this.tasks = [...init.tasks];
    this.waitingFor = new Set(init.tasks);
  }

  acknowledge(taskId: string, ack: TaskAcknowledgement): TaskAckResult {
    if (this.acks.has(taskId)) return 'duplicate';
    if (!this.waitingFor.delete(taskId)) return 'unknown';
    this.acks.set(taskId, ack);
    return 'accepted';
  }

  /** Whether `taskId` must acknowledge this checkpoint (whether or not it did). */
  hasTask(taskId: string): boolean {
    return this.acks.has(taskId) || this.waitingFor.has(taskId);
  }

  get isFullyAcknowledged(): boolean {
    return this.waitingFor.size === 0;
  }

  /** Every task acknowledged and `finalize` was called: no acknowledgement is waited for. */
  get isFinalizing(): boolean {
    return this.finalizing;
  }

  /** Marks the step from "waiting for tasks" to "being made durable". */
  startFinalizing(): void {
    if (!this.isFullyAcknowledged)
      throw new Error(
        `internal: checkpoint ${this.id} finalized while waiting for ${this.missing.join(', ')}`,
      );
    this.finalizing = true;
  }

  /** Tasks that have not acknowledged yet, in the order they were given. */
  get missing(): string[] {
    return this.tasks.filter((t) => this.waitingFor.has(t));
  }

  get numTasks(): number {
    return this.tasks.length;
  }

  get numAcknowledged(): number {
    return this.acks.size;
  }

  /** Bytes the acknowledging tasks reported so far. */
  get acknowledgedBytes(): number {
    let n = 0;
    for (const a of this.acks.values()) n += a.stats.bytes;
    return n;
  }

  /** In the order they arrived. */
  acknowledgements(): Array<[string, TaskAcknowledgement]> {
    return [...this.acks];
  }
}
