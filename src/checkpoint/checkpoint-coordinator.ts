// Decides when checkpoints are taken and when they are complete (ARCHITECTURE.md §4). It owns no
// I/O: it triggers through a callback, learns of progress only through acknowledge/decline, and
// asks its owner to make a fully acknowledged checkpoint durable. All timing goes through an
// injected clock, so every decision can be tested step by step.
import type { CheckpointSettings } from '../api/checkpoint-config.js';
import {
  CheckpointAbortedError,
  CheckpointFailureError,
  countsAsFailure,
  type AbortReason,
} from './checkpoint-failure.js';
import type { Clock } from './clock.js';
import type { CompletedCheckpoint } from './completed-checkpoint.js';
import {
  PendingCheckpoint,
  type SnapshotKind,
  type TaskAcknowledgement,
  type TaskSnapshotStats,
} from './pending-checkpoint.js';

export type AckOutcome = 'accepted' | 'completed-pending' | 'duplicate' | 'late' | 'unknown';

export interface FinalizedCheckpoint {
  readonly location: CompletedCheckpoint['location'];
  readonly metadata: CompletedCheckpoint['metadata'];
  readonly sizeBytes: number;
}

export interface CoordinatorOptions {
  readonly settings: CheckpointSettings;
  /** Every task that must acknowledge, by id. */
  readonly tasks: readonly string[];
  readonly clock: Clock;
  readonly firstCheckpointId: number;
  /** Injects barriers for checkpoint `id` at every source. */
  trigger(id: number, timestamp: number, kind: SnapshotKind): void;
  /** Makes a fully acknowledged checkpoint durable (writes `_metadata`). */
  finalize(pending: PendingCheckpoint): Promise<FinalizedCheckpoint>;
  notifyComplete(id: number, completed: CompletedCheckpoint): void;
  notifyAborted(id: number, reason: AbortReason): void;
  /** Drops the files of an aborted checkpoint, or of a completed one no longer retained. */
  discard(checkpoint: { id: number; location?: CompletedCheckpoint['location'] }): void;
  /** More consecutive failures than tolerated. */
  failJob(cause: CheckpointFailureError): void;
}

export interface CheckpointHistoryEntry {
  readonly id: number;
  readonly kind: SnapshotKind;
  status: 'in-progress' | 'completed' | 'failed';
  readonly triggerTime: number;
  durationMs: number | null;
  sizeBytes: number | null;
  failureReason: string | null;
  path: string | null;
  readonly tasks: Map<string, TaskSnapshotStats>;
}

const HISTORY = 100;

interface Waiter {
  resolve(c: CompletedCheckpoint): void;
  reject(e: Error): void;
}

export class CheckpointCoordinator {
  private readonly pending = new Map<number, PendingCheckpoint>();
  private readonly waiters = new Map<number, Waiter>();
  private readonly retained: CompletedCheckpoint[] = [];
  /** Ids that completed or were aborted, so a late acknowledgement is recognised as late. */
  private readonly ended = new Set<number>();
  private readonly log: CheckpointHistoryEntry[] = [];
  private nextId: number;
  private tasks: readonly string[];
  private periodicTimer: unknown;
  private triggerWhenPossible = false;
  private lastCompletionTime = Number.NEGATIVE_INFINITY;
  private consecutiveFailures = 0;
  private stopped = false;
  private periodicStopped = false;
  private completedCount = 0;
  private failedCount = 0;

  constructor(private readonly o: CoordinatorOptions) {
    this.nextId = o.firstCheckpointId;
    this.tasks = o.tasks;
  }

  setTasks(tasks: readonly string[]): void {
    this.tasks = tasks;
  }

  /** Starts periodic checkpoints (none when the interval is 0). */
  start(): void {
    if (this.o.settings.intervalMs > 0) this.schedule(this.o.settings.intervalMs);
  }

  /** Aborts everything pending (reason 'job-stopping') and stops triggering. */
  stop(reason: AbortReason = 'job-stopping'): void {
    this.stopped = true;
    if (this.periodicTimer !== undefined) this.o.clock.clearTimeout(this.periodicTimer);
    this.periodicTimer = undefined;
    for (const p of [...this.pending.values()]) this.abort(p, reason, 'the job is stopping');
  }

