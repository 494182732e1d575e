import { describeError } from '../runtime/operator-failure.js';

/**
 * The job stopped because an operator failed; `cause` says which and why, and `notRestarted`,
 * when the job's restart strategy decided it, why that allowed no more restarts.
 */
export class JobFailedError extends Error {
  override readonly name = 'JobFailedError';
  constructor(
    readonly jobName: string,
    override readonly cause: unknown,
    readonly notRestarted?: string,
  ) {
    super(
      `job '${jobName}' failed: ${describeError(cause)}${notRestarted === undefined ? '' : `; not restarted: ${notRestarted}`}`,
    );
  }
}

/** The job was cancelled (`weir cancel`, REST PATCH /jobs/:id); nothing failed. */
export class JobCancelledError extends Error {
  override readonly name = 'JobCancelledError';
  constructor(readonly jobName: string) {
    super(`job '${jobName}' was cancelled`);
  }
}
