// The coordinator's decisions with a manual clock: pacing, timeout, min pause, concurrency,
// tolerable failures, subsumption, and acknowledgements that come late, twice or from nowhere.
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHECKPOINT_SETTINGS, type CheckpointSettings } from '../../src/index.js';
import {
  CheckpointCoordinator,
  type FinalizedCheckpoint,
} from '../../src/checkpoint/checkpoint-coordinator.js';
import { ManualClock } from '../../src/checkpoint/clock.js';
import type { TaskAcknowledgement } from '../../src/checkpoint/pending-checkpoint.js';

const ACK: TaskAcknowledgement = {
  stateHandles: null,
  stats: { syncMs: 0, asyncMs: 0, alignmentMs: 0, bytes: 10 },
};
const TASKS = ['0#0', '1#0'];

/** Records every call the coordinator makes, in order. */
function setup(settings: Partial<CheckpointSettings>, finalize?: () => Promise<FinalizedCheckpoint>) {
  const clock = new ManualClock(1_000_000);
  const events: string[] = [];
  const failures: string[] = [];
  const c = new CheckpointCoordinator({
    settings: { ...DEFAULT_CHECKPOINT_SETTINGS, ...settings },
    tasks: TASKS,
    clock,
    firstCheckpointId: 1,
    trigger: (id, _ts, kind) => events.push(`trigger ${id}${kind === 'savepoint' ? ' savepoint' : ''}`),
    finalize:
      finalize ??
      (() => Promise.resolve({ location: { uri: 'somewhere' }, metadata: undefined, sizeBytes: 20 })),
    notifyComplete: (id) => events.push(`complete ${id}`),
    notifyAborted: (id, reason) => events.push(`abort ${id} ${reason}`),
    discard: (x) => events.push(`discard ${x.id}`),
    failJob: (e) => failures.push(e.message),
  });
  return { c, clock, events, failures };
}