  /** Registers the checkpoint the job restarted from, so retention counts it. */
  restoredFrom(c: CompletedCheckpoint): void {
    if (!this.retained.some((r) => r.id === c.id)) this.retained.push(c);
    this.nextId = Math.max(this.nextId, c.id + 1);
  }

  /** The job's last checkpoint, when its sources have ended: not held back by pacing or concurrency. */
  triggerFinalCheckpoint(): Promise<CompletedCheckpoint> {
    // Nothing changes after this one: periodic checkpoints would only be aborted at the end.
    if (this.periodicTimer !== undefined) this.o.clock.clearTimeout(this.periodicTimer);
    this.periodicTimer = undefined;
    this.triggerWhenPossible = false;
    this.periodicStopped = true;
    return this.triggerNow('checkpoint', true);
  }

  /** A savepoint: bypasses pacing; one at a time. */
  triggerSavepoint(): Promise<CompletedCheckpoint> {
    for (const p of this.pending.values())
      if (p.kind === 'savepoint')
        return Promise.reject(
          new Error(`a savepoint is already in progress (id ${p.id}); wait for it to finish`),
        );
    return this.triggerNow('savepoint', false);
  }

  private triggerNow(kind: SnapshotKind, final: boolean): Promise<CompletedCheckpoint> {
    if (this.stopped) return Promise.reject(new Error('the job is stopping; no more snapshots'));
    return new Promise<CompletedCheckpoint>((resolve, reject) => {
      const p = this.trigger(kind, final);
      this.waiters.set(p.id, { resolve, reject });
    });
  }

  private schedule(delayMs: number): void {
    if (this.stopped || this.periodicStopped) return;
    if (this.periodicTimer !== undefined) this.o.clock.clearTimeout(this.periodicTimer);
    this.periodicTimer = this.o.clock.setTimeout(() => {
      this.periodicTimer = undefined;
      this.onPeriodicTimer();
    }, delayMs);
  }

  private onPeriodicTimer(): void {
    if (this.stopped || this.periodicStopped) return;
    const s = this.o.settings;
    const running = [...this.pending.values()].filter((p) => p.kind === 'checkpoint').length;
    if (running >= s.maxConcurrent || (s.minPauseMs > 0 && running > 0)) {
      // Retried as soon as a pending checkpoint ends.
      this.triggerWhenPossible = true;
      return;
    }
    const earliest = this.lastCompletionTime + s.minPauseMs;
    const now = this.o.clock.now();
    if (now < earliest) {
      this.schedule(earliest - now);
      return;
    }
    this.trigger('checkpoint', false);
    this.schedule(s.intervalMs);
  }

  /** The id of the newest checkpoint triggered (0 when none). */
  get lastTriggeredId(): number {
    return this.nextId - 1;
  }

  private trigger(kind: SnapshotKind, final: boolean): PendingCheckpoint {
    const id = this.nextId++;
    const now = this.o.clock.now();
    const p = new PendingCheckpoint(id, kind, now, this.tasks, final);
    this.pending.set(id, p);
    this.record({
      id,
      kind,
      status: 'in-progress',
      triggerTime: now,
      durationMs: null,
      sizeBytes: null,
      failureReason: null,
      path: null,
      tasks: new Map(),
    });
    p.timeoutHandle = this.o.clock.setTimeout(
      () =>
        this.abort(
          p,
          'expired',
          `not complete after ${this.o.settings.timeoutMs} ms (missing: ${p.missing.slice(0, 5).join(', ')})`,
        ),
      this.o.settings.timeoutMs,
    );
    this.o.trigger(id, now, kind);
    return p;
  }

  acknowledge(id: number, taskId: string, ack: TaskAcknowledgement): AckOutcome {
    const p = this.pending.get(id);
    if (p === undefined) return this.ended.has(id) ? 'late' : 'unknown';
    const outcome = p.acknowledge(taskId, ack);
    if (outcome !== 'accepted') return outcome;
    this.entry(id)?.tasks.set(taskId, ack.stats);
    if (!p.isFullyAcknowledged) return 'accepted';
    p.finalizing = true;
    this.o.finalize(p).then(
      (f) => this.complete(p, f),
      (e: unknown) => this.abort(p, 'finalize-failed', e instanceof Error ? e.message : String(e)),
    );
    return 'completed-pending';
  }

