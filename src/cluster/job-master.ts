// Runs one job to its end: deploys its tasks, drives checkpoints through the coordinator, and on
// a failure cancels every task and starts a new attempt from the newest completed checkpoint,
// as the restart strategy allows (ARCHITECTURE.md §4, §6).
import { randomUUID } from 'node:crypto';
import type { CheckpointSettings } from '../api/checkpoint-config.js';
import {
  CheckpointCoordinator,
  CheckpointStatsTracker,
  type FinalizedCheckpoint,
} from '../checkpoint/checkpoint-coordinator.js';
import type { CompletedCheckpoint } from '../checkpoint/completed-checkpoint.js';
import type { PendingCheckpoint } from '../checkpoint/pending-checkpoint.js';
import { SystemClock, type Clock } from '../checkpoint/clock.js';
import { loadSnapshot, type RestoredJobState } from '../checkpoint/snapshot-loader.js';
import type { RestoredStateError } from '../checkpoint/state-serialization.js';
import { writeTaskSnapshot, type OperatorSubtaskHandles } from '../checkpoint/task-snapshot-writer.js';
import type { JobGraph } from '../graph/job-graph.js';
import type { CheckpointBarrier } from '../runtime/record-batch.js';
import { SourceOperator } from '../runtime/operators/source-operator.js';
import type { OperatorSnapshotParts } from '../runtime/stream-operator.js';
import {
  TaskCancelledError,
  type StreamTask,
  type TaskCheckpointGateway,
  type TaskRecordCounts,
} from '../runtime/stream-task.js';
import { KeyGroupRange } from '../state/key-group.js';
import { CommitRecordError, encodeJobCommit } from '../checkpoint/job-commit-record.js';
import {
  JOB_COMMITTED_FILE,
  type CheckpointStorage,
  type SnapshotLocation,
} from '../storage/checkpoint-storage.js';
import { encodeMetadata, METADATA_VERSION, type SnapshotMetadata } from '../storage/metadata.js';
import { JobCancelledError, JobFailedError } from './job-failed-error.js';
import type { CheckpointStatsView, JobStatusProvider, JobStatusView } from './job-status.js';
import { LocalExecutor, type ExecutionOptions, type JobExecutionResult } from './local-executor.js';
import type { RestartStrategy } from './restart-strategy.js';
import {
  JobControlError,
  SavepointRequests,
  StopFailedError,
  type SavepointRequestKind,
  type SavepointRequestView,
} from './savepoint-request.js';
import { weirVersion } from '../version.js';

export interface JobMasterOptions {
  readonly jobId?: string;
  readonly checkpointing: CheckpointSettings;
  /** Where checkpoints go; required when checkpointing is enabled. */
  readonly storage: CheckpointStorage | undefined;
  /** Writes savepoints (into any target folder); without it the job cannot take savepoints. */
  readonly savepointStorage?: CheckpointStorage | undefined;
  /** Where a savepoint goes when the request names no folder ($WEIR_HOME/savepoints for the CLI). */
  readonly defaultSavepointDir?: string | undefined;
  readonly restartStrategy: RestartStrategy;
  /** State to start from (a savepoint or a checkpoint), already loaded and verified. */
  readonly restore?: RestoredJobState | undefined;
  /**
   * The checkpoint restored from, when this job owns it (resumed, or claimed): restarts go back
   * to it and retention deletes it once newer checkpoints replace it.
   */
  readonly claimed?: CompletedCheckpoint | undefined;
  /**
   * Older completed checkpoints of a resumed job (its earlier run's retained ones): this job
   * owns them too, so retention deletes them as newer checkpoints complete. Only with `claimed`.
   */
  readonly retained?: readonly CompletedCheckpoint[] | undefined;
  /** The first checkpoint id to use; ids continue after those already in the job's folder. */
  readonly firstCheckpointId?: number;
  /** Whether the run was started with allowNonRestoredState (restarts restore the same way). */
  readonly allowNonRestoredState?: boolean;
  /** The snapshot the run was first started from (`-s`, not claimed): kept in `_committed`. */
  readonly origin?: string | undefined;
  readonly execution: ExecutionOptions;
  readonly clock?: Clock;
  /** Warnings and restart notices, one line each (stderr for the CLI). */
  readonly log?: (line: string) => void;
}

interface TaskAckReport {
  readonly handles: OperatorSubtaskHandles[];
}

/** What the running attempt can do for a savepoint request; gone while the job restarts. */
interface AttemptControl {
  /** Throws JobControlError when the request cannot be taken now; the promise settles with the savepoint. */
  savepoint(location: SnapshotLocation, kind: SavepointRequestKind): Promise<CompletedCheckpoint>;
}

