// Why a checkpoint did not complete: one named reason per way it can end early.

export type AbortReason = 'expired' | 'declined' | 'subsumed' | 'job-stopping' | 'finalize-failed';

/** Reasons that count toward the tolerable consecutive failures (the others are not failures). */
export function countsAsFailure(reason: AbortReason): boolean {
  return reason === 'expired' || reason === 'declined' || reason === 'finalize-failed';
}

export class CheckpointAbortedError extends Error {
  override readonly name = 'CheckpointAbortedError';
  constructor(
    readonly checkpointId: number,
    readonly reason: AbortReason,
    detail: string,
  ) {
    super(`checkpoint ${checkpointId} aborted (${reason}): ${detail}`);
  }
}

/** More consecutive checkpoint failures than the job tolerates: the job fails over. */
export class CheckpointFailureError extends Error {
  override readonly name = 'CheckpointFailureError';
}
