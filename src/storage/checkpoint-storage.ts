// Where snapshots are written (ARCHITECTURE.md §8). The interface assumes no more than an object
// store offers — an object appears whole when its upload completes, listing by prefix, no
// rename and no directories visible to readers — so an S3 implementation can pass the same
// contract tests as the filesystem one (test/storage/checkpoint-storage.contract.ts).
//
// Consistency it relies on (both the filesystem and S3 give it):
// - read-after-write: once close() / writeMetadata() resolve, every reader sees the whole file;
//   before that, none of it under its final name;
// - create-if-absent for `_metadata` (S3: a conditional PUT, If-None-Match: *): a completed
//   snapshot is never overwritten;
// - listing sees every `_metadata` whose write has resolved.
//
// Layout (one path builder: the implementation; callers never format paths):
//   <root>/<job-id>/chk-<n>/_metadata          the checkpoint exists iff this exists
//   <root>/<job-id>/chk-<n>/<name>             its data files (names from the caller)
//   <root>/<job-id>/_ended                     how the job ended, when it did
//   <root>/<job-id>/_committed                 that it committed output (both: writeJobRecord)
//   <root>/<job-id>/_running                   which process runs it now (lockJob)
//   <dir>/savepoint-<job-id prefix>-<random>/  the same, in a folder the user owns
// A snapshot folder holds only relative references, so a copy of it reads the same.
import type { StateFileWriter } from './state-file.js';

/** The file whose presence makes a snapshot folder a snapshot. */
export const METADATA_FILE = '_metadata';
/** In a job's checkpoint folder: how the job ended (job-end-record.ts). */
export const JOB_END_FILE = '_ended';
/** In a job's checkpoint folder: that the job committed output (job-commit-record.ts). */
export const JOB_COMMITTED_FILE = '_committed';
/** The records a job's checkpoint folder holds beside its checkpoints. */
export type JobRecordName = typeof JOB_END_FILE | typeof JOB_COMMITTED_FILE;

/** A checkpoint folder `chk-<n>` of a job, or a savepoint folder. Opaque to callers. */
export interface SnapshotLocation {
  /** Where it is, for messages and for `resolve()` (a path or a URL). */
  readonly uri: string;
}

export interface CheckpointListing {
  readonly id: number;
  readonly location: SnapshotLocation;
  /** Has `_metadata`: the checkpoint exists. Without it, it is the leftover of an unfinished one. */
  readonly complete: boolean;
}

