// Decides when checkpoints are taken and when they are complete (ARCHITECTURE.md §4), with
// Flink's rules. It owns no I/O: it triggers through a callback, learns of progress only through
// acknowledge/decline, and asks its owner to make a fully acknowledged checkpoint durable. All
// timing goes through an injected clock, so every decision can be tested step by step.
//
// Three parts: when to trigger (`decidePeriodicTrigger`, pure), what happened to each checkpoint
// (`CheckpointStatsTracker`), and the coordinator that ties them to the lifecycle of
// `PendingCheckpoint` → `CompletedCheckpoint`.
import type { CheckpointSettings } from '../api/checkpoint-config.js';
import {
  ABORT_REASONS,
  CheckpointAbortedError,
  CheckpointFailureError,
  CoordinatorStoppedError,
  SavepointInProgressError,
  countsAsFailure,
  type AbortReason,
  type CheckpointFailure,
} from './checkpoint-failure.js';
import type { Clock, TimerHandle } from './clock.js';
import { RetainedCheckpoints, type CompletedCheckpoint } from './completed-checkpoint.js';
import {
  PendingCheckpoint,
  type SnapshotKind,
  type TaskAcknowledgement,
  type TaskSnapshotStats,
} from './pending-checkpoint.js';

// ---------------------------------------------------------------------------------------------
// When to trigger: a pure decision over facts.

export interface PacingFacts {
  readonly now: number;
  /** Snapshots in progress, savepoints included (Flink counts them against max concurrent). */
  readonly pendingCount: number;
  /** When the last snapshot (of either kind) completed; undefined when none did yet. */
  readonly lastCompletionTime: number | undefined;
  readonly minPauseMs: number;
  readonly maxConcurrent: number;
}

export type PacingDecision =
  /** Trigger now. */
  | { readonly action: 'trigger' }
  /** Too many in progress: decide again when one ends. */
  | { readonly action: 'wait-for-slot' }
  /** The min pause since the last completion has not passed: decide again at `at`. */
  | { readonly action: 'wait-until'; readonly at: number };

/**
 * Whether a periodic checkpoint that is due may start now. A min pause above 0 allows only one
 * snapshot at a time, whatever `maxConcurrent` says (as Flink documents it).
 */
export function decidePeriodicTrigger(f: PacingFacts): PacingDecision {
  const limit = f.minPauseMs > 0 ? 1 : f.maxConcurrent;
  if (f.pendingCount >= limit) return { action: 'wait-for-slot' };
  if (f.lastCompletionTime !== undefined) {
    const at = f.lastCompletionTime + f.minPauseMs;
    if (f.now < at) return { action: 'wait-until', at };
  }
  return { action: 'trigger' };
}

/** Checkpoints are never scheduled more often than the min pause allows (Flink's base interval). */
export function effectiveIntervalMs(s: Pick<CheckpointSettings, 'intervalMs' | 'minPauseMs'>): number {
  return s.intervalMs > 0 ? Math.max(s.intervalMs, s.minPauseMs) : 0;
}

// ---------------------------------------------------------------------------------------------
// What happened to each checkpoint, for the REST API and `weir checkpoints`.

export type CheckpointStatus = 'in-progress' | 'completed' | 'failed';

export interface CheckpointStats {
  readonly id: number;
  readonly kind: SnapshotKind;
  readonly status: CheckpointStatus;
  readonly triggerTime: number;
  /** From trigger to completion or abort; null while in progress. */
  readonly durationMs: number | null;
  /** Bytes the tasks reported so far; at completion, the size of the durable snapshot. */
  readonly sizeBytes: number;
  readonly numTasks: number;
  readonly numAcknowledged: number;
  /** `<reason>: <detail>` when it failed. */
  readonly failureReason: string | null;
  readonly abortReason: AbortReason | null;
  /** Where the completed snapshot is (or was, when `discarded`). */
  readonly path: string | null;
  /** A completed checkpoint weir has since removed (retention, subsumption): its path is gone. */
  readonly discarded: boolean;
  /** Per acknowledging task. */
  readonly tasks: ReadonlyMap<string, TaskSnapshotStats>;
}

