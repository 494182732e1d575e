// A checkpoint that was triggered and waits for every task's acknowledgement.

export interface TaskSnapshotStats {
  readonly syncMs: number;
  readonly asyncMs: number;
  readonly alignmentMs: number;
  readonly bytes: number;
}

export interface TaskAcknowledgement {
  /** What the task wrote; opaque to the coordinator. */
  readonly stateHandles: unknown;
  readonly stats: TaskSnapshotStats;
}

export type SnapshotKind = 'checkpoint' | 'savepoint';

export class PendingCheckpoint {
  private readonly acks = new Map<string, TaskAcknowledgement>();
  private readonly waitingFor: Set<string>;
  timeoutHandle: unknown;
  /** Set once every task acknowledged and finalize started. */
  finalizing = false;

  constructor(
    readonly id: number,
    readonly kind: SnapshotKind,
    /** Wall-clock trigger time; barriers carry it as the snapshot's timestamp. */
    readonly timestamp: number,
    tasks: readonly string[],
    /** The job's last checkpoint, taken when its sources ended: not subject to pacing. */
    readonly final: boolean,
  ) {
    this.waitingFor = new Set(tasks);
  }

  /** 'accepted', 'duplicate' or 'unknown' (not a task of this checkpoint). */
  acknowledge(taskId: string, ack: TaskAcknowledgement): 'accepted' | 'duplicate' | 'unknown' {
    if (this.acks.has(taskId)) return 'duplicate';
    if (!this.waitingFor.delete(taskId)) return 'unknown';
    this.acks.set(taskId, ack);
    return 'accepted';
  }

  get isFullyAcknowledged(): boolean {
    return this.waitingFor.size === 0;
  }

  get missing(): string[] {
    return [...this.waitingFor];
  }

  acknowledgements(): Array<[string, TaskAcknowledgement]> {
    return [...this.acks];
  }
}
