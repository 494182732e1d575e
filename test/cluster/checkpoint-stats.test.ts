// The checkpoint statistics a job shows (REST API, `weir checkpoints`, the closing line) span its
// restarts, as Flink's do: a restart does not start the counts and the history again.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointStatsTracker } from '../../src/checkpoint/checkpoint-coordinator.js';
import type { CompletedCheckpoint } from '../../src/checkpoint/completed-checkpoint.js';
import { PendingCheckpoint } from '../../src/checkpoint/pending-checkpoint.js';
import { DiscardingSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { spin } from './hooked-count.js';

describe('checkpoint statistics', () => {
  it('count and list the checkpoints of every attempt', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 1, execution: { batchSize: 64 } });
    env.enableCheckpointing(15);
    env.checkpointConfig.setCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-stats-')));
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 1, delayMs: 0 });
    let master: JobMaster | undefined;
    let failed = false;
    let beforeRestart = 0;
    env
      .fromSequence(1, 200_000)
      .uid('numbers')
      .map((n: number) => {
        // Slow until three checkpoints completed, the failure, and two more after the restart
        // (as many records as a loaded machine needs for that), then as fast as it goes.
        if (!failed || master === undefined || master.completedCheckpoints < beforeRestart + 2) spin(0.02);
        if (!failed && master !== undefined && master.completedCheckpoints >= 3) {
          failed = true;
          beforeRestart = master.completedCheckpoints;
          throw new Error('once');
        }
        return n;
      })
      .uid('map')
      .keyBy((n: number) => n % 3)
      .sum()
      .uid('sum')
      .sinkTo(new DiscardingSink())
      .uid('sink');
    await env.execute('stats', { onStart: (m) => void (master = m) });
    const m = master!;
    expect(m.status().restarts).toBe(1);
    const completed = m.checkpoints().filter((c) => c.status === 'completed');
    expect(m.completedCheckpoints).toBeGreaterThan(beforeRestart);
    expect(m.status().counts.completed).toBe(m.completedCheckpoints);
    expect(completed.length).toBe(m.completedCheckpoints);
    // The attempt before the restart completed the checkpoint the next one restored.
    expect(completed.map((c) => c.id)).toContain(m.restoredCheckpointIds[0]);
    // One retained (the default): every older completed checkpoint was removed, and says so.
    const newest = completed[0]!.id;
    expect(completed.length).toBeGreaterThan(1);
    expect(completed.filter((c) => c.id < newest).every((c) => c.discarded)).toBe(true);
    expect(m.checkpoints().some((c) => c.status !== 'completed' && c.discarded)).toBe(false);
  });
});

describe('CheckpointStatsTracker', () => {
  it('counts as checkpoint failures only checkpoints that failed, not aborted ones or savepoints; counts savepoints apart', () => {
    const t = new CheckpointStatsTracker();
    const trigger = (id: number, kind: 'checkpoint' | 'savepoint'): void =>
      t.onTriggered(new PendingCheckpoint({ id, kind, timestamp: id, tasks: ['0#0'] }));
    trigger(1, 'checkpoint');
    t.onFailed(1, { reason: 'expired', detail: 'late' }, 5);
    trigger(2, 'checkpoint');
    t.onFailed(2, { reason: 'subsumed', detail: 'newer' }, 5);
    trigger(3, 'checkpoint');
    t.onFailed(3, { reason: 'job-stopping', detail: 'the attempt failed' }, 5);
    trigger(4, 'savepoint');
    t.onFailed(4, { reason: 'declined', detail: 'no' }, 5);
    expect(t.checkpointFailures).toBe(1);
    trigger(5, 'savepoint');
    t.onCompleted({ id: 5, kind: 'savepoint', durationMs: 3, sizeBytes: 10 } as CompletedCheckpoint);
    trigger(6, 'checkpoint');
    t.onCompleted({ id: 6, kind: 'checkpoint', durationMs: 3, sizeBytes: 10 } as CompletedCheckpoint);
    expect(t.savepoints).toBe(1);
    expect(t.counts(0)).toEqual({ completed: 2, failed: 4, inProgress: 0 });
    expect(t.history().map((h) => [h.id, h.status, h.failureReason])).toEqual([
      [6, 'completed', null],
      [5, 'completed', null],
      [4, 'failed', 'declined: no'],
      [3, 'failed', 'job-stopping: the attempt failed'],
      [2, 'failed', 'subsumed: newer'],
      [1, 'failed', 'expired: late'],
    ]);
  });
});