export interface CheckpointCounts {
  readonly completed: number;
  readonly failed: number;
  readonly inProgress: number;
}

type MutableStats = { -readonly [K in keyof CheckpointStats]: CheckpointStats[K] } & {
  tasks: Map<string, TaskSnapshotStats>;
};

/**
 * Keeps the last `capacity` snapshots' statistics and the totals since it was made: a job keeps
 * one over all its attempts.
 */
export class CheckpointStatsTracker {
  private readonly entries: MutableStats[] = [];
  private readonly byId = new Map<number, MutableStats>();
  private completed = 0;
  private failed = 0;
  /** Checkpoints (not savepoints) that failed for a reason that counts as a failure. */
  private failedCheckpoints = 0;
  private completedSavepoints = 0;

  constructor(private readonly capacity = 100) {}

  onTriggered(p: PendingCheckpoint): void {
    const e: MutableStats = {
      id: p.id,
      kind: p.kind,
      status: 'in-progress',
      triggerTime: p.timestamp,
      durationMs: null,
      sizeBytes: 0,
      numTasks: p.numTasks,
      numAcknowledged: 0,
      failureReason: null,
      abortReason: null,
      path: null,
      discarded: false,
      tasks: new Map(),
    };
    this.entries.push(e);
    this.byId.set(e.id, e);
    while (this.entries.length > this.capacity) this.byId.delete(this.entries.shift()!.id);
  }

  onAcknowledged(id: number, taskId: string, stats: TaskSnapshotStats): void {
    const e = this.byId.get(id);
    if (e === undefined) return;
    e.tasks.set(taskId, stats);
    e.numAcknowledged = e.tasks.size;
    e.sizeBytes += stats.bytes;
  }

  onCompleted(c: CompletedCheckpoint): void {
    this.completed++;
    if (c.kind === 'savepoint') this.completedSavepoints++;
    const e = this.byId.get(c.id);
    if (e === undefined) return;
    e.status = 'completed';
    e.durationMs = c.durationMs;
    e.sizeBytes = c.sizeBytes;
    e.path = c.location?.uri ?? null;
  }

  /** A completed checkpoint's folder was removed. */
  onDiscarded(id: number): void {
    const e = this.byId.get(id);
    if (e !== undefined && e.status === 'completed') e.discarded = true;
  }

  onFailed(id: number, failure: CheckpointFailure, endTime: number): void {
    this.failed++;
    const e = this.byId.get(id);
    if (e === undefined) return;
    if (e.kind === 'checkpoint' && countsAsFailure(failure.reason)) this.failedCheckpoints++;
    e.status = 'failed';
    e.durationMs = endTime - e.triggerTime;
    e.abortReason = failure.reason;
    e.failureReason = `${failure.reason}: ${failure.detail}`;
  }

  /** Newest first; copies, so callers cannot change the record. */
  history(): CheckpointStats[] {
    const out: CheckpointStats[] = [];
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      out.push(Object.freeze({ ...e, tasks: new Map(e.tasks) }));
    }
    return out;
  }

  counts(inProgress: number): CheckpointCounts {
    return { completed: this.completed, failed: this.failed, inProgress };
  }

  /** Checkpoints that failed (expired, declined, `_metadata` not written); not the aborted ones. */
  get checkpointFailures(): number {
    return this.failedCheckpoints;
  }

  /** Of the completed snapshots, the savepoints. */
  get savepoints(): number {
    return this.completedSavepoints;
  }
}

// ---------------------------------------------------------------------------------------------
// The coordinator.

