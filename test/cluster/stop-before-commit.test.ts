// A stop whose attempt fails or is cancelled while its `_committed` record is being written, with
// a sink slow to close keeping the attempt alive until the record lands: no sink may be told to
// commit the savepoint then, so a failure fails the job over (it does not end it for good, which
// is only for a stop the sinks began to commit) and a cancel fails the stop. A request made while
// an attempt is ending is refused as such.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import type { SavepointRequestView } from '../../src/cluster/savepoint-request.js';
import type { Sink, SinkWriter } from '../../src/runtime/sink.js';
import { spin } from './hooked-count.js';
import { routeRecordWrites, writeAfter } from './record-writes.js';

/** Records the checkpoints it is told of; closes slowly once `slow` is set. */
class SlowClosingSink implements Sink<number> {
  readonly told: number[] = [];
  slow = false;
  createWriter(): SinkWriter<number> {
    return {
      write: () => undefined,
      notifyCheckpointComplete: (id) => void this.told.push(id),
      close: () => (this.slow ? new Promise<void>((r) => setTimeout(r, 600)) : undefined),
    };
  }
}

async function stopWhileRecording(interrupt: (m: JobMaster) => void): Promise<{
  error: unknown;
  outcome: SavepointRequestView;
  told: number[];
  savepointId: number | undefined;
}> {
  const env = new StreamExecutionEnvironment({ parallelism: 1, execution: { batchSize: 64 } });
  env.enableCheckpointing(15);
  env.checkpointConfig.setCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-stop-race-')));
  env.checkpointConfig.setTimeout(2000);
  env.setRestartStrategy({ type: 'fixed-delay', attempts: 1, delayMs: 10 });
  const sink = new SlowClosingSink();
  let master: JobMaster | undefined;
  let req: SavepointRequestView | undefined;
  let savepointId: number | undefined;
  const spy = routeRecordWrites((w) => {
    if (w.name !== '_committed' || !w.text.includes('"savepoint"') || savepointId !== undefined)
      return w.write();
    savepointId = (JSON.parse(w.text) as { checkpoint: number }).checkpoint;
    sink.slow = true;
    interrupt(master!); // before the record lands, so before any sink is told
    return writeAfter(200, w);
  });
  let error: unknown;
  try {
    env
      .fromSequence(1, 50_000)
      .uid('numbers')
      .map((n: number) => {
        if (req === undefined && master !== undefined && master.completedCheckpoints >= 3)
          req = master.stop({ targetDir: mkdtempSync(join(tmpdir(), 'weir-stop-race-sp-')) });
        if (req === undefined) spin(0.05);
        return n;
      })
      .uid('map')
      .keyBy((n: number) => n % 2)
      .sinkTo(sink)
      .uid('sink');
    await env.execute('race', { onStart: (m) => void (master = m) });
  } catch (e) {
    error = e;
  } finally {
    spy.mockRestore();
    sink.slow = false;
  }
  return { error, outcome: master!.savepointRequest(req!.requestId)!, told: sink.told, savepointId };
}

describe('a stop interrupted before its sinks were told', () => {
  it('fails over, rather than failing for good, when a task fails', async () => {
    const r = await stopWhileRecording((m) => {
      const tasks = (m as unknown as { tasks: Array<{ enqueueMail(a: () => void): void }> }).tasks;
      tasks[0]!.enqueueMail(() => {
        throw new Error('injected while the record is written');
      });
    });
    expect(r.savepointId).toBeDefined();
    expect(r.told).not.toContain(r.savepointId);
    expect(r.error).toBeUndefined(); // restarted from its newest checkpoint and ran to its end
    expect(r.outcome.status).toBe('failed');
    expect(r.outcome.failure).toMatch(/; the job fails over: restart 1 in 10 ms from checkpoint \d+$/);
  });

  it('fails the stop when the job is cancelled', async () => {
    const r = await stopWhileRecording((m) => m.cancel());
    expect(r.savepointId).toBeDefined();
    expect(r.told).not.toContain(r.savepointId);
    expect(String(r.error)).toMatch(/was cancelled/);
    expect(r.outcome.status).toBe('failed');
    expect(r.outcome.failure).toMatch(/; the job was cancelled$/);
  });
});

describe('a request while an attempt ends', () => {
  it('is refused as ending, not as starting', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 1, execution: { batchSize: 64 } });
    env.enableCheckpointing(15);
    env.checkpointConfig.setCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-ending-')));
    env.checkpointConfig.setTimeout(2000);
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 1, delayMs: 10 });
    let master: JobMaster | undefined;
    let refusal: unknown;
    let held = false;
    const spy = routeRecordWrites((w) => {
      if (held || w.name !== '_committed') return w.write();
      held = true;
      // The task fails and ends while this record is still being written: the attempt waits for
      // it before deciding to restart, and a request in between is told so.
      const tasks = (master as unknown as { tasks: Array<{ enqueueMail(a: () => void): void }> }).tasks;
      tasks[0]!.enqueueMail(() => {
        throw new Error('injected while the record is written');
      });
      setTimeout(() => {
        try {
          master!.stop({ targetDir: mkdtempSync(join(tmpdir(), 'weir-ending-sp-')) });
        } catch (e) {
          refusal = e;
        }
      }, 150);
      return writeAfter(300, w);
    });
    try {
      env
        .fromSequence(1, 20_000)
        .uid('numbers')
        .map((n: number) => {
          spin(0.02);
          return n;
        })
        .uid('map')
        .sinkTo(new SlowClosingSink())
        .uid('sink');
      await env.execute('ending', { onStart: (m) => void (master = m) });
    } finally {
      spy.mockRestore();
    }
    expect(held).toBe(true);
    expect(master!.restoredCheckpointIds.length).toBe(1); // it failed over, and ran to its end
    expect(String(refusal)).toMatch(
      /^JobControlError: job 'ending' is failing \(.*injected while the record is written.*\); try again if it restarts$/,
    );
  });
});
