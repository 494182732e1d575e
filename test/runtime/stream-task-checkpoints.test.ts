// A task's part in checkpoints, driven by hand. Barrier alignment when the job aborts a checkpoint
// (a failed savepoint, an expired checkpoint): the abort ends only that checkpoint's own
// alignment, and its barriers still on their way are passed over. Ending an older checkpoint's
// alignment let a snapshot hold records from after its barrier (counted twice after a restore); a
// late barrier of the aborted one started an alignment that blocked its input for good. And the
// end of a finished task, which must come after the final checkpoint's "complete".
import { describe, expect, it } from 'vitest';
import { Channel } from '../../src/runtime/channel.js';
import { END_OF_INPUT, type CheckpointBarrier, type ChannelItem } from '../../src/runtime/record-batch.js';
import { Scheduler } from '../../src/runtime/scheduler.js';
import { Signal } from '../../src/runtime/signal.js';
import { StreamOperator, type OperatorSnapshotParts } from '../../src/runtime/stream-operator.js';
import { StreamTask } from '../../src/runtime/stream-task.js';

/** Records what it processed, what it had processed at each snapshot, and the completions it heard of. */
class Recording extends StreamOperator<string, never> {
  readonly seen: string[] = [];
  readonly snapshots = new Map<number, string[]>();
  readonly completed: number[] = [];
  protected get userFunction(): unknown {
    return undefined;
  }
  processElement(r: string): void {
    this.seen.push(r);
  }
  override snapshotForCheckpoint(id: number, ts: number): OperatorSnapshotParts {
    this.snapshots.set(id, [...this.seen].sort());
    return super.snapshotForCheckpoint(id, ts, false);
  }
  override async notifyCheckpointComplete(id: number): Promise<void> {
    this.completed.push(id);
  }
}

const records = (...r: string[]): ChannelItem => ({
  kind: 'records',
  records: r,
  keys: undefined,
  keyGroups: undefined,
});
const barrier = (id: number): CheckpointBarrier => ({
  kind: 'barrier',
  id,
  timestamp: 0,
  type: 'checkpoint',
});
const turns = () => new Promise((r) => setTimeout(r, 20));

/**
 * A two-input task (exactly-once unless `aligned` is false) over one recording operator; `acked`
 * lists its snapshots.
 * `finished` is what the job does when the task has finished (default: let it end).
 */
function twoInputTask(finished: (task: StreamTask) => void = (t) => t.release(), aligned = true) {
  const signal = new Signal();
  const a = new Channel(16, new Signal(), signal);
  const b = new Channel(16, new Signal(), signal);
  const op = new Recording();
  op.setup(
    {
      name: 'rec',
      uid: undefined,
      subtaskIndex: 0,
      parallelism: 1,
      operatorId: 'rec',
      maxParallelism: 128,
      jobName: 'j',
      jobId: 'j',
    },
    { collect: () => undefined },
    undefined,
  );
  const acked: number[] = [];
  const task = new StreamTask({
    name: 'rec',
    signal,
    subtaskIndex: 0,
    parallelism: 1,
    operators: [op],
    inputs: [a, b],
    writers: [],
    keyedBackend: undefined,
    scheduler: new Scheduler(),
    flushIntervalMs: 50,
    taskId: 'rec#0',
    vertexIndex: 0,
    checkpoints: {
      persistState: false,
      aligned,
      snapshotTaken: (_t, bar) => acked.push(bar.id),
      taskFinished: finished,
    },
  });
  return { task, op, a, b, acked, run: task.run() };
}

describe('alignment and aborted checkpoints', () => {
  it('keeps aligning an older checkpoint when a newer one is aborted', async () => {
    const { task, op, a, b, acked, run } = twoInputTask();
    a.push(records('a1'));
    a.push(barrier(1));
    a.push(records('a2', 'a3'));
    a.push(END_OF_INPUT);
    b.push(records('b1'));
    await turns();
    expect(op.seen.sort()).toEqual(['a1', 'b1']); // A waits behind barrier 1
    task.notifyCheckpointAborted(2); // say, a savepoint triggered meanwhile failed
    await turns();
    expect(op.seen.sort()).toEqual(['a1', 'b1']); // still waiting: checkpoint 1 may complete
    b.push(barrier(1));
    b.push(END_OF_INPUT);
    await run;
    expect(acked).toContain(1);
    expect(op.snapshots.get(1)).toEqual(['a1', 'b1']);
    expect(op.seen.sort()).toEqual(['a1', 'a2', 'a3', 'b1']);
  });

  it('passes over a late barrier of the aborted checkpoint instead of blocking its input', async () => {
    const { task, op, a, b, acked, run } = twoInputTask();
    a.push(barrier(1));
    await turns();
    task.notifyCheckpointAborted(1); // A's barrier 1 came; B's comes after the abort
    await turns();
    b.push(barrier(1));
    b.push(records('b1'));
    a.push(records('a1'));
    await turns();
    b.push(records('b2'));
    a.push(records('a2'));
    await turns();
    // Neither input waits for a barrier 1 on the other.
    expect(op.seen.sort()).toEqual(['a1', 'a2', 'b1', 'b2']);
    // The next checkpoint aligns as usual.
    a.push(barrier(2));
    a.push(records('a3'));
    b.push(records('b3'));
    b.push(barrier(2));
    a.push(END_OF_INPUT);
    b.push(END_OF_INPUT);
    await run;
    expect(acked).toEqual([2]);
    expect(op.snapshots.get(2)).toEqual(['a1', 'a2', 'b1', 'b2', 'b3']);
  });
});

describe('alignment and aborted checkpoints, at least once', () => {
  it('keeps aligning an older checkpoint when a barrier of an aborted newer one comes', async () => {
    const { task, a, b, acked, run } = twoInputTask(undefined, false);
    a.push(barrier(1));
    a.push(records('a1'));
    await turns();
    task.notifyCheckpointAborted(2); // say, a savepoint triggered meanwhile failed
    await turns();
    a.push(barrier(2)); // its barrier, still on its way on A (not blocked: at-least-once)
    a.push(records('a2'));
    await turns();
    b.push(records('b1'));
    b.push(barrier(1)); // checkpoint 1's barrier has now come on both inputs
    await turns();
    expect(acked).toEqual([1]);
    a.push(END_OF_INPUT);
    b.push(END_OF_INPUT);
    await run;
  });
});

describe('a finished task', () => {
  it("ends only after the final checkpoint's complete told just before its release", async () => {
    // The job tells both as one step, which may land right after the task last looked at its
    // mailbox: the task ended without the "complete", and a sink never committed its last files.
    const { op, a, b, acked, run } = twoInputTask((t) =>
      queueMicrotask(() => {
        t.notifyCheckpointComplete(7);
        t.release();
      }),
    );
    a.push(records('a1'));
    a.push(END_OF_INPUT);
    b.push(END_OF_INPUT);
    await run;
    expect(acked).toEqual([]);
    expect(op.completed).toEqual([7]);
  });
});