/**
 * What `acknowledge` did with a task's report:
 * - 'accepted': kept; the checkpoint owns the handles now.
 * - 'completed-pending': kept, and it was the last one: `finalize` has started.
 * - 'duplicate': the task acknowledged this checkpoint before; the first report is kept and
 *   nothing changes. Do not discard these handles: they may be the very files the first one names.
 * - 'late': the checkpoint already completed or was aborted. Nothing refers to the handles:
 *   the caller must discard them.
 * - 'unknown': a checkpoint that was never triggered, or a task that is not part of it. Nothing
 *   refers to the handles: the caller must discard them.
 */
export type AckOutcome = 'accepted' | 'completed-pending' | 'duplicate' | 'late' | 'unknown';

/** Whether the handles of an acknowledgement with this outcome are the caller's to discard. */
export function callerMustDiscardHandles(outcome: AckOutcome): boolean {
  return outcome === 'late' || outcome === 'unknown';
}

/** What `decline` did: 'aborted' the checkpoint, or nothing because it had ended or never existed. */
export type DeclineOutcome = 'aborted' | 'late' | 'unknown';

/** What `finalize` reports once `_metadata` is durable. */
export interface FinalizedCheckpoint {
  readonly location: CompletedCheckpoint['location'];
  readonly metadata: CompletedCheckpoint['metadata'];
  readonly sizeBytes: number;
}

export interface CoordinatorOptions {
  readonly settings: CheckpointSettings;
  /** Every task that must acknowledge, by id (`<vertex>#<subtask>`); see `setTasks`. */
  readonly tasks: readonly string[];
  readonly clock: Clock;
  /** The first id to use: ids continue after those already in storage. */
  readonly firstCheckpointId: number;
  /** Injects barriers for snapshot `id` at every source. */
  trigger(id: number, timestamp: number, kind: SnapshotKind): void;
  /** Every task acknowledged: make the snapshot durable (write `_metadata`), or reject. */
  finalize(pending: PendingCheckpoint): Promise<FinalizedCheckpoint>;
  /** Tell every task "`id` is complete" (two-phase-commit sinks commit here). */
  notifyComplete(id: number, completed: CompletedCheckpoint): void;
  /** Tell every task `id` was aborted; they drop what they hold for it. */
  notifyAborted(id: number, reason: AbortReason): void;
  /**
   * Drop the files of an aborted snapshot (the pending checkpoint, with what was acknowledged),
   * of one that became durable only after it was aborted, or of a completed checkpoint no
   * longer retained. Fire-and-forget: the caller logs errors. Never called for a savepoint that
   * completed: those belong to the user.
   */
  discard(checkpoint: PendingCheckpoint | CompletedCheckpoint): void;
  /** More consecutive checkpoint failures than tolerated (or the final checkpoint failed). Called once. */
  failJob(cause: CheckpointFailureError): void;
  /** Where statistics go; a job passes one for all its attempts, so they span its restarts. */
  readonly stats?: CheckpointStatsTracker;
}

/** 'created': savepoints possible, no periodic checkpoints yet; 'running': periodic checkpoints on; 'stopped': nothing more. */
export type CoordinatorState = 'created' | 'running' | 'stopped';

const HISTORY_SIZE = 100;

interface Waiter {
  resolve(c: CompletedCheckpoint): void;
  reject(e: Error): void;
}

/** A snapshot in progress, with what the coordinator holds for it. */
interface InProgress {
  readonly pending: PendingCheckpoint;
  readonly timeout: TimerHandle;
  readonly waiter: Waiter | undefined;
}

export class CheckpointCoordinator {
  private readonly settings: CheckpointSettings;
  private readonly clock: Clock;
  private readonly inProgress = new Map<number, InProgress>();
  private readonly retainedCheckpoints: RetainedCheckpoints;
  private readonly stats: CheckpointStatsTracker;
  private tasks: readonly string[];
  private lifecycle: CoordinatorState = 'created';
  private nextId: number;
  /** The first id this coordinator triggered; ids from here to `nextId - 1` were all triggered. */
  private firstTriggeredId: number | undefined;