export class JobMaster implements JobStatusProvider {
  readonly jobId: string;
  private readonly clock: Clock;
  private readonly log: (line: string) => void;
  private readonly startTime = Date.now();
  private state: JobStatusView['state'] = 'running';
  private restarts = 0;
  private tasks: StreamTask[] = [];
  private coordinator: CheckpointCoordinator | undefined;
  /** The newest completed checkpoint, the one a restart goes back to. */
  private latest: { restore: RestoredJobState | undefined; completed: CompletedCheckpoint | undefined };
  private readonly discards = new Set<Promise<void>>();
  /** `_committed` is durable for this process (see recordCommit); its write while in flight. */
  private commitRecorded = false;
  private commitRecord: Promise<void> | undefined;
  /** Settles the running attempt's outcome (see settle). */
  private settleAttempt: ((outcome: AttemptOutcome) => void) | undefined;
  /**
   * The savepoint of a stop whose sinks were told to commit it, when the job failed after that
   * (see runAttempts): where the job continues from.
   */
  failedCommitting: string | undefined;
  /** `_committed` writes, one after another (see recordCommit). */
  private recordWrites: Promise<unknown> = Promise.resolve();
  /** The stop whose savepoint `_committed` names, or may name (the stop may yet fail over). */
  private stopRecorded: number | undefined;
  /** Checkpoints and savepoints completed over all attempts. */
  completedCheckpoints = 0;
  /**
   * Checkpoint statistics over all attempts: the REST API's history and counts, and the totals
   * of the line a finished run closes with.
   */
  readonly checkpointStats = new CheckpointStatsTracker();
  private nextCheckpointId: number;
  private cancelRequested = false;
  /** Ends the wait before a restart (while the job is 'restarting'). */
  private endRestartWait: (() => void) | undefined;
  /** Per vertex, what the tasks of attempts that ended counted (the status adds the running ones'). */
  private readonly finishedCounts: TaskRecordCounts[];
  /**
   * Checkpoints whose restored state turned out not to decode (RestoredStateError), by id, with
   * why: restarts skip them as a restore skips a damaged checkpoint.
   */
  private readonly unusable = new Map<number, string>();
  /** Ids of the checkpoints restarts went back to, in order (for tests and the REST API). */
  readonly restoredCheckpointIds: number[] = [];
  private readonly savepoints = new SavepointRequests();
  private control: AttemptControl | undefined;
  /**
   * Between an attempt's tasks ending and what follows being decided: why they ended, for a
   * request made then.
   */
  private attemptEnding: string | undefined;
  /** The savepoint a stop (with or without --drain) ended the job with. */
  stoppedWith: CompletedCheckpoint | undefined;
  /** weir's version for `_metadata`, read once (not from package.json per checkpoint). */
  private version: string | undefined;

  constructor(
    private readonly graph: JobGraph,
    private readonly options: JobMasterOptions,
  ) {
    this.jobId = options.jobId ?? randomUUID();
    this.clock = options.clock ?? new SystemClock();
    this.log = options.log ?? (() => undefined);
    this.latest = { restore: options.restore, completed: options.claimed };
    this.nextCheckpointId = options.firstCheckpointId ?? 1;
    this.finishedCounts = graph.vertices.map(() => ({ read: 0, received: 0, sent: 0, written: 0 }));
    if (options.checkpointing.intervalMs > 0 && options.storage === undefined)
      throw new Error('internal: checkpointing is enabled without checkpoint storage');
  }

  /** Runs attempts until the job finishes, fails for good, or is cancelled. */
  async run(): Promise<JobExecutionResult> {
    try {
      return await this.runAttempts();
    } catch (e) {
      this.settle({ failure: e, next: this.cancelRequested ? 'the job was cancelled' : 'the job failed' });
      // Failed or cancelled for good after a stop named its savepoint in `_committed`, but before
      // its sinks were told to commit it: it did not stop there, and `--resume` must not say so.
      // (Once they were, the record keeps naming it: see runAttempts.)
      const storage = this.options.checkpointing.intervalMs > 0 ? this.options.storage : undefined;
      if (this.stopRecorded !== undefined && this.failedCommitting === undefined && storage !== undefined) {
        const newest = this.latest.completed?.id ?? this.stopRecorded;
        await this.recordCommit(storage, newest, undefined, true).catch((w: unknown) =>
          this.log(`weir: ${errorMessage(w)}`),
        );
      }
      throw e;
    }
  }

  /** What became of the job after an attempt ended, for the stop that waits on it. */
  private settle(outcome: AttemptOutcome): void {
    this.settleAttempt?.(outcome);
    this.settleAttempt = undefined;
  }

