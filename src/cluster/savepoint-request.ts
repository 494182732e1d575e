// A user's request for a savepoint of a running job (`weir savepoint`, `weir stop`, REST): it
// is answered at once with an id, and its outcome is polled, as in Flink's REST API, because a
// savepoint of a large state takes longer than an HTTP request should.
import { randomUUID } from 'node:crypto';

export type SavepointRequestKind = 'savepoint' | 'stop' | 'stop-drain';

export interface SavepointRequestView {
  requestId: string;
  kind: SavepointRequestKind;
  status: 'in-progress' | 'completed' | 'failed';
  /** The snapshot id the savepoint got; null until triggered. */
  checkpointId: number | null;
  /** The savepoint folder, once completed. */
  path: string | null;
  /** Why it failed, and what became of the job. */
  failure: string | null;
  triggerTime: number;
  endTime: number | null;
}

/**
 * The job cannot take the request now (not running, restarting, finishing, another savepoint in
 * flight): an answer for the user, never a half-taken savepoint. REST answers 409.
 */
export class JobControlError extends Error {
  override readonly name = 'JobControlError';
}

/**
 * A stop whose savepoint completed did not end the job there: its record could not be written, a
 * task failed, or the job was cancelled first. `next` says what became of the job instead.
 */
export class StopFailedError extends Error {
  override readonly name = 'StopFailedError';
  constructor(
    message: string,
    /** What became of the job instead, for the request's failure. */
    readonly next: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** Savepoint requests of one job, newest kept; old finished ones are forgotten after 100. */
export class SavepointRequests {
  private readonly requests = new Map<string, SavepointRequestView>();
  /** Finished requests whose outcome nobody has read yet. */
  private readonly unread = new Set<string>();

  start(kind: SavepointRequestKind, now: number): SavepointRequestView {
    const view: SavepointRequestView = {
      requestId: randomUUID(),
      kind,
      status: 'in-progress',
      checkpointId: null,
      path: null,
      failure: null,
      triggerTime: now,
      endTime: null,
    };
    this.requests.set(view.requestId, view);
    this.forgetOld();
    return view;
  }

  get(requestId: string): SavepointRequestView | undefined {
    const v = this.requests.get(requestId);
    if (v === undefined) return undefined;
    if (v.status !== 'in-progress') this.unread.delete(requestId);
    return { ...v };
  }

  /**
   * Whether every finished request's outcome was read: a job stopped with a savepoint keeps
   * answering until `weir stop` has learnt the savepoint's path.
   */
  get allRead(): boolean {
    return this.unread.size === 0 && this.inProgress().length === 0;
  }

  complete(view: SavepointRequestView, checkpointId: number, path: string, now: number): void {
    if (view.status !== 'in-progress') return;
    view.status = 'completed';
    this.unread.add(view.requestId);
    view.checkpointId = checkpointId;
    view.path = path;
    view.endTime = now;
  }

  fail(view: SavepointRequestView, failure: string, now: number): void {
    if (view.status !== 'in-progress') return;
    view.status = 'failed';
    this.unread.add(view.requestId);
    view.failure = failure;
    view.endTime = now;
  }

  /** Requests still waiting, e.g. to fail them when the job ends. */
  inProgress(): SavepointRequestView[] {
    return [...this.requests.values()].filter((v) => v.status === 'in-progress');
  }

  private forgetOld(): void {
    if (this.requests.size <= 100) return;
    for (const [id, v] of this.requests) {
      if (this.requests.size <= 100) break;
      if (v.status !== 'in-progress') this.requests.delete(id);
    }
  }
}