  // Periodic triggering.
  private periodicEnabled = false;
  private periodicTimer: TimerHandle | undefined;
  /** A periodic checkpoint is due but waits for a snapshot to end. */
  private periodicDue = false;
  /** A stop's savepoint that paused periodic checkpoints: they resume if it is aborted. */
  private stopSavepointId: number | undefined;
  /** > 0 while a completion or stop runs: pacing is decided once, after it. */
  private settling = 0;

  // Pacing and failure counting.
  private lastCompletionTime: number | undefined;
  private lastCompletedCheckpointId = Number.NEGATIVE_INFINITY;
  private consecutiveFailures = 0;
  private jobFailed = false;

  constructor(private readonly o: CoordinatorOptions) {
    this.settings = o.settings;
    this.clock = o.clock;
    this.nextId = o.firstCheckpointId;
    this.tasks = [...o.tasks];
    this.retainedCheckpoints = new RetainedCheckpoints(o.settings.numRetained);
    this.stats = o.stats ?? new CheckpointStatsTracker(HISTORY_SIZE);
  }

  get state(): CoordinatorState {
    return this.lifecycle;
  }

  /** The tasks that must acknowledge snapshots triggered from now on. */
  setTasks(tasks: readonly string[]): void {
    this.tasks = [...tasks];
  }

  /** Starts periodic checkpoints, the first one an interval from now (none when the interval is 0). */
  start(): void {
    if (this.lifecycle !== 'created')
      throw new Error(`internal: checkpoint coordinator started while ${this.lifecycle}`);
    this.lifecycle = 'running';
    const interval = effectiveIntervalMs(this.settings);
    if (interval > 0 && !this.jobFailed) {
      this.periodicEnabled = true;
      this.armPeriodic(interval);
    }
  }

  /** Stops triggering and aborts every snapshot in progress with reason 'job-stopping' and `detail`. */
  stop(detail: string = ABORT_REASONS['job-stopping'].description): void {
    const reason = 'job-stopping';
    if (this.lifecycle === 'stopped') return;
    this.lifecycle = 'stopped';
    this.disablePeriodic();
    this.settling++;
    try {
      for (const id of [...this.inProgress.keys()].sort((a, b) => a - b)) {
        const r = this.inProgress.get(id);
        if (r !== undefined) this.abort(r.pending, reason, detail);
      }
    } finally {
      this.settling--;
    }
  }

  /**
   * Registers a completed checkpoint from before this coordinator (the one the job restarted
   * from, and older ones it still retains), so retention counts it and drops it once enough newer
   * ones complete. Call it before the first trigger, and only for checkpoints weir owns: a
   * savepoint is never registered (it is the user's).
   */
  restoredFrom(c: CompletedCheckpoint): void {
    if (this.firstTriggeredId !== undefined)
      throw new Error('internal: restoredFrom called after a snapshot was triggered');
    this.nextId = Math.max(this.nextId, c.id + 1);
    if (c.kind !== 'checkpoint') return;
    this.lastCompletedCheckpointId = Math.max(this.lastCompletedCheckpointId, c.id);
    for (const gone of this.retainedCheckpoints.add(c)) this.o.discard(gone);
  }

  /**
   * A savepoint, now: it bypasses the interval, the min pause and max concurrent. One at a time:
   * a second request while one is in progress rejects at once. Rejects with the reason when it
   * is aborted; never counts toward tolerable failures.
   */
  triggerSavepoint(options: { stopping?: boolean } = {}): Promise<CompletedCheckpoint> {
    if (this.lifecycle === 'stopped') return Promise.reject(new CoordinatorStoppedError('savepoint'));
    for (const r of this.inProgress.values())
      if (r.pending.kind === 'savepoint') return Promise.reject(new SavepointInProgressError(r.pending.id));
    if (options.stopping !== true) return this.triggerAwaited('savepoint', false);
    // A stop's savepoint is the job's last snapshot (Flink stops its checkpoint scheduler first):
    // a checkpoint after it could commit output the savepoint still holds as pending, which a
    // resume from it would retract and write again. Periodic checkpoints come back only if it
    // is aborted, since the job then keeps running.
    const resume = this.periodicEnabled;
    this.disablePeriodic();
    if (resume) this.stopSavepointId = this.nextId; // before the trigger, which may abort at once
    return this.triggerAwaited('savepoint', false);
  }