export interface CheckpointStorage {
  /** For messages, e.g. the root folder. */
  readonly description: string;
  /** `<root>/<job-id>/chk-<n>`; nothing is created until something is written there. */
  checkpointLocation(jobId: string, checkpointId: number): SnapshotLocation;
  /** A new folder `<targetDir>/savepoint-<first 6 characters of the job id>-<12 random hex digits>`. */
  savepointLocation(targetDir: string, jobId: string): SnapshotLocation;
  /**
   * A data file `name` (one plain file name; not `_metadata`, not beginning with `.` or `_`) of
   * the snapshot, invisible until the writer's `close()` resolves; `abort()` leaves nothing.
   * Returns at once, having done no I/O: the storage creates the file while the writer fills its
   * first buffer, so a snapshot encodes its state without waiting (a capture's copy-on-write
   * window stays short). What goes wrong creating it — SnapshotAlreadyCompleteError when the
   * snapshot has its `_metadata` already, a disk error — fails a later `write` or `close()`.
   */
  createStateFile(location: SnapshotLocation, name: string, kind: number): StateFileWriter;
  /**
   * `length` bytes from `offset`; fewer only where the file ends first. Rejects when the file is
   * missing. With `into` (at least `length` bytes) the bytes land in it and the result is a view
   * of it, so a reader can reuse its buffers.
   */
  readRange(
    location: SnapshotLocation,
    relativePath: string,
    offset: number,
    length: number,
    into?: Uint8Array,
  ): Promise<Uint8Array>;
  /** The file's size, or undefined when there is no such file. */
  statFile(location: SnapshotLocation, relativePath: string): Promise<{ size: number } | undefined>;
  /**
   * Writes `_metadata`, atomically and durably, after every data file it names: from then on the
   * snapshot exists. Create-if-absent: fails with SnapshotAlreadyCompleteError when it exists.
   */
  writeMetadata(location: SnapshotLocation, bytes: Uint8Array): Promise<void>;
  /** The bytes of `_metadata`, or undefined when the folder has none (not a complete snapshot). */
  readMetadata(location: SnapshotLocation): Promise<Uint8Array | undefined>;
  /** Job ids with a folder under the root, sorted. */
  listJobs(): Promise<string[]>;
  /**
   * Writes one of a job's records (`_ended`, `_committed`) in its folder, next to its checkpoint
   * folders, atomically and durably, replacing an earlier one. They outlive the checkpoints:
   * a later `--resume` must not mistake a job that ended, or one whose checkpoints were lost
   * after it committed output, for one that never started.
   */
  writeJobRecord(jobId: string, name: JobRecordName, bytes: Uint8Array): Promise<void>;
  /** The bytes `writeJobRecord` stored under `name` for the job, or undefined when it has none. */
  readJobRecord(jobId: string, name: JobRecordName): Promise<Uint8Array | undefined>;
  /** The `chk-<n>` folders of a job, by increasing id; none when the job has no folder. */
  listCheckpoints(jobId: string): Promise<CheckpointListing[]>;
  /**
   * Removes a snapshot folder and everything in it, `_metadata` first (a half-removed folder
   * never looks complete); nothing happens when it is gone already.
   */
  discard(location: SnapshotLocation): Promise<void>;
  /**
   * Removes the `chk-<n>` folders of a job that have no `_metadata` and returns how many. Only
   * while no process writes checkpoints of that job (at the start of a resumed run).
   */
  removeIncomplete(jobId: string): Promise<number>;
  /**
   * For `-s PATH`: a snapshot folder, or its `_metadata` file, anywhere this storage can read
   * (a moved or copied savepoint too). SnapshotNotFoundError when it holds no snapshot.
   */
  resolve(pathOrUri: string): Promise<SnapshotLocation>;
  /**
   * Before a job that checkpoints starts: makes the root where it is missing and checks that
   * files can be written under it (a probe written and removed). CheckpointStorageUnusableError
   * when they cannot: a setting to change, which restarting the job would only repeat.
   */
  checkUsable(): Promise<void>;
  /**
   * Marks run `jobId` as running in this process until the lock is released. JobRunningError
   * when a live process holds it; a holder that died is taken over (see fs-job-lock.ts).
   */
  lockJob(jobId: string): Promise<JobLock>;
  /** JobRunningError when a live process holds run `jobId`'s mark (see lockJob); changes nothing. */
  checkNotRunning(jobId: string): Promise<void>;
}

/** Another live process runs the run (or one on another host may): a mistake to act on, not a failure. */
export class JobRunningError extends Error {
  override readonly name = 'JobRunningError';
}

/** A run marked as running by this process (`lockJob`). */
export interface JobLock {
  /** Ends the mark (a no-op when another process took it over). */
  release(): Promise<void>;
}

/** The checkpoint storage cannot be written (a path that is a file, no permission, a read-only mount). */
export class CheckpointStorageUnusableError extends Error {
  override readonly name = 'CheckpointStorageUnusableError';
}

/** `-s PATH` names nothing that holds a snapshot. A user mistake: the message says what to give. */
export class SnapshotNotFoundError extends Error {
  override readonly name = 'SnapshotNotFoundError';
}

/**
 * A write into a snapshot that has its `_metadata` already: a completed snapshot is never
 * changed. An internal error (checkpoint ids are never reused) or two processes writing one job.
 */
export class SnapshotAlreadyCompleteError extends Error {
  override readonly name = 'SnapshotAlreadyCompleteError';
}