  private async runAttempts(): Promise<JobExecutionResult> {
    const started = performance.now();
    for (;;) {
      const failure = await this.runAttempt();
      if (failure !== undefined && this.stoppedWith !== undefined) {
        // The stop's sinks were told to commit its savepoint, and a task failed. Restarting from
        // an older checkpoint would commit that output again: the job fails, and continues from
        // the savepoint when the user says so (as Flink does, FLINK-26783).
        const at = this.stoppedWith.location?.uri ?? `savepoint ${this.stoppedWith.id}`;
        this.stoppedWith = undefined;
        this.failedCommitting = at;
        this.state = 'failed';
        const next = `the job failed rather than restart from a checkpoint older than what its sinks began to commit; continue it from the savepoint with -s ${at}`;
        this.settle({ failure, next });
        throw new JobFailedError(
          this.graph.jobName,
          new StopFailedError(
            `a task failed while the sinks committed savepoint ${at}: ${errorMessage(failure)}`,
            next,
            { cause: failure },
          ),
        );
      }
      if (this.cancelRequested && this.stoppedWith === undefined) {
        this.state = 'cancelled';
        this.settle({ failure, next: 'the job was cancelled' });
        throw new JobCancelledError(this.graph.jobName);
      }
      if (failure === undefined) {
        this.state = 'finished';
        this.settle({ failure, next: 'the job finished' });
        return {
          jobId: this.jobId,
          jobName: this.graph.jobName,
          durationMs: performance.now() - started,
          ...(this.stoppedWith !== undefined ? { savepointPath: this.stoppedWith.location?.uri } : {}),
        };
      }
      // Restored state the job cannot read fails the same way on every restart: stop now, unless
      // an older checkpoint can be restored instead.
      const unreadable =
        causeNamed(failure, 'StateMigrationError') ?? this.undecodable(failure) ?? this.outputLost(failure);
      if (unreadable !== undefined) {
        this.state = 'failed';
        this.settle({ failure, next: 'the job failed' });
        throw unreadable;
      }
      const decision = this.options.restartStrategy.onFailure(this.clock.now());
      if (!decision.restart) {
        this.state = 'failed';
        this.settle({ failure, next: 'the job failed (its restart strategy allows no more restarts)' });
        throw new JobFailedError(this.graph.jobName, failure, decision.reason);
      }
      this.restarts++;
      const newest = this.latest.completed;
      const from =
        newest !== undefined
          ? `checkpoint ${this.unusable.has(newest.id) ? this.olderRetained(newest.id)[0]!.id : newest.id}`
          : this.latest.restore !== undefined
            ? 'the restored snapshot'
            : 'the beginning';
      const restart = `restart ${this.restarts} in ${decision.delayMs} ms from ${from}`;
      this.settle({ failure, next: `the job fails over: ${restart}` });
      this.state = 'restarting';
      this.log(
        `job '${this.graph.jobName}' failed (${failure instanceof Error ? failure.message : String(failure)}); ${restart}`,
      );
      // A cancel ends the wait: the back-off can be minutes.
      await new Promise<void>((r) => {
        if (this.cancelRequested) return r(); // cancelled before the wait began (from the log line)
        const timer = this.clock.setTimeout(() => {
          this.endRestartWait = undefined;
          r();
        }, decision.delayMs);
        this.endRestartWait = () => {
          this.clock.clearTimeout(timer);
          this.endRestartWait = undefined;
          r();
        };
      });
      if (this.cancelRequested) this.endCancelled();
      if (this.latest.completed === undefined && this.latest.restore !== undefined) {
        // The failed attempt changed the state it restored: the next one reads the snapshot again.
        try {
          this.latest.restore = await this.latest.restore.reload();
        } catch (e) {
          this.state = 'failed';
          throw e;
        }
      }
      if (this.latest.completed !== undefined) {
        try {
          await this.reloadLatest();
        } catch (e) {
          this.state = 'failed';
          throw e;
        }
        this.restoredCheckpointIds.push(this.latest.completed.id);
      }
      if (this.cancelRequested) this.endCancelled(); // while the snapshot was read again
      this.state = 'running';
    }
  }

  /** Between attempts: a cancel ends the job here, before the next one starts. */
  private endCancelled(): never {
    this.state = 'cancelled';
    throw new JobCancelledError(this.graph.jobName);
  }

  /** Stops every task; the job ends as cancelled. */
  cancel(): void {
    this.cancelRequested = true;
    for (const t of this.tasks) t.cancel();
    this.endRestartWait?.();
  }

  /**
   * Takes a savepoint while the job keeps running (sinks do not commit for it, as in Flink ≥ 1.15).
   * Answers at once; poll `savepointRequest(requestId)`. Throws JobControlError when the job
   * cannot take one now (restarting, finishing, stopping, another savepoint in progress).
   */
  triggerSavepoint(targetDir?: string): SavepointRequestView {
    return this.request('savepoint', targetDir);
  }

  /**
   * Stop with a savepoint. Without `drain`, sources stop right after the savepoint's barrier,
   * the savepoint holds all state (buffers, pending timers), sinks commit, and the tasks end
   * without finishing their operators; if the savepoint fails the job keeps running. With
   * `drain`, sources end their input first, every operator finishes (flushes what it buffers),
   * then the final savepoint is taken and committed; if that fails the job fails over to its
   * newest checkpoint, since finished operators cannot go back to running.
   */
  stop(options: { targetDir?: string; drain?: boolean } = {}): SavepointRequestView {
    return this.request(options.drain === true ? 'stop-drain' : 'stop', options.targetDir);
  }

  savepointRequest(requestId: string): SavepointRequestView | undefined {
    return this.savepoints.get(requestId);
  }