  /**
   * The job's last checkpoint, once its sources have ended: not held back by pacing or
   * concurrency, and periodic checkpoints stop (nothing changes after it). If it fails the job
   * fails, whatever the tolerable failures, since the sinks could not commit their last data.
   * A final savepoint (stop with --drain) is the same, written where the user asked; its
   * failure is the caller's to act on (the promise rejects).
   */
  triggerFinalCheckpoint(kind: SnapshotKind = 'checkpoint'): Promise<CompletedCheckpoint> {
    if (this.lifecycle === 'stopped') return Promise.reject(new CoordinatorStoppedError(kind));
    if (kind === 'savepoint')
      for (const r of this.inProgress.values())
        if (r.pending.kind === 'savepoint') return Promise.reject(new SavepointInProgressError(r.pending.id));
    this.disablePeriodic();
    return this.triggerAwaited(kind, true);
  }

  /** Records a task's snapshot; see `AckOutcome`. Never throws. */
  acknowledge(id: number, taskId: string, report: TaskAcknowledgement): AckOutcome {
    const r = this.inProgress.get(id);
    if (r === undefined) return this.wasTriggered(id) ? 'late' : 'unknown';
    const result = r.pending.acknowledge(taskId, report);
    if (result !== 'accepted') return result;
    this.stats.onAcknowledged(id, taskId, report.stats);
    if (!r.pending.isFullyAcknowledged) return 'accepted';
    this.startFinalize(r.pending);
    return 'completed-pending';
  }

  /** A task could not take its snapshot: the snapshot is aborted ('declined'). Never throws. */
  decline(id: number, taskId: string, cause: unknown): DeclineOutcome {
    const r = this.inProgress.get(id);
    if (r === undefined) return this.wasTriggered(id) ? 'late' : 'unknown';
    if (!r.pending.hasTask(taskId)) return 'unknown';
    this.abort(r.pending, 'declined', `task ${taskId} declined: ${describe(cause)}`, cause);
    return 'aborted';
  }

  /** The newest retained checkpoint (never a savepoint). */
  latestCompleted(): CompletedCheckpoint | undefined {
    return this.retainedCheckpoints.latest();
  }

  /** The retained checkpoints, oldest first. */
  retained(): readonly CompletedCheckpoint[] {
    return this.retainedCheckpoints.all();
  }

  /** The last 100 snapshots, newest first. */
  history(): CheckpointStats[] {
    return this.stats.history();
  }

  counts(): CheckpointCounts {
    return this.stats.counts(this.inProgress.size);
  }

  /** The id of the newest snapshot triggered (`firstCheckpointId - 1` when none was). */
  get lastTriggeredId(): number {
    return this.nextId - 1;
  }

  /** The id of the savepoint in progress, if any (one at a time). */
  get savepointInProgress(): number | undefined {
    for (const r of this.inProgress.values()) if (r.pending.kind === 'savepoint') return r.pending.id;
    return undefined;
  }

  get pendingCount(): number {
    return this.inProgress.size;
  }

  // --- triggering -----------------------------------------------------------------------------

  private triggerAwaited(kind: SnapshotKind, final: boolean): Promise<CompletedCheckpoint> {
    return new Promise<CompletedCheckpoint>((resolve, reject) => {
      this.startSnapshot(kind, final, { resolve, reject });
    });
  }

