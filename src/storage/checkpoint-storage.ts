// Where snapshots are written (ARCHITECTURE.md §8). The interface assumes no more than an object
// store offers — whole objects that appear at once when written, listing by prefix, no rename
// visible to readers — so an S3 implementation can pass the same contract tests as the
// filesystem one (test/storage/checkpoint-storage.contract.ts).
import type { StateFileWriter } from './state-file.js';

/** A checkpoint folder `chk-<n>` of a job, or a savepoint folder. Opaque to callers. */
export interface SnapshotLocation {
  /** Where it is, for messages (a path or a URL). */
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
  /** `<root>/<job-id>/chk-<n>`. */
  checkpointLocation(jobId: string, checkpointId: number): SnapshotLocation;
  /** A new folder `<dir>/savepoint-<job-id prefix>-<random>`. */
  savepointLocation(targetDir: string, jobId: string): SnapshotLocation;
  /** A data file written under a temporary name and made visible (atomically) by `close()`. */
  createStateFile(location: SnapshotLocation, name: string, kind: number): Promise<StateFileWriter>;
  readRange(
    location: SnapshotLocation,
    relativePath: string,
    offset: number,
    length: number,
  ): Promise<Uint8Array>;
  statFile(location: SnapshotLocation, relativePath: string): Promise<{ size: number } | undefined>;
  /** Atomic; written last: the snapshot exists iff `_metadata` exists. */
  writeMetadata(location: SnapshotLocation, bytes: Uint8Array): Promise<void>;
  readMetadata(location: SnapshotLocation): Promise<Uint8Array | undefined>;
  /** Job ids with a folder under the root. */
  listJobs(): Promise<string[]>;
  /** The `chk-<n>` folders of a job, by id. */
  listCheckpoints(jobId: string): Promise<CheckpointListing[]>;
  /** Removes a snapshot folder and everything in it; nothing happens when it is gone already. */
  discard(location: SnapshotLocation): Promise<void>;
  /** Removes the `chk-<n>` folders of a job that have no `_metadata`; returns how many. */
  removeIncomplete(jobId: string): Promise<number>;
  /** For `-s PATH`: a snapshot folder, or its `_metadata` file. */
  resolve(pathOrUri: string): Promise<SnapshotLocation>;
}

/** `-s PATH` names nothing that holds a snapshot. */
export class SnapshotNotFoundError extends Error {
  override readonly name = 'SnapshotNotFoundError';
}
