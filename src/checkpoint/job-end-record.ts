// How a job ended, kept in its checkpoint folder after its checkpoints are removed. Without it, a
// `--resume` after a job that finished (or was stopped with a savepoint, or cancelled) finds no
// checkpoint and starts from the beginning, writing its output a second time — for instance when
// the process is killed after the final commit but before it exits, and a supervisor resumes it.
import { encodeJobRecord, parseJobRecord } from './job-record-json.js';

export type JobEndOutcome = 'finished' | 'stopped' | 'cancelled' | 'failed';

export interface JobEndRecord {
  readonly jobName: string;
  readonly outcome: JobEndOutcome;
  /** Milliseconds since the epoch. */
  readonly endedAt: number;
  /**
   * With 'stopped': the savepoint the job was stopped with. With 'failed': the savepoint of a stop
   * whose sinks were committing it when the job failed (it continues from there).
   */
  readonly savepoint?: string;
  /**
   * The snapshot the run was started from (`-s`, not claimed). Its sinks committed what that
   * snapshot held, so after a cancel or failure whose checkpoints retention removed, `--resume`
   * sends the user back to it rather than to the beginning (which would commit that output again).
   */
  readonly from?: string;
}

const VERSION = 1;

export function encodeJobEnd(r: JobEndRecord): Uint8Array {
  return encodeJobRecord(VERSION, r);
}

/** The record, or undefined when the bytes are not one this version of weir wrote. */
export function decodeJobEnd(bytes: Uint8Array): JobEndRecord | undefined {
  const o = parseJobRecord(bytes, VERSION);
  if (o === undefined || typeof o.endedAt !== 'number') return undefined;
  if (!['finished', 'stopped', 'cancelled', 'failed'].includes(o.outcome as string)) return undefined;
  if (o.savepoint !== undefined && typeof o.savepoint !== 'string') return undefined;
  if (o.from !== undefined && typeof o.from !== 'string') return undefined;
  return {
    jobName: o.jobName,
    outcome: o.outcome as JobEndOutcome,
    endedAt: o.endedAt,
    ...(typeof o.savepoint === 'string' ? { savepoint: o.savepoint } : {}),
    ...(typeof o.from === 'string' ? { from: o.from } : {}),
  };
}