  private startSnapshot(kind: SnapshotKind, final: boolean, waiter: Waiter | undefined): void {
    const id = this.nextId++;
    this.firstTriggeredId ??= id;
    const now = this.clock.now();
    const pending = new PendingCheckpoint({ id, kind, timestamp: now, tasks: this.tasks, final });
    const timeout = this.clock.setTimeout(() => this.abortExpired(pending), this.settings.timeoutMs);
    this.inProgress.set(id, { pending, timeout, waiter });
    this.stats.onTriggered(pending);
    try {
      this.o.trigger(id, now, kind);
    } catch (e) {
      this.abort(pending, 'declined', `the barriers could not be injected: ${describe(e)}`, e);
      return;
    }
    // A job without tasks has nothing to wait for.
    if (this.isCurrent(pending) && pending.isFullyAcknowledged && !pending.isFinalizing)
      this.startFinalize(pending);
  }

  private armPeriodic(delayMs: number): void {
    if (this.periodicTimer !== undefined) this.clock.clearTimeout(this.periodicTimer);
    this.periodicTimer = this.clock.setTimeout(() => {
      this.periodicTimer = undefined;
      this.periodicDue = true;
      this.maybeTriggerPeriodic();
    }, delayMs);
  }

  private disablePeriodic(): void {
    this.stopSavepointId = undefined;
    this.periodicEnabled = false;
    this.periodicDue = false;
    if (this.periodicTimer !== undefined) this.clock.clearTimeout(this.periodicTimer);
    this.periodicTimer = undefined;
  }

  /** Runs when a periodic checkpoint falls due and whenever a snapshot ends while one is due. */
  private maybeTriggerPeriodic(): void {
    if (!this.periodicEnabled || !this.periodicDue || this.settling > 0) return;
    const now = this.clock.now();
    const d = decidePeriodicTrigger({
      now,
      pendingCount: this.inProgress.size,
      lastCompletionTime: this.lastCompletionTime,
      minPauseMs: this.settings.minPauseMs,
      maxConcurrent: this.settings.maxConcurrent,
    });
    if (d.action === 'wait-for-slot') return;
    this.periodicDue = false;
    if (d.action === 'wait-until') {
      this.armPeriodic(d.at - now);
      return;
    }
    this.armPeriodic(effectiveIntervalMs(this.settings));
    this.startSnapshot('checkpoint', false, undefined);
  }

  // --- completion -----------------------------------------------------------------------------

  private startFinalize(p: PendingCheckpoint): void {
    p.startFinalizing();
    let result: Promise<FinalizedCheckpoint>;
    try {
      result = this.o.finalize(p);
    } catch (e) {
      result = Promise.reject(e);
    }
    result.then(
      (f) => this.onFinalized(p, f),
      (e: unknown) => this.abort(p, 'finalize-failed', `could not be made durable: ${describe(e)}`, e),
    );
  }

  private onFinalized(p: PendingCheckpoint, f: FinalizedCheckpoint): void {
    const now = this.clock.now();
    const completed: CompletedCheckpoint = {
      id: p.id,
      kind: p.kind,
      timestamp: p.timestamp,
      location: f.location,
      metadata: f.metadata,
      sizeBytes: f.sizeBytes,
      durationMs: now - p.timestamp,
    };
    if (!this.isCurrent(p)) {
      // Aborted while `_metadata` was being written (expired, subsumed, job stopping): nobody was
      // told it completed, so it must not stay behind looking complete.
      this.o.discard(completed);
      return;
    }
    const r = this.end(p);
    this.lastCompletionTime = now;
    this.stats.onCompleted(completed);
    this.settling++;
    try {
      if (p.kind === 'checkpoint') {
        this.consecutiveFailures = 0;
        this.lastCompletedCheckpointId = Math.max(this.lastCompletedCheckpointId, p.id);
        for (const older of [...this.inProgress.values()])
          if (older.pending.kind === 'checkpoint' && older.pending.id < p.id)
            this.abort(older.pending, 'subsumed', `checkpoint ${p.id} completed first`);
        for (const gone of this.retainedCheckpoints.add(completed)) this.o.discard(gone);
      }
      this.o.notifyComplete(p.id, completed);
      r.waiter?.resolve(completed);
    } finally {
      this.settling--;
    }
    this.maybeTriggerPeriodic();
  }

