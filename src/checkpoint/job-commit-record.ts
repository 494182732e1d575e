// That a job committed output, kept in its checkpoint folder (`_committed`). Checkpoint folders
// alone cannot tell a checkpoint whose `_metadata` was deleted or lost from one that never
// completed (a crash before its `_metadata`): without this record, a `--resume` after the only
// complete checkpoint was lost would find none and start from the beginning, committing the
// output that checkpoint had committed a second time.
//
// Each process running the job writes it once, before the first thing that can commit output:
// telling the tasks a checkpoint (or a stop-with-savepoint) completed, or restoring from one of
// the job's own checkpoints (the sinks commit what it left pending). It is written only after the
// coordinator decided the checkpoint completed, so an aborted one never leaves it behind, and a
// crash between a `_metadata` and the record leaves a checkpoint that committed nothing yet.
// `at` is when it was written: every checkpoint the process completes later is newer, so a run of
// the same job with a checkpoint or end record newer than `at` supersedes this one.
//
// A run started from a savepoint (or another run's checkpoint) writes it before its sinks restore
// (they commit what the snapshot left pending), naming the snapshot in `from`: if it dies before
// its first checkpoint completes, `--resume` finds output committed and no checkpoint, and refuses
// (naming the snapshot to continue from) instead of starting from the beginning and committing
// that output again.
//
// A stop-with-savepoint rewrites it, naming the savepoint, before its sinks commit: the `_ended`
// that names the savepoint comes only after the tasks have stopped, and a crash between the two
// must still send `--resume` to the savepoint rather than to an older checkpoint whose output
// the stop has already committed.
import { encodeJobRecord, parseJobRecord } from './job-record-json.js';

export interface JobCommitRecord {
  readonly jobName: string;
  /** The checkpoint (or stop-with-savepoint) this process committed first, or restored from. */
  readonly checkpoint: number;
  /** Milliseconds since the epoch. */
  readonly at: number;
  /** The savepoint a stop-with-savepoint commits (then `checkpoint` is its id). */
  readonly savepoint?: string;
  /** The snapshot the run was started from (`-s`), when it restored no checkpoint of its own. */
  readonly from?: string;
  /**
   * The snapshot the run's first process was started from (`-s`, not claimed), kept by every
   * later write of the record (`from` is not, once a checkpoint completed): a `--resume` of the
   * run passes it on to the run's `_ended`.
   */
  readonly origin?: string;
}

/** `_committed` could not be written, so nothing was committed; the job fails over. */
export class CommitRecordError extends Error {
  override readonly name = 'CommitRecordError';
}

const VERSION = 1;

export function encodeJobCommit(r: JobCommitRecord): Uint8Array {
  return encodeJobRecord(VERSION, r);
}

/** The record, or undefined when the bytes are not one this version of weir wrote. */
export function decodeJobCommit(bytes: Uint8Array): JobCommitRecord | undefined {
  const o = parseJobRecord(bytes, VERSION);
  if (o === undefined || !Number.isSafeInteger(o.checkpoint)) return undefined;
  if (typeof o.at !== 'number' || !Number.isFinite(o.at)) return undefined;
  if (o.savepoint !== undefined && typeof o.savepoint !== 'string') return undefined;
  if (o.from !== undefined && typeof o.from !== 'string') return undefined;
  if (o.origin !== undefined && typeof o.origin !== 'string') return undefined;
  return {
    jobName: o.jobName,
    checkpoint: o.checkpoint as number,
    at: o.at,
    ...(o.savepoint !== undefined ? { savepoint: o.savepoint } : {}),
    ...(o.from !== undefined ? { from: o.from } : {}),
    ...(o.origin !== undefined ? { origin: o.origin } : {}),
  };
}