  /** Waits (at most `timeoutMs`) until every savepoint request's outcome was read by its requester. */
  async savepointOutcomesRead(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!this.savepoints.allRead && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  private request(kind: SavepointRequestKind, targetDir: string | undefined): SavepointRequestView {
    const storage = this.options.savepointStorage;
    const dir = targetDir ?? this.options.defaultSavepointDir;
    if (storage === undefined || dir === undefined)
      throw new JobControlError(`job '${this.graph.jobName}' was started without savepoint storage`);
    const control = this.control;
    if (control === undefined || this.state !== 'running') {
      if (this.state === 'running' && this.attemptEnding !== undefined)
        throw new JobControlError(`job '${this.graph.jobName}' ${this.attemptEnding}`);
      const now = this.state === 'running' ? 'starting' : this.state;
      const hint = now === 'starting' || now === 'restarting' ? 'try again once it runs' : 'nothing to do';
      throw new JobControlError(`job '${this.graph.jobName}' is ${now}, not running; ${hint}`);
    }
    const location = storage.savepointLocation(dir, this.jobId);
    const promise = control.savepoint(location, kind); // throws JobControlError: no request made
    const view = this.savepoints.start(kind, Date.now());
    if (kind !== 'stop-drain') view.checkpointId = this.coordinator?.lastTriggeredId ?? null;
    promise.then(
      (c) => this.savepoints.complete(view, c.id, c.location?.uri ?? location.uri, Date.now()),
      (e: unknown) => {
        const why = errorMessage(e);
        const after =
          e instanceof StopFailedError
            ? e.next
            : kind === 'stop-drain'
              ? this.cancelRequested
                ? 'the job was cancelled'
                : 'the job fails over to its newest checkpoint'
              : 'the job keeps running';
        this.savepoints.fail(view, `${why}; ${after}`, Date.now());
        this.log(
          `weir: ${kind === 'savepoint' ? 'savepoint' : 'stop-with-savepoint'} failed: ${why}; ${after}`,
        );
      },
    );
    return { ...view };
  }

  /**
   * Re-reads the newest completed checkpoint from storage (verifying every file). When it is
   * damaged, names the problem and falls back to the next older retained one, as `--resume`
   * does; with none left the job fails for good.
   */
  private async reloadLatest(): Promise<void> {
    const newest = this.latest.completed!;
    const storage = this.options.storage!;
    const candidates = [newest, ...this.olderRetained(newest.id)];
    const known = this.unusable.get(newest.id);
    if (known !== undefined) {
      candidates.shift();
      this.log(
        `weir: checkpoint ${newest.id} of job '${this.graph.jobName}' is unusable: ${known}` +
          (candidates.length > 0 ? `; falling back to checkpoint ${candidates[0]!.id}` : ''),
      );
      if (candidates.length === 0)
        throw new JobFailedError(
          this.graph.jobName,
          new Error(`no usable checkpoint to restart from: checkpoint ${newest.id} is unusable (${known})`),
        );
    }
    for (const [i, c] of candidates.entries()) {
      try {
        this.latest.restore = await loadSnapshot(storage, c.location!, c.metadata!, this.graph, {
          // A resumed or claimed checkpoint may hold operators the user chose to drop.
          allowNonRestoredState: this.options.allowNonRestoredState === true,
        });
        this.latest.completed = c;
        return;
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        const next = candidates[i + 1];
        this.log(
          `weir: checkpoint ${c.id} of job '${this.graph.jobName}' is unusable: ${why}` +
            (next !== undefined ? `; falling back to checkpoint ${next.id}` : ''),
        );
        if (next === undefined)
          throw new JobFailedError(
            this.graph.jobName,
            new Error(
              `no usable checkpoint to restart from: ${candidates.map((x) => x.id).join(', ')} failed verification (${why})`,
            ),
          );
      }
    }
  }

  /**
   * For a failure caused by restored state that does not decode (RestoredStateError; the
   * restore's own checks should have refused it: see encodedKeyGroup): when that state is the
   * newest checkpoint's and an older retained one is left, marks the newest unusable so that the
   * restart falls back, as a restore that found it damaged would; otherwise the error to fail the
   * job with for good (restarting would fail the same way).
   */
  private undecodable(failure: unknown): Error | undefined {
    const damaged = causeNamed(failure, 'RestoredStateError') as RestoredStateError | undefined;
    if (damaged === undefined) return undefined;
    const c = this.latest.completed;
    if (c === undefined || c.location?.uri !== damaged.snapshot) return damaged;
    return this.fallBackFrom(c, damaged.detail, damaged);
  }

  /**
   * For a failure because a sink cannot complete output the restored checkpoint left pending
   * (PendingFileLostError: a part file removed from the output directory): restarting from that
   * checkpoint would fail the same way, but an older retained one removes the newer output and
   * writes it again. Marks the restored checkpoint unusable so that the restart falls back; with
   * none older (or when the job restored a snapshot it was given), the error to fail with for good.
   */
  private outputLost(failure: unknown): Error | undefined {
    const lost = causeNamed(failure, 'PendingFileLostError');
    if (lost === undefined) return undefined;
    // Sinks restore before any checkpoint of the attempt can complete: the one they restored is
    // the newest completed, or, when none completed, the snapshot the job was started from.
    const c = this.latest.completed;
    if (c === undefined) return lost;
    return this.fallBackFrom(c, lost.message, lost);
  }

  /**
   * Marks restored checkpoint `c` unusable (`why`), so that the restart falls back to the next
   * older retained one; `error`, to fail the job with for good, when none is left.
   */
  private fallBackFrom(c: CompletedCheckpoint, why: string, error: Error): Error | undefined {
    this.unusable.set(c.id, why);
    return this.olderRetained(c.id).length > 0 ? undefined : error;
  }

  /** The retained checkpoints older than `id` not known to be unusable, newest first. */
  private olderRetained(id: number): CompletedCheckpoint[] {
    return (this.coordinator?.retained() ?? this.options.retained ?? [])
      .filter((c) => c.id < id && !this.unusable.has(c.id))
      .sort((a, b) => b.id - a.id);
  }

  /** One deployment of the graph; resolves with the failure that ended it, or undefined when it finished. */
  private async runAttempt(): Promise<unknown> {
    this.attemptEnding = undefined;
    const settings = this.options.checkpointing;
    const storage = settings.intervalMs > 0 ? this.options.storage : undefined;
    const from = this.latest.completed;
    const restoresOwn = from?.metadata?.jobId === this.jobId;
    if (storage !== undefined && ((restoresOwn && !this.commitRecorded) || this.stopRecorded !== undefined)) {
      // Restoring commits what the checkpoint left pending in the sinks. After a stop that
      // failed once its record named the savepoint, the job runs on: the record names none.
      try {
        // Without an own checkpoint to restore, only a stop's record brings it here.
        const checkpoint = restoresOwn ? from!.id : this.stopRecorded!;
        await this.recordCommit(storage, checkpoint, undefined, this.stopRecorded !== undefined);
      } catch (e) {
        return e;
      }
    }
    const executor = new LocalExecutor(this.options.execution);
    const restore = this.latest.restore;
    let failure: unknown;
    let tasks: StreamTask[] = [];
    const fail = (e: unknown): void => {
      if (failure !== undefined) return;
      // Something threw `undefined`: still a failure, or the attempt would look finished.
      failure = e ?? new Error('a task failed without a reason (something threw undefined)');
      for (const t of tasks) t.cancel();
    };
    const sourceTasks = (): StreamTask[] => tasks.filter((t) => t.head instanceof SourceOperator);
    const ranges = new Map<StreamTask, Array<KeyGroupRange | undefined>>();

    let finalId: number | undefined;
    /** Where each snapshot of this attempt is written (checkpoints: the job's folder; savepoints: the user's). */
    const locations = new Map<number, SnapshotLocation>();
    /** The savepoint the next `trigger` call is for (set just before asking the coordinator). */
    let planned: { location: SnapshotLocation; suspend: boolean } | undefined;
    /** A stop-with-savepoint (no drain) in flight or completed. */
    let stopId: number | undefined;
    /** A stop with --drain: where its final savepoint goes, and who waits for it. */
    let drain:
      | { location: SnapshotLocation; resolve(c: CompletedCheckpoint): void; reject(e: unknown): void }
      | undefined;
    const savepointStorage = this.options.savepointStorage;
    /** Completions told to the tasks after `_committed` is written (see notifyComplete). */
    let queued: Promise<void> | undefined;
    /** Per stopping snapshot, when its tasks were told (rejected: its record could not be written). */
    const told = new Map<number, Promise<void>>();
    /** Settled by run() with what became of the job once this attempt ended. */
    const attemptEnd = new Promise<AttemptOutcome>((r) => (this.settleAttempt = r));
    /** The attempt's tasks have all ended: a late completion tells nothing to anyone. */
    let over = false;
    // A stop is done when the job ended there: its record written, its tasks told, and the
    // attempt ended without a failure or a cancel before that.
    const afterTold = async (c: CompletedCheckpoint): Promise<CompletedCheckpoint> => {
      const toldTasks = told.get(c.id);
      if (toldTasks === undefined) return c;
      const recordFailure = await toldTasks.then(
        () => undefined,
        (e: unknown) => e,
      );
      const outcome = await attemptEnd;
      if (recordFailure === undefined && outcome.failure === undefined && this.stoppedWith === c) return c;
      const at = c.location?.uri ?? `savepoint ${c.id}`;
      const why =
        recordFailure !== undefined
          ? errorMessage(recordFailure)
          : outcome.failure !== undefined
            ? `savepoint ${at} was written, but a task failed while the job stopped: ${errorMessage(outcome.failure)}`
            : `savepoint ${at} was written, but the job was cancelled before it stopped there`;
      throw new StopFailedError(why, outcome.next, { cause: recordFailure ?? outcome.failure });
    };
    /** The asynchronous snapshot parts and finalizes still running, per checkpoint id. */
    const inFlight = new Map<number, Set<Promise<unknown>>>();
    const track = (id: number, work: Promise<unknown>): void => {
      let set = inFlight.get(id);
      if (set === undefined) inFlight.set(id, (set = new Set()));
      set.add(work);
      const forget = (): void => {
        set.delete(work);
        if (set.size === 0) inFlight.delete(id);
      };
      work.then(forget, forget);
    };
    const coordinator = new CheckpointCoordinator({
      settings,
      tasks: [], // filled below, once the tasks exist
      clock: this.clock,
      firstCheckpointId: this.nextCheckpointId,
      stats: this.checkpointStats,
      trigger: (id, timestamp, kind) => {
        this.nextCheckpointId = Math.max(this.nextCheckpointId, id + 1);
        const barrier: CheckpointBarrier = { kind: 'barrier', id, timestamp, type: kind };
        let suspend = false;
        if (kind === 'savepoint') {
          if (planned === undefined) throw new Error(`internal: savepoint ${id} triggered without a target`);
          locations.set(id, planned.location);
          suspend = planned.suspend;
          if (suspend) stopId = id;
          planned = undefined;
        } else if (storage !== undefined) {
          locations.set(id, storage.checkpointLocation(this.jobId, id));
        }
        for (const t of sourceTasks()) t.enqueueMail(() => t.triggerCheckpoint(barrier, { suspend }));
      },
      finalize: (pending) => {
        // An abort can overtake a finalize (the job stopping): its discard must wait for the
        // `_metadata` being written, or it would leave a folder that looks complete.
        const finalizing = this.finalize(
          pending,
          pending.kind === 'savepoint' ? savepointStorage : storage,
          locations.get(pending.id),
        );
        track(pending.id, finalizing);
        return finalizing;
      },
      notifyComplete: (id, completed) => {
        if (completed.kind === 'checkpoint' && completed.location !== undefined)
          this.latest.completed = completed;
        this.completedCheckpoints++;
        const stopping = id === stopId || id === finalId;
        // A savepoint taken while the job runs commits nothing (Flink ≥ 1.15): what the sinks
        // pre-committed for it is committed by the next checkpoint.
        const commits = completed.kind === 'checkpoint' || stopping;
        const tell = (): void => {
          // Nothing is told once the attempt is failing or cancelled: no sink commits for it then.
          if (over || failure !== undefined || this.cancelRequested) return;
          if (commits) for (const t of tasks) t.notifyCheckpointComplete(id);
          if (stopping && completed.kind === 'savepoint') this.stoppedWith = completed;
          if (id === finalId) for (const t of tasks) t.release();
          if (id === stopId) for (const t of tasks) t.stop();
        };
        // Nothing is committed before `_committed` is durable; a stop names its savepoint there
        // first. Once a completion waited for the record, later ones queue behind it (the tasks
        // hear of them in order); a failed write tells none.
        const savepoint = stopping && completed.kind === 'savepoint' ? completed.location?.uri : undefined;
        if (
          !commits ||
          storage === undefined ||
          (this.commitRecorded && queued === undefined && !savepoint)
        ) {
          tell();
          if (stopping) told.set(id, Promise.resolve());
          return;
        }
        const before = queued ?? Promise.resolve();
        queued = before.then(() => this.recordCommit(storage, id, savepoint)).then(tell);
        queued.catch(fail);
        // The stop's requester hears of it once the tasks did (or the record failed).
        if (stopping) told.set(id, queued);
      },
      notifyAborted: (id) => {
        if (id === stopId) stopId = undefined;
        for (const t of tasks) t.notifyCheckpointAborted(id);
      },
      discard: (c) => {
        const owner = c.kind === 'savepoint' ? savepointStorage : storage;
        const loc = c.location ?? locations.get(c.id);
        if (owner === undefined || loc === undefined) return;
        // Tasks may still be writing into an aborted checkpoint's folder: remove it after them.
        const writers = [...(inFlight.get(c.id) ?? [])];
        const done = Promise.allSettled(writers)
          .then(() => owner.discard(loc))
          .then(() => this.checkpointStats.onDiscarded(c.id))
          .catch((e: unknown) => this.log(`weir: could not remove ${loc.uri}: ${String(e)}`))
          .finally(() => this.discards.delete(done));
        this.discards.add(done);
      },
      failJob: (cause) => fail(cause),
    });
    // Retention carries over from the previous attempt (or, at the start, from the resumed job's
    // earlier run): the checkpoints kept before stay this job's to delete once newer ones
    // replace them. Only those older than the one restarted from: a newer one failed verification
    // and stays where it is, named in the log, until the job's checkpoints are removed.
    const carried = this.coordinator?.retained() ?? this.options.retained ?? [];
    this.coordinator = coordinator;
    if (from !== undefined) {
      for (const c of carried) if (c.id < from.id) coordinator.restoredFrom(c);
      coordinator.restoredFrom(from);
    }

    const gateway: TaskCheckpointGateway = {
      persistState: storage !== undefined,
      aligned: settings.mode === 'exactly-once',
      snapshotTaken: (task, barrier, parts: OperatorSnapshotParts[], timing) => {
        const location = locations.get(barrier.id);
        const started = performance.now();
        const writing = writeTaskSnapshot(
          barrier.type === 'savepoint' ? savepointStorage : storage,
          location,
          task.setup.subtaskIndex,
          ranges.get(task) ?? [],
          parts,
        );
        const scheduler = task.setup.scheduler;
        scheduler.beginIo();
        track(barrier.id, writing);
        writing.then(
          () => scheduler.endIo(),
          () => scheduler.endIo(),
        );
        writing.then(
          (handles) => {
            const bytes = handles.reduce((n, h) => n + h.bytes, 0);
            coordinator.acknowledge(barrier.id, task.setup.taskId, {
              stateHandles: { handles } satisfies TaskAckReport,
              stats: {
                syncMs: timing.syncMs,
                asyncMs: performance.now() - started,
                alignmentMs: timing.alignmentMs,
                bytes,
              },
            });
          },
          (e: unknown) => coordinator.decline(barrier.id, task.setup.taskId, e),
        );
      },
      taskFinished: () => {
        // Every source has ended: one last checkpoint commits what the sinks hold.
        if (finalId === undefined && sourceTasks().every((t) => t.isFinished)) {
          finalId = -1;
          if (drain !== undefined) {
            const d = drain;
            planned = { location: d.location, suspend: false };
            coordinator
              .triggerFinalCheckpoint('savepoint')
              .then(afterTold)
              .then(d.resolve, (e: unknown) => {
                fail(e);
                // A drained job cannot run on: its request says what became of it instead.
                if (e instanceof StopFailedError) d.reject(e);
                else
                  void attemptEnd.then((o) =>
                    d.reject(new StopFailedError(errorMessage(e), o.next, { cause: e })),
                  );
              });
            planned = undefined;
          } else {
            coordinator.triggerFinalCheckpoint().catch((e: unknown) => fail(e));
          }
          finalId = coordinator.lastTriggeredId;
        }
      },
    };

    tasks = executor.deploy(this.graph, {
      jobId: this.jobId,
      restoredState: restore === undefined ? undefined : (v, i) => restore.stateFor(v, i),
      checkpoints: gateway,
    });
    this.tasks = tasks;
    if (this.cancelRequested) for (const t of tasks) t.cancel();
    for (const t of tasks) {
      ranges.set(
        t,
        t.setup.operators.map((op) => (op.keyedBackend !== undefined ? op.keyedBackend.range : undefined)),
      );
    }
    coordinator.setTasks(tasks.map((t) => t.setup.taskId));
    coordinator.start();
    this.control = {
      savepoint: (location, kind) => {
        if (failure !== undefined)
          throw new JobControlError('the job is failing over; try again once it runs');
        if (finalId !== undefined)
          throw new JobControlError(
            'the job is finishing (its sources ended); its last checkpoint commits its output',
          );
        if (drain !== undefined || stopId !== undefined)
          throw new JobControlError('the job is already stopping with a savepoint');
        const inFlight = coordinator.savepointInProgress;
        if (inFlight !== undefined)
          throw new JobControlError(
            `savepoint ${inFlight} is in progress; wait for it to finish and try again`,
          );
        if (kind === 'stop-drain') {
          const done = new Promise<CompletedCheckpoint>((resolve, reject) => {
            drain = { location, resolve, reject };
          });
          for (const t of sourceTasks()) t.endInput();
          return done;
        }
        planned = { location, suspend: kind === 'stop' };
        try {
          return coordinator.triggerSavepoint({ stopping: kind === 'stop' }).then(afterTold);
        } finally {
          planned = undefined;
        }
      },
    };
    const runs = tasks.map((t) =>
      t.run().catch((e: unknown) => {
        if (!(e instanceof TaskCancelledError)) fail(e);
      }),
    );
    await Promise.all(runs);
    // A record still being written lands now, not in the next attempt, which must see it (a
    // stop's record is rewritten before the next attempt restores).
    over = true;
    this.control = undefined;
    // In the order runAttempts decides in: a stop whose sinks were told, a cancel, a failure.
    this.attemptEnding =
      this.stoppedWith !== undefined
        ? failure !== undefined
          ? `is failing while its sinks commit its stop's savepoint (${errorMessage(failure)}); it will not restart`
          : 'is stopping: it ended at its savepoint'
        : this.cancelRequested
          ? 'is being cancelled'
          : failure !== undefined
            ? `is failing (${errorMessage(failure)}); try again if it restarts`
            : 'is finishing: its sources ended and its output is committed';
    await queued?.catch(() => undefined);
    coordinator.stop(
      failure !== undefined && !this.cancelRequested
        ? 'the attempt failed (the job fails over, or fails)'
        : undefined,
    );
    if (drain !== undefined && finalId === undefined)
      drain.reject(new Error('the job ended before its sources did'));
    // Files of aborted checkpoints are gone before the next attempt (or the process) starts.
    while (this.discards.size > 0) await Promise.all([...this.discards]);
    // Counted once: the status adds the finished attempts' totals to the running tasks'.
    for (const t of tasks) addCounts(this.finishedCounts[t.setup.vertexIndex]!, t.recordCounts());
    this.tasks = [];
    return failure;
  }

  /**
   * Writes `_committed` (job-commit-record.ts), once per process: a failed write fails the
   * attempt, and the next caller tries again. A stop-with-savepoint writes it again, naming the
   * savepoint, after any write in flight.
   */
  private recordCommit(
    storage: CheckpointStorage,
    checkpoint: number,
    savepoint?: string,
    again = savepoint !== undefined,
  ): Promise<void> {
    if (!again && this.commitRecord !== undefined) return this.commitRecord;
    const origin = this.options.origin;
    const r = {
      jobName: this.graph.jobName,
      checkpoint,
      ...(savepoint ? { savepoint } : {}),
      ...(origin !== undefined ? { origin } : {}),
    };
    // One write at a time, each after the one before settled on disk, a timed-out one too: a
    // write that lands late must not overwrite a newer record.
    const write = this.recordWrites.then(() =>
      storage.writeJobRecord(this.jobId, JOB_COMMITTED_FILE, encodeJobCommit({ ...r, at: Date.now() })),
    );
    this.recordWrites = write.catch(() => undefined);
    const written: Promise<void> = this.withinTimeout(write).then(
      () => {
        this.commitRecorded = true;
        this.stopRecorded = savepoint !== undefined ? checkpoint : undefined;
      },
      (e: unknown) => {
        if (this.commitRecord === written) this.commitRecord = undefined;
        // It may still land, or have landed: a record that may name a savepoint is rewritten
        // before the job goes on (see runAttempt).
        if (savepoint !== undefined) this.stopRecorded = checkpoint;
        throw new CommitRecordError(
          `could not record in ${storage.description} that job ${this.jobId} commits output, so nothing was committed: ${errorMessage(e)}`,
          { cause: e },
        );
      },
    );
    this.commitRecord = written;
    return written;
  }

  /** `work`, or a failure once the checkpoint timeout passed: a stuck mount must not hold every commit back for good. */
  private withinTimeout(work: Promise<void>): Promise<void> {
    const ms = this.options.checkpointing.timeoutMs;
    return new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () => reject(new Error(`it was not written within ${ms} ms (the checkpoint timeout)`)),
        ms,
      );
      work.then(
        () => {
          this.clock.clearTimeout(timer);
          resolve();
        },
        (e: unknown) => {
          this.clock.clearTimeout(timer);
          reject(e);
        },
      );
    });
  }

  /** All tasks acknowledged: write `_metadata` last, atomically; then the checkpoint is complete. */
  private async finalize(
    pending: PendingCheckpoint,
    storage: CheckpointStorage | undefined,
    location: SnapshotLocation | undefined,
  ): Promise<FinalizedCheckpoint> {
    const metadata: SnapshotMetadata = {
      format: 'weir-snapshot',
      version: METADATA_VERSION,
      weirVersion: (this.version ??= weirVersion()),
      kind: pending.kind,
      id: pending.id,
      timestamp: pending.timestamp,
      jobId: this.jobId,
      jobName: this.graph.jobName,
      operators: [],
      extra: {},
    };
    const byOperator = new Map<string, OperatorSubtaskHandles[]>();
    let size = 0;
    for (const [, ack] of pending.acknowledgements()) {
      for (const h of (ack.stateHandles as TaskAckReport).handles) {
        let l = byOperator.get(h.operatorId);
        if (l === undefined) byOperator.set(h.operatorId, (l = []));
        l.push(h);
        size += h.bytes;
      }
    }
    for (const v of this.graph.vertices) {
      for (const node of v.operators) {
        const subs = (byOperator.get(node.operatorId) ?? []).sort((a, b) => a.subtaskIndex - b.subtaskIndex);
        metadata.operators.push({
          operatorId: node.operatorId,
          uid: node.uid ?? null,
          name: node.name,
          parallelism: node.parallelism,
          maxParallelism: node.maxParallelism,
          subtasks: subs.map((s) => ({
            index: s.subtaskIndex,
            keyGroups: s.keyGroups === null ? null : [s.keyGroups[0], s.keyGroups[1]],
            keyed: s.keyed,
            operator: s.operator,
            timers: s.timers,
            sink: null,
            states: s.states,
          })),
        });
      }
    }
    if (storage === undefined || location === undefined)
      return { location: undefined, metadata: undefined, sizeBytes: size };
    await storage.writeMetadata(location, encodeMetadata(metadata));
    return { location, metadata, sizeBytes: size };
  }

  status(): JobStatusView {
    const c = this.coordinator;
    const counts = this.finishedCounts.map((f) => ({ ...f }));
    for (const t of this.tasks) addCounts(counts[t.setup.vertexIndex]!, t.recordCounts());
    let recordsIn = 0;
    let recordsOut = 0;
    for (const v of counts) {
      recordsIn += v.read;
      recordsOut += v.written;
    }
    const history = this.checkpoints();
    const last = history.find((h) => h.status === 'completed') ?? null;
    return {
      jobId: this.jobId,
      jobName: this.graph.jobName,
      state: this.state,
      startTime: this.startTime,
      durationMs: Date.now() - this.startTime,
      parallelism: Math.max(...this.graph.vertices.map((v) => v.parallelism)),
      restarts: this.restarts,
      recordsIn,
      recordsOut,
      checkpointing: {
        intervalMs: this.options.checkpointing.intervalMs,
        dir: this.options.storage?.description ?? null,
      },
      vertices: this.graph.vertices.map((v, i) => ({
        name: v.name,
        parallelism: v.parallelism,
        recordsIn: counts[i]!.read + counts[i]!.received,
        recordsOut: counts[i]!.sent + counts[i]!.written,
      })),
      lastCheckpoint: last,
      counts: c?.counts() ?? { completed: 0, failed: 0, inProgress: 0 },
    };
  }

  checkpoints(): CheckpointStatsView[] {
    return (this.coordinator?.history() ?? []).map((h) => ({
      id: h.id,
      kind: h.kind,
      status: h.status,
      triggerTime: h.triggerTime,
      durationMs: h.durationMs,
      sizeBytes: h.sizeBytes,
      failureReason: h.failureReason,
      path: h.path,
      discarded: h.discarded,
      subtasks: [...h.tasks].map(([task, st]) => ({ task, ...st })),
    }));
  }
}

function addCounts(to: TaskRecordCounts, from: TaskRecordCounts): void {
  to.read += from.read;
  to.received += from.received;
  to.sent += from.sent;
  to.written += from.written;
}

/** The first error named `name` in the cause chain of `e`. */
function causeNamed(e: unknown, name: string): Error | undefined {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 10; c = c.cause, depth++)
    if (c.name === name) return c;
  return undefined;
}

/** How an attempt ended, as a stop waiting on it learns it. */
interface AttemptOutcome {
  readonly failure: unknown;
  /** What became of the job, for a stop that failed: "the job fails over …". */
  readonly next: string;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