  // --- aborting -------------------------------------------------------------------------------

  private abortExpired(p: PendingCheckpoint): void {
    const missing = p.missing;
    const detail = p.isFinalizing
      ? `not complete after ${this.settings.timeoutMs} ms: every task acknowledged, but writing _metadata did not finish`
      : `not complete after ${this.settings.timeoutMs} ms; ${missing.length} of ${p.numTasks} tasks did not acknowledge (missing: ${listSome(missing)})`;
    this.abort(p, 'expired', detail);
  }

  private abort(p: PendingCheckpoint, reason: AbortReason, detail: string, cause?: unknown): void {
    if (!this.isCurrent(p)) return;
    const r = this.end(p);
    this.stats.onFailed(p.id, { reason, detail }, this.clock.now());
    this.o.notifyAborted(p.id, reason);
    this.o.discard(p);
    r.waiter?.reject(new CheckpointAbortedError(p.id, p.kind, reason, detail, { cause }));
    this.countFailure(p, reason, detail, cause);
    if (p.id === this.stopSavepointId && this.lifecycle === 'running' && !this.jobFailed) {
      this.stopSavepointId = undefined;
      this.periodicEnabled = true;
      this.armPeriodic(effectiveIntervalMs(this.settings));
    }
    this.maybeTriggerPeriodic();
  }

  /** Flink's CheckpointFailureManager: consecutive real failures of checkpoints newer than the last completed one. */
  private countFailure(p: PendingCheckpoint, reason: AbortReason, detail: string, cause: unknown): void {
    if (p.kind !== 'checkpoint' || !countsAsFailure(reason)) return;
    const last = { checkpointId: p.id, reason, detail };
    if (p.final) {
      this.failJob(
        new CheckpointFailureError(
          `the final checkpoint ${p.id} failed (${reason}: ${detail}); the sinks could not commit the job's last data`,
          this.consecutiveFailures + 1,
          last,
          { cause },
        ),
      );
      return;
    }
    if (p.id < this.lastCompletedCheckpointId) return;
    this.consecutiveFailures++;
    const tolerated = this.settings.tolerableFailures;
    if (this.consecutiveFailures <= tolerated) return;
    this.failJob(
      new CheckpointFailureError(
        `${this.consecutiveFailures} consecutive checkpoint failure(s), more than the ${tolerated} tolerated; ` +
          `the last: checkpoint ${p.id} ${reason}: ${detail}`,
        this.consecutiveFailures,
        last,
        { cause },
      ),
    );
  }

  private failJob(e: CheckpointFailureError): void {
    if (this.jobFailed) return;
    this.jobFailed = true;
    // The job is failing over: no more periodic checkpoints; `stop` aborts what is in progress.
    this.disablePeriodic();
    this.o.failJob(e);
  }

  // --- bookkeeping ----------------------------------------------------------------------------

  private isCurrent(p: PendingCheckpoint): boolean {
    return this.inProgress.get(p.id)?.pending === p;
  }

  private end(p: PendingCheckpoint): InProgress {
    const r = this.inProgress.get(p.id)!;
    this.inProgress.delete(p.id);
    this.clock.clearTimeout(r.timeout);
    return r;
  }

  private wasTriggered(id: number): boolean {
    return this.firstTriggeredId !== undefined && id >= this.firstTriggeredId && id < this.nextId;
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function listSome(items: readonly string[], max = 5): string {
  return items.length <= max
    ? items.join(', ')
    : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;
}