  decline(id: number, taskId: string, cause: unknown): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.abort(
      p,
      'declined',
      `task ${taskId} declined: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }

  private complete(p: PendingCheckpoint, f: FinalizedCheckpoint): void {
    if (this.pending.get(p.id) !== p) {
      // Aborted while finalizing (e.g. the job stopped): what was written is not retained.
      this.o.discard({ id: p.id, location: f.location });
      return;
    }
    this.end(p);
    const now = this.o.clock.now();
    const completed: CompletedCheckpoint = {
      id: p.id,
      kind: p.kind,
      timestamp: p.timestamp,
      location: f.location,
      metadata: f.metadata,
      sizeBytes: f.sizeBytes,
      durationMs: now - p.timestamp,
    };
    const e = this.entry(p.id);
    if (e !== undefined) {
      e.status = 'completed';
      e.durationMs = completed.durationMs;
      e.sizeBytes = f.sizeBytes;
      e.path = f.location?.uri ?? null;
    }
    this.completedCount++;
    if (p.kind === 'checkpoint') {
      this.consecutiveFailures = 0;
      this.lastCompletionTime = now;
      // Older pending checkpoints can no longer be the newest: subsumed.
      for (const older of [...this.pending.values()])
        if (older.kind === 'checkpoint' && older.id < p.id)
          this.abort(older, 'subsumed', `checkpoint ${p.id} completed`);
      this.retained.push(completed);
      while (this.retained.filter((c) => c.kind === 'checkpoint').length > this.o.settings.numRetained) {
        const i = this.retained.findIndex((c) => c.kind === 'checkpoint');
        const [gone] = this.retained.splice(i, 1);
        this.o.discard({ id: gone!.id, location: gone!.location });
      }
    }
    this.o.notifyComplete(p.id, completed);
    this.waiters.get(p.id)?.resolve(completed);
    this.waiters.delete(p.id);
    this.afterEnd();
  }

  private abort(p: PendingCheckpoint, reason: AbortReason, detail: string): void {
    if (this.pending.get(p.id) !== p) return;
    this.end(p);
    const e = this.entry(p.id);
    if (e !== undefined) {
      e.status = 'failed';
      e.failureReason = `${reason}: ${detail}`;
      e.durationMs = this.o.clock.now() - p.timestamp;
    }
    this.failedCount++;
    this.o.notifyAborted(p.id, reason);
    this.o.discard({ id: p.id });
    const waiter = this.waiters.get(p.id);
    this.waiters.delete(p.id);
    waiter?.reject(new CheckpointAbortedError(p.id, reason, detail));
    if (p.kind === 'checkpoint' && countsAsFailure(reason)) {
      this.consecutiveFailures++;
      if (this.consecutiveFailures > this.o.settings.tolerableFailures || p.final) {
        this.o.failJob(
          new CheckpointFailureError(
            p.final
              ? `the final checkpoint ${p.id} failed (${reason}: ${detail})`
              : `${this.consecutiveFailures} consecutive checkpoint failure(s), more than the ${this.o.settings.tolerableFailures} tolerated; last: checkpoint ${p.id} ${reason}: ${detail}`,
          ),
        );
      }
    }
    this.afterEnd();
  }

  private end(p: PendingCheckpoint): void {
    this.pending.delete(p.id);
    this.ended.add(p.id);
    this.o.clock.clearTimeout(p.timeoutHandle);
  }

  private afterEnd(): void {
    if (this.triggerWhenPossible && !this.stopped) {
      this.triggerWhenPossible = false;
      this.onPeriodicTimer();
    }
  }

  private record(e: CheckpointHistoryEntry): void {
    this.log.push(e);
    if (this.log.length > HISTORY) this.log.shift();
  }

  private entry(id: number): CheckpointHistoryEntry | undefined {
    for (let i = this.log.length - 1; i >= 0; i--) if (this.log[i]!.id === id) return this.log[i];
    return undefined;
  }

  /** Newest first. */
  history(): readonly CheckpointHistoryEntry[] {
    return [...this.log].reverse();
  }

  latestCompleted(): CompletedCheckpoint | undefined {
    for (let i = this.retained.length - 1; i >= 0; i--)
      if (this.retained[i]!.kind === 'checkpoint') return this.retained[i];
    return undefined;
  }

  counts(): { completed: number; failed: number; inProgress: number } {
    return { completed: this.completedCount, failed: this.failedCount, inProgress: this.pending.size };
  }

  get pendingCount(): number {
    return this.pending.size;
  }
}
