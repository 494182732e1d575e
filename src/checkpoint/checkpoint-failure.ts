// Why a checkpoint did not complete, as data: one named reason per way it can end early, and
// whether that reason counts toward the job's tolerable consecutive failures (Flink's
// CheckpointFailureManager counts only real failures, never a checkpoint made pointless).

export type AbortReason = 'expired' | 'declined' | 'subsumed' | 'job-stopping' | 'finalize-failed';

interface AbortReasonInfo {
  /** Counts toward `tolerableFailures` (for checkpoints; savepoints never count). */
  readonly countsAsFailure: boolean;
  /** One line, for messages and the REST API. */
  readonly description: string;
}

export const ABORT_REASONS: Readonly<Record<AbortReason, AbortReasonInfo>> = {
  expired: { countsAsFailure: true, description: 'not complete before the checkpoint timeout' },
  declined: { countsAsFailure: true, description: 'a task could not take its snapshot' },
  'finalize-failed': { countsAsFailure: true, description: 'writing _metadata failed' },
  subsumed: { countsAsFailure: false, description: 'a newer checkpoint completed first' },
  'job-stopping': { countsAsFailure: false, description: 'the job is stopping' },
};

/** Reasons that count toward the tolerable consecutive failures (the others are not failures). */
export function countsAsFailure(reason: AbortReason): boolean {
  return ABORT_REASONS[reason].countsAsFailure;
}

/** How one checkpoint ended early: the reason and what happened, in words. */
export interface CheckpointFailure {
  readonly reason: AbortReason;
  readonly detail: string;
}

/** A snapshot (savepoint, final checkpoint) the caller waited for was aborted. */
export class CheckpointAbortedError extends Error {
  override readonly name = 'CheckpointAbortedError';
  constructor(
    readonly checkpointId: number,
    readonly kind: 'checkpoint' | 'savepoint',
    readonly reason: AbortReason,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${kind} ${checkpointId} aborted (${reason}): ${detail}`, options);
  }
}

/** More consecutive checkpoint failures than the job tolerates: the job fails over. */
export class CheckpointFailureError extends Error {
  override readonly name = 'CheckpointFailureError';
  constructor(
    message: string,
    /** Consecutive failed checkpoints, the last one included. */
    readonly consecutiveFailures: number,
    /** How the last one failed. */
    readonly lastFailure: CheckpointFailure & { readonly checkpointId: number },
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A savepoint was requested while another one is still being taken. */
export class SavepointInProgressError extends Error {
  override readonly name = 'SavepointInProgressError';
  constructor(readonly pendingSavepointId: number) {
    super(
      `a savepoint is already in progress (id ${pendingSavepointId}); wait for it to finish and try again`,
    );
  }
}

/** A snapshot was requested after the coordinator stopped (the job is stopping or has failed). */
export class CoordinatorStoppedError extends Error {
  override readonly name = 'CoordinatorStoppedError';
  constructor(what: 'savepoint' | 'checkpoint') {
    super(`cannot take a ${what}: the job is stopping`);
  }
}
