// What a running job tells the REST API, `weir list`, `weir checkpoints` and its progress line.
import type { SavepointRequestView } from './savepoint-request.js';

export interface CheckpointStatsView {
  id: number;
  kind: 'checkpoint' | 'savepoint';
  status: 'in-progress' | 'completed' | 'failed';
  triggerTime: number;
  durationMs: number | null;
  sizeBytes: number | null;
  failureReason: string | null;
  /** Where the completed snapshot is, or was when `discarded`. */
  path: string | null;
  /** A completed checkpoint weir has since removed (retention keeps the newest `numRetained`). */
  discarded: boolean;
  subtasks: Array<{ task: string; syncMs: number; asyncMs: number; alignmentMs: number; bytes: number }>;
}

export interface JobStatusView {
  jobId: string;
  jobName: string;
  state: 'running' | 'restarting' | 'finished' | 'failed' | 'cancelled';
  startTime: number;
  durationMs: number;
  parallelism: number;
  restarts: number;
  /** Records the job's sources read, over every attempt (replays after a restart included). */
  recordsIn: number;
  /** Records the job's sinks took, over every attempt. */
  recordsOut: number;
  checkpointing: { intervalMs: number; dir: string | null };
  /**
   * Per vertex (a chain of operators in one task per subtask): records in = taken from other
   * tasks plus read by its sources; out = sent to other tasks plus taken by its sinks.
   */
  vertices: Array<{ name: string; parallelism: number; recordsIn: number; recordsOut: number }>;
  lastCheckpoint: CheckpointStatsView | null;
  counts: { completed: number; failed: number; inProgress: number };
}

export interface JobStatusProvider {
  status(): JobStatusView;
  /** Newest first. */
  checkpoints(): CheckpointStatsView[];
}

/** What the REST API may ask of a running job besides its status (the JobMaster implements it). */
export interface JobController extends JobStatusProvider {
  /** Throws JobControlError when the job cannot take a savepoint now. */
  triggerSavepoint(targetDir?: string): SavepointRequestView;
  stop(options: { targetDir?: string; drain?: boolean }): SavepointRequestView;
  savepointRequest(requestId: string): SavepointRequestView | undefined;
  cancel(): void;
}