/** Lets finalize's promise settle. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

async function ackAll(c: CheckpointCoordinator, id: number): Promise<void> {
  for (const t of TASKS) c.acknowledge(id, t, ACK);
  await settle();
}

describe('CheckpointCoordinator', () => {
  it('triggers every interval, the first one an interval after start', () => {
    const { c, clock, events } = setup({ intervalMs: 100, maxConcurrent: 5 });
    c.start();
    clock.advance(99);
    expect(events).toEqual([]);
    clock.advance(1);
    clock.advance(100);
    expect(events).toEqual(['trigger 1', 'trigger 2']);
  });

  it('holds a trigger back while max concurrent checkpoints are pending, then takes it when one ends', async () => {
    const { c, clock, events } = setup({ intervalMs: 100, maxConcurrent: 1 });
    c.start();
    clock.advance(100);
    clock.advance(300);
    expect(events).toEqual(['trigger 1']);
    await ackAll(c, 1);
    expect(events).toEqual(['trigger 1', 'complete 1', 'trigger 2']);
  });

  it('waits the min pause after a completion before the next trigger', async () => {
    const { c, clock, events } = setup({ intervalMs: 100, minPauseMs: 250 });
    c.start();
    clock.advance(100);
    await ackAll(c, 1);
    clock.advance(100); // interval due, but only 100 ms since the completion
    expect(events).toEqual(['trigger 1', 'complete 1']);
    clock.advance(149);
    expect(events).toEqual(['trigger 1', 'complete 1']);
    clock.advance(1);
    expect(events).toEqual(['trigger 1', 'complete 1', 'trigger 2']);
  });

  it('expires a checkpoint after the timeout and, with no failures tolerated, fails the job', () => {
    const { c, clock, events, failures } = setup({ intervalMs: 100, timeoutMs: 500 });
    c.start();
    clock.advance(100);
    c.acknowledge(1, '0#0', ACK);
    clock.advance(499);
    expect(failures).toEqual([]);
    clock.advance(1);
    expect(events).toEqual(['trigger 1', 'abort 1 expired', 'discard 1', 'trigger 2']);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(/1 consecutive checkpoint failure.*expired.*missing: 1#0/);
  });

  it('tolerates the configured number of consecutive failures, and a completion resets the count', async () => {
    const { c, clock, failures } = setup({ intervalMs: 100, tolerableFailures: 2 });
    c.start();
    clock.advance(100);
    c.decline(1, '1#0', new Error('disk full'));
    clock.advance(100);
    c.decline(2, '1#0', new Error('disk full'));
    expect(failures).toEqual([]);
    clock.advance(100);
    await ackAll(c, 3);
    clock.advance(100);
    c.decline(4, '0#0', 'x');
    clock.advance(100);
    c.decline(5, '0#0', 'x');
    expect(failures).toEqual([]);
    clock.advance(100);
    c.decline(6, '0#0', 'x');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(
      /3 consecutive .*more than the 2 tolerated.*checkpoint 6 declined: task 0#0 declined: x/,
    );
  });

  it('subsumes older pending checkpoints when a newer one completes, and keeps num-retained', async () => {
    const { c, clock, events } = setup({ intervalMs: 100, maxConcurrent: 3, numRetained: 1 });
    c.start();
    clock.advance(300);
    await ackAll(c, 2);
    expect(events).toEqual([
      'trigger 1',
      'trigger 2',
      'trigger 3',
      'abort 1 subsumed',
      'discard 1',
      'complete 2',
    ]);
    await ackAll(c, 3);
    expect(events.slice(6)).toEqual(['discard 2', 'complete 3']);
    expect(c.latestCompleted()?.id).toBe(3);
  });

  it('answers late, duplicate and unknown acknowledgements without changing anything', async () => {
    const { c, clock, events } = setup({ intervalMs: 100 });
    c.start();
    clock.advance(100);
    expect(c.acknowledge(1, '0#0', ACK)).toBe('accepted');
    expect(c.acknowledge(1, '0#0', ACK)).toBe('duplicate');
    expect(c.acknowledge(1, '9#9', ACK)).toBe('unknown');
    expect(c.acknowledge(7, '0#0', ACK)).toBe('unknown');
    expect(c.acknowledge(1, '1#0', ACK)).toBe('completed-pending');
    await settle();
    expect(c.acknowledge(1, '1#0', ACK)).toBe('late');
    expect(events).toEqual(['trigger 1', 'complete 1']);
  });

  it('aborts when finalize fails, and counts it as a failure', async () => {
    const { c, clock, events, failures } = setup({ intervalMs: 100 }, () =>
      Promise.reject(new Error('no space')),
    );
    c.start();
    clock.advance(100);
    await ackAll(c, 1);
    expect(events).toEqual(['trigger 1', 'abort 1 finalize-failed', 'discard 1']);
    expect(failures[0]).toMatch(/finalize-failed: no space/);
  });

  it('takes a savepoint beside a pending checkpoint, never subsumes or retains it away, and refuses a second', async () => {
    const { c, clock, events } = setup({ intervalMs: 100, numRetained: 1 });
    c.start();
    clock.advance(100);
    const sp = c.triggerSavepoint();
    await expect(c.triggerSavepoint()).rejects.toThrow(/already in progress \(id 2\)/);
    await ackAll(c, 2);
    await expect(sp).resolves.toMatchObject({ id: 2, kind: 'savepoint' });
    await ackAll(c, 1);
    expect(events).toEqual(['trigger 1', 'trigger 2 savepoint', 'complete 2', 'complete 1']);
  });

  it('aborts everything pending when it stops, and triggers no more', () => {
    const { c, clock, events } = setup({ intervalMs: 100, maxConcurrent: 2 });
    c.start();
    clock.advance(200);
    c.stop();
    clock.advance(1000);
    expect(events).toEqual([
      'trigger 1',
      'trigger 2',
      'abort 1 job-stopping',
      'discard 1',
      'abort 2 job-stopping',
      'discard 2',
    ]);
  });

  it('stops periodic checkpoints once the final one is triggered, and fails the job if that one fails', async () => {
    const { c, clock, events, failures } = setup({ intervalMs: 100, tolerableFailures: 5 });
    c.start();
    const final = c.triggerFinalCheckpoint();
    clock.advance(1000);
    c.decline(1, '0#0', 'gone');
    await expect(final).rejects.toThrow(/declined/);
    expect(events).toEqual(['trigger 1', 'abort 1 declined', 'discard 1']);
    expect(failures[0]).toMatch(/final checkpoint 1 failed/);
  });
});
