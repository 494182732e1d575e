// The coordinator's decisions with a manual clock: pacing, timeout, min pause, concurrency,
// tolerable failures, subsumption, retention, savepoints, stopping, and acknowledgements that
// come late, twice or from nowhere. Every call the coordinator makes is recorded, with the time
// it was made, and compared as one exact sequence.
import { describe, expect, it } from 'vitest';
import { DEFAULT_CHECKPOINT_SETTINGS, type CheckpointSettings } from '../../src/api/checkpoint-config.js';
import {
  CheckpointCoordinator,
  callerMustDiscardHandles,
  decidePeriodicTrigger,
  effectiveIntervalMs,
  type FinalizedCheckpoint,
} from '../../src/checkpoint/checkpoint-coordinator.js';
import {
  ABORT_REASONS,
  CheckpointAbortedError,
  CheckpointFailureError,
  CoordinatorStoppedError,
  SavepointInProgressError,
} from '../../src/checkpoint/checkpoint-failure.js';
import { ManualClock } from '../../src/checkpoint/clock.js';
import type { CompletedCheckpoint } from '../../src/checkpoint/completed-checkpoint.js';
import type { PendingCheckpoint, TaskAcknowledgement } from '../../src/checkpoint/pending-checkpoint.js';

const TASKS = ['0#0', '1#0'];
const START = 1_000_000;

function ack(bytes = 10, handles: unknown = null): TaskAcknowledgement {
  return { stateHandles: handles, stats: { syncMs: 1, asyncMs: 2, alignmentMs: 3, bytes } };
}

interface Deferred {
  resolve(f: FinalizedCheckpoint): void;
  reject(e: unknown): void;
}

/**
 * A coordinator whose collaborators record every call as `<ms since start> <what>`.
 * `finalize` succeeds at once unless `manualFinalize` is set: then each call waits in `finalizing`.
 */
function setup(
  settings: Partial<CheckpointSettings>,
  opts: {
    tasks?: readonly string[];
    firstCheckpointId?: number;
    manualFinalize?: boolean;
    finalize?: (p: PendingCheckpoint) => Promise<FinalizedCheckpoint>;
    trigger?: (id: number) => void;
  } = {},
) {
  const clock = new ManualClock(START);
  const events: string[] = [];
  const jobFailures: CheckpointFailureError[] = [];
  const finalizing = new Map<number, Deferred>();
  const at = (): number => clock.now() - START;
  const finalizedAs = (p: PendingCheckpoint): FinalizedCheckpoint => ({
    location: { uri: `chk-${p.id}` },
    metadata: undefined,
    sizeBytes: p.acknowledgedBytes,
  });
  const c = new CheckpointCoordinator({
    settings: { ...DEFAULT_CHECKPOINT_SETTINGS, ...settings },
    tasks: opts.tasks ?? TASKS,
    clock,
    firstCheckpointId: opts.firstCheckpointId ?? 1,
    trigger: (id, timestamp, kind) => {
      expect(timestamp).toBe(clock.now());
      events.push(`${at()} trigger ${id}${kind === 'savepoint' ? ' savepoint' : ''}`);
      opts.trigger?.(id);
    },
    finalize: (p) => {
      events.push(`${at()} finalize ${p.id}`);
      if (opts.finalize !== undefined) return opts.finalize(p);
      if (opts.manualFinalize !== true) return Promise.resolve(finalizedAs(p));
      return new Promise<FinalizedCheckpoint>((resolve, reject) => finalizing.set(p.id, { resolve, reject }));
    },
    notifyComplete: (id, completed) => {
      expect(completed.id).toBe(id);
      events.push(`${at()} complete ${id}`);
    },
    notifyAborted: (id, reason) => events.push(`${at()} abort ${id} ${reason}`),
    discard: (x) =>
      events.push(
        'acknowledgements' in x
          ? `${at()} discard pending ${x.id} [${x
              .acknowledgements()
              .map(([t]) => t)
              .join(' ')}]`
          : `${at()} discard completed ${x.id} at ${x.location?.uri ?? '-'}`,
      ),
    failJob: (e) => {
      events.push(`${at()} fail job`);
      jobFailures.push(e);
    },
  });
  /** Acknowledges `id` from every task and lets finalize's promise settle. */
  const ackAll = async (id: number, tasks: readonly string[] = opts.tasks ?? TASKS): Promise<void> => {
    for (const t of tasks) c.acknowledge(id, t, ack());
    await settle();
  };
  const finish = async (id: number): Promise<void> => {
    const d = finalizing.get(id)!;
    finalizing.delete(id);
    d.resolve({ location: { uri: `chk-${id}` }, metadata: undefined, sizeBytes: 20 });
    await settle();
  };
  return { c, clock, events, jobFailures, finalizing, ackAll, finish };
}

/** Lets promise callbacks (finalize's outcome) run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

function completedCheckpoint(id: number): CompletedCheckpoint {
  return {
    id,
    kind: 'checkpoint',
    timestamp: 0,
    location: { uri: `chk-${id}` },
    metadata: undefined,
    sizeBytes: 1,
    durationMs: 1,
  };
}

describe('decidePeriodicTrigger', () => {
  const base = { now: 1000, pendingCount: 0, lastCompletionTime: undefined, minPauseMs: 0, maxConcurrent: 1 };

  it('triggers when nothing holds it back', () => {
    expect(decidePeriodicTrigger(base)).toEqual({ action: 'trigger' });
    expect(decidePeriodicTrigger({ ...base, maxConcurrent: 3, pendingCount: 2 })).toEqual({
      action: 'trigger',
    });
  });

  it('waits for a slot while max concurrent snapshots are in progress, and allows one only when a min pause is set', () => {
    expect(decidePeriodicTrigger({ ...base, pendingCount: 1 })).toEqual({ action: 'wait-for-slot' });
    expect(decidePeriodicTrigger({ ...base, maxConcurrent: 3, pendingCount: 1, minPauseMs: 1 })).toEqual({
      action: 'wait-for-slot',
    });
  });

  it('waits until the min pause after the last completion has passed', () => {
    const f = { ...base, lastCompletionTime: 900, minPauseMs: 250 };
    expect(decidePeriodicTrigger(f)).toEqual({ action: 'wait-until', at: 1150 });
    expect(decidePeriodicTrigger({ ...f, now: 1150 })).toEqual({ action: 'trigger' });
  });

  it('never schedules checkpoints more often than the min pause', () => {
    expect(effectiveIntervalMs({ intervalMs: 100, minPauseMs: 250 })).toBe(250);
    expect(effectiveIntervalMs({ intervalMs: 300, minPauseMs: 250 })).toBe(300);
    expect(effectiveIntervalMs({ intervalMs: 0, minPauseMs: 250 })).toBe(0);
  });
});

describe('ManualClock', () => {
  it('fires due timers in time order, ties in the order set, with now() at each due time', () => {
    const clock = new ManualClock(10);
    const fired: string[] = [];
    clock.setTimeout(() => fired.push(`b@${clock.now()}`), 5);
    clock.setTimeout(() => fired.push(`a@${clock.now()}`), 3);
    const gone = clock.setTimeout(() => fired.push('cancelled'), 4);
    clock.setTimeout(() => {
      fired.push(`c@${clock.now()}`);
      clock.setTimeout(() => fired.push(`nested@${clock.now()}`), 1);
    }, 5);
    clock.clearTimeout(gone);
    clock.advance(5);
    expect(fired).toEqual(['a@13', 'b@15', 'c@15']);
    expect(clock.nextTimerAt()).toBe(16);
    clock.advance(10);
    expect(fired).toEqual(['a@13', 'b@15', 'c@15', 'nested@16']);
    expect(clock.now()).toBe(25);
    expect(clock.pendingTimers).toBe(0);
    expect(() => clock.advance(-1)).toThrow(RangeError);
  });
});

describe('CheckpointCoordinator: periodic triggering', () => {
  it('triggers every interval, the first one an interval after start', () => {
    const { c, clock, events } = setup({ intervalMs: 100, maxConcurrent: 5 });
    c.start();
    clock.advance(99);
    expect(events).toEqual([]);
    clock.advance(201);
    expect(events).toEqual(['100 trigger 1', '200 trigger 2', '300 trigger 3']);
    expect(c.lastTriggeredId).toBe(3);
    expect(c.pendingCount).toBe(3);
  });

  it('takes no periodic checkpoints when the interval is 0, but still takes savepoints', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 0 });
    c.start();
    clock.advance(1_000_000);
    expect(events).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
    const sp = c.triggerSavepoint();
    await ackAll(1);
    await expect(sp).resolves.toMatchObject({ id: 1, kind: 'savepoint', sizeBytes: 20 });
    expect(events).toEqual(['1000000 trigger 1 savepoint', '1000000 finalize 1', '1000000 complete 1']);
  });

  it('holds a due trigger back while max concurrent checkpoints are pending, and takes it once when one ends', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 100, maxConcurrent: 1 });
    c.start();
    clock.advance(100);
    clock.advance(300); // due at 200, 300 and 400: one trigger is owed, not three
    expect(events).toEqual(['100 trigger 1']);
    await ackAll(1);
    expect(events).toEqual(['100 trigger 1', '400 finalize 1', '400 complete 1', '400 trigger 2']);
    await ackAll(2);
    clock.advance(99);
    expect(events.slice(4)).toEqual(['400 finalize 2', '400 discard completed 1 at chk-1', '400 complete 2']);
    clock.advance(1);
    expect(events.slice(7)).toEqual(['500 trigger 3']);
  });

  it('runs up to max concurrent checkpoints, and a declined one frees a slot', () => {
    const { c, clock, events } = setup({ intervalMs: 100, maxConcurrent: 2, tolerableFailures: 5 });
    c.start();
    clock.advance(350);
    expect(events).toEqual(['100 trigger 1', '200 trigger 2']);
    expect(c.decline(1, '1#0', new Error('disk full'))).toBe('aborted');
    expect(events.slice(2)).toEqual(['350 abort 1 declined', '350 discard pending 1 []', '350 trigger 3']);
    clock.advance(100);
    expect(events.slice(5)).toEqual([]); // 2 and 3 in progress: 4 waits
    expect(c.counts()).toEqual({ completed: 0, failed: 1, inProgress: 2 });
  });

  it('waits the min pause after the last completion (not after the last trigger)', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 100, minPauseMs: 50 });
    c.start();
    clock.advance(180);
    await ackAll(1); // completes at 180
    clock.advance(49); // due at 200, but the pause lasts until 230
    expect(events).toEqual(['100 trigger 1', '180 finalize 1', '180 complete 1']);
    clock.advance(1);
    expect(events.slice(3)).toEqual(['230 trigger 2']);
    clock.advance(10);
    await ackAll(2); // completes at 240; next due at 330
    clock.advance(89);
    expect(events.slice(4)).toEqual(['240 finalize 2', '240 discard completed 1 at chk-1', '240 complete 2']);
    clock.advance(1);
    expect(events.slice(7)).toEqual(['330 trigger 3']);
  });

  it('measures the min pause from the end of a savepoint too', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 100, minPauseMs: 50 });
    c.start();
    clock.advance(90);
    const sp = c.triggerSavepoint();
    await ackAll(1);
    await sp;
    clock.advance(49); // due at 100, held until 140
    expect(events).toEqual(['90 trigger 1 savepoint', '90 finalize 1', '90 complete 1']);
    clock.advance(1);
    expect(events.slice(3)).toEqual(['140 trigger 2']);
  });

  it('with a min pause, takes one checkpoint at a time whatever max concurrent says', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 100, minPauseMs: 10, maxConcurrent: 3 });
    c.start();
    clock.advance(350);
    expect(events).toEqual(['100 trigger 1']);
    await ackAll(1); // completes at 350: the owed trigger waits the pause, to 360
    clock.advance(9);
    expect(events.slice(1)).toEqual(['350 finalize 1', '350 complete 1']);
    clock.advance(1);
    expect(events.slice(3)).toEqual(['360 trigger 2']);
  });

  it('schedules at the min pause when the interval is shorter', () => {
    const { c, clock, events } = setup({ intervalMs: 100, minPauseMs: 250, maxConcurrent: 1 });
    c.start();
    clock.advance(249);
    expect(events).toEqual([]);
    clock.advance(1);
    expect(events).toEqual(['250 trigger 1']);
  });

  it('refuses to start twice', () => {
    const { c } = setup({ intervalMs: 100 });
    c.start();
    expect(() => c.start()).toThrow(/started while running/);
  });
});

describe('CheckpointCoordinator: timeout and tolerable failures', () => {
  it('expires a checkpoint after the timeout and, with no failures tolerated, fails the job and stops triggering', () => {
    const { c, clock, events, jobFailures } = setup({ intervalMs: 100, timeoutMs: 500 });
    c.start();
    clock.advance(100);
    expect(c.acknowledge(1, '0#0', ack())).toBe('accepted');
    clock.advance(499);
    expect(events).toEqual(['100 trigger 1']);
    clock.advance(1);
    expect(events).toEqual([
      '100 trigger 1',
      '600 abort 1 expired',
      '600 discard pending 1 [0#0]',
      '600 fail job',
    ]);
    expect(jobFailures[0]).toBeInstanceOf(CheckpointFailureError);
    expect(jobFailures[0]!.message).toBe(
      '1 consecutive checkpoint failure(s), more than the 0 tolerated; the last: checkpoint 1 expired: ' +
        'not complete after 500 ms; 1 of 2 tasks did not acknowledge (missing: 1#0)',
    );
    expect(jobFailures[0]!.lastFailure).toMatchObject({ checkpointId: 1, reason: 'expired' });
    clock.advance(10_000);
    expect(events).toHaveLength(4);
    expect(c.history()[0]).toMatchObject({
      id: 1,
      status: 'failed',
      abortReason: 'expired',
      durationMs: 500,
    });
  });

  it('tolerates the configured number of consecutive failures, and a completion resets the count', async () => {
    const { c, clock, events, jobFailures, ackAll } = setup({ intervalMs: 100, tolerableFailures: 2 });
    c.start();
    clock.advance(100);
    c.decline(1, '1#0', new Error('disk full'));
    clock.advance(100);
    c.decline(2, '1#0', new Error('disk full'));
    clock.advance(100);
    await ackAll(3);
    for (const id of [4, 5]) {
      clock.advance(100);
      c.decline(id, '0#0', new Error('disk full'));
    }
    expect(jobFailures).toEqual([]);
    clock.advance(100);
    c.decline(6, '0#0', new Error('disk full'));
    expect(events.filter((e) => /trigger|complete|fail/.test(e))).toEqual([
      '100 trigger 1',
      '200 trigger 2',
      '300 trigger 3',
      '300 complete 3',
      '400 trigger 4',
      '500 trigger 5',
      '600 trigger 6',
      '600 fail job',
    ]);
    expect(jobFailures).toHaveLength(1);
    expect(jobFailures[0]!.consecutiveFailures).toBe(3);
    expect(jobFailures[0]!.message).toBe(
      '3 consecutive checkpoint failure(s), more than the 2 tolerated; the last: checkpoint 6 declined: task 0#0 declined: disk full',
    );
    expect((jobFailures[0]!.cause as Error).message).toBe('disk full');
  });

  it('counts expired, declined and finalize-failed as failures, subsumed and job-stopping not', () => {
    expect(Object.entries(ABORT_REASONS).map(([r, i]) => `${r} ${i.countsAsFailure}`)).toEqual([
      'expired true',
      'declined true',
      'finalize-failed true',
      'subsumed false',
      'job-stopping false',
    ]);
  });

  it('does not count subsumed checkpoints or those aborted because the job stops', async () => {
    const { c, clock, events, jobFailures, ackAll } = setup({ intervalMs: 100, maxConcurrent: 2 });
    c.start();
    clock.advance(200);
    await ackAll(2);
    clock.advance(100);
    c.stop();
    expect(events).toEqual([
      '100 trigger 1',
      '200 trigger 2',
      '200 finalize 2',
      '200 abort 1 subsumed',
      '200 discard pending 1 []',
      '200 complete 2',
      '300 trigger 3',
      '300 abort 3 job-stopping',
      '300 discard pending 3 []',
    ]);
    expect(jobFailures).toEqual([]);
  });

  it('aborts when finalize fails, and counts it as a failure', async () => {
    const { c, clock, events, jobFailures, ackAll } = setup(
      { intervalMs: 100 },
      { finalize: () => Promise.reject(new Error('no space left on device')) },
    );
    c.start();
    clock.advance(100);
    await ackAll(1);
    expect(events).toEqual([
      '100 trigger 1',
      '100 finalize 1',
      '100 abort 1 finalize-failed',
      '100 discard pending 1 [0#0 1#0]',
      '100 fail job',
    ]);
    expect(jobFailures[0]!.message).toMatch(
      /checkpoint 1 finalize-failed: could not be made durable: no space left/,
    );
  });

  it('treats a finalize that throws like one that rejects', async () => {
    const { c, clock, events } = setup(
      { intervalMs: 100, tolerableFailures: 1 },
      {
        finalize: () => {
          throw new Error('bug');
        },
      },
    );
    c.start();
    clock.advance(100);
    expect(c.acknowledge(1, '0#0', ack())).toBe('accepted');
    expect(c.acknowledge(1, '1#0', ack())).toBe('completed-pending');
    await settle();
    expect(events).toEqual([
      '100 trigger 1',
      '100 finalize 1',
      '100 abort 1 finalize-failed',
      '100 discard pending 1 [0#0 1#0]',
    ]);
    expect(c.history()[0]!.failureReason).toBe('finalize-failed: could not be made durable: bug');
  });

  it('expires a checkpoint that is still being finalized, and discards what finalize wrote afterwards', async () => {
    const { c, clock, events, finish, ackAll } = setup(
      { intervalMs: 100, timeoutMs: 300, tolerableFailures: 1 },
      { manualFinalize: true },
    );
    c.start();
    clock.advance(100);
    await ackAll(1);
    clock.advance(300);
    expect(c.history().find((h) => h.id === 1)?.failureReason).toBe(
      'expired: not complete after 300 ms: every task acknowledged, but writing _metadata did not finish',
    );
    await finish(1);
    expect(events).toEqual([
      '100 trigger 1',
      '100 finalize 1',
      '400 abort 1 expired',
      '400 discard pending 1 [0#0 1#0]',
      '400 trigger 2',
      '400 discard completed 1 at chk-1',
    ]);
    expect(c.latestCompleted()).toBeUndefined();
  });

  it('fails the job when the final checkpoint fails, whatever the tolerance, and takes no periodic ones after it', async () => {
    const { c, clock, events, jobFailures } = setup({ intervalMs: 100, tolerableFailures: 5 });
    c.start();
    const final = c.triggerFinalCheckpoint();
    clock.advance(1000);
    c.decline(1, '0#0', 'source gone');
    await expect(final).rejects.toThrow('checkpoint 1 aborted (declined): task 0#0 declined: source gone');
    expect(events).toEqual([
      '0 trigger 1',
      '1000 abort 1 declined',
      '1000 discard pending 1 []',
      '1000 fail job',
    ]);
    expect(jobFailures[0]!.message).toMatch(
      /^the final checkpoint 1 failed \(declined: task 0#0 declined: source gone\)/,
    );
  });
});

describe('CheckpointCoordinator: completion, subsumption and retention', () => {
  it('subsumes older pending checkpoints when a newer one completes, and keeps num-retained', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 100, maxConcurrent: 3, numRetained: 1 });
    c.start();
    clock.advance(300);
    await ackAll(2);
    expect(events).toEqual([
      '100 trigger 1',
      '200 trigger 2',
      '300 trigger 3',
      '300 finalize 2',
      '300 abort 1 subsumed',
      '300 discard pending 1 []',
      '300 complete 2',
    ]);
    expect(c.acknowledge(1, '0#0', ack())).toBe('late');
    await ackAll(3);
    expect(events.slice(7)).toEqual(['300 finalize 3', '300 discard completed 2 at chk-2', '300 complete 3']);
    expect(c.latestCompleted()?.id).toBe(3);
    expect(c.retained().map((r) => r.id)).toEqual([3]);
  });

  it('retains num-retained checkpoints counting the one restored from, and never a savepoint', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 100, numRetained: 2 }, { firstCheckpointId: 8 });
    c.restoredFrom(completedCheckpoint(7));
    c.start();
    clock.advance(100);
    await ackAll(8);
    const sp = c.triggerSavepoint();
    await ackAll(9);
    await sp;
    clock.advance(100);
    await ackAll(10);
    clock.advance(100);
    await ackAll(11);
    expect(events.filter((e) => /discard|complete/.test(e))).toEqual([
      '100 complete 8',
      '100 complete 9',
      '200 discard completed 7 at chk-7',
      '200 complete 10',
      '300 discard completed 8 at chk-8',
      '300 complete 11',
    ]);
    expect(c.retained().map((r) => r.id)).toEqual([10, 11]);
  });

  it('continues numbering after the checkpoint it restored from', () => {
    const { c, clock, events } = setup({ intervalMs: 100 }, { firstCheckpointId: 1 });
    c.restoredFrom(completedCheckpoint(41));
    c.start();
    clock.advance(100);
    expect(events).toEqual(['100 trigger 42']);
  });

  it('finalizes at once when there is no task to wait for', async () => {
    const { c, events } = setup({ intervalMs: 0 }, { tasks: [] });
    const sp = c.triggerSavepoint();
    await settle();
    await expect(sp).resolves.toMatchObject({ id: 1, sizeBytes: 0 });
    expect(events).toEqual(['0 trigger 1 savepoint', '0 finalize 1', '0 complete 1']);
  });
});

describe('CheckpointCoordinator: acknowledgements and declines', () => {
  it('answers accepted, duplicate, unknown, completed-pending and late, and changes nothing for the odd ones', async () => {
    const { c, clock, events } = setup({ intervalMs: 100, maxConcurrent: 2 });
    c.start();
    expect(c.acknowledge(0, '0#0', ack())).toBe('unknown'); // nothing triggered yet
    clock.advance(100);
    expect(c.acknowledge(1, '0#0', ack())).toBe('accepted');
    expect(c.acknowledge(1, '0#0', ack(99))).toBe('duplicate');
    expect(c.acknowledge(1, '9#9', ack())).toBe('unknown');
    expect(c.acknowledge(7, '0#0', ack())).toBe('unknown');
    expect(c.acknowledge(1, '1#0', ack())).toBe('completed-pending');
    expect(c.acknowledge(1, '1#0', ack())).toBe('duplicate'); // still finalizing
    await settle();
    expect(c.acknowledge(1, '1#0', ack())).toBe('late');
    expect(events).toEqual(['100 trigger 1', '100 finalize 1', '100 complete 1']);
    expect(c.history()[0]).toMatchObject({ id: 1, status: 'completed', sizeBytes: 20, numAcknowledged: 2 });
  });

  it('tells the caller to discard the handles of late and unknown acknowledgements only', () => {
    expect(
      (['accepted', 'completed-pending', 'duplicate', 'late', 'unknown'] as const).filter(
        callerMustDiscardHandles,
      ),
    ).toEqual(['late', 'unknown']);
  });

  it('answers late for an acknowledgement of an aborted checkpoint', () => {
    const { c, clock } = setup({ intervalMs: 100, tolerableFailures: 9 });
    c.start();
    clock.advance(100);
    c.decline(1, '0#0', 'x');
    expect(c.acknowledge(1, '1#0', ack())).toBe('late');
    expect(c.decline(1, '1#0', 'y')).toBe('late');
  });

  it('aborts on a decline from one of its tasks only, naming the task and the cause', () => {
    const { c, clock, events } = setup({ intervalMs: 100, tolerableFailures: 9 });
    c.start();
    clock.advance(100);
    expect(c.decline(1, '7#3', new Error('?'))).toBe('unknown');
    expect(c.decline(5, '0#0', new Error('?'))).toBe('unknown');
    c.acknowledge(1, '0#0', ack());
    expect(c.decline(1, '1#0', new Error('could not write state: EACCES'))).toBe('aborted');
    expect(events).toEqual(['100 trigger 1', '100 abort 1 declined', '100 discard pending 1 [0#0]']);
    expect(c.history()[0]!.failureReason).toBe('declined: task 1#0 declined: could not write state: EACCES');
  });

  it('aborts a checkpoint whose barriers could not be injected', () => {
    const { c, clock, events } = setup(
      { intervalMs: 100, tolerableFailures: 9 },
      {
        trigger: () => {
          throw new Error('no source is running');
        },
      },
    );
    c.start();
    clock.advance(100);
    expect(events).toEqual(['100 trigger 1', '100 abort 1 declined', '100 discard pending 1 []']);
    expect(c.history()[0]!.failureReason).toMatch(/barriers could not be injected: no source is running/);
  });
});

describe('CheckpointCoordinator: savepoints', () => {
  it('takes a savepoint beside a pending checkpoint, neither subsumes the other, and refuses a second savepoint', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 100, numRetained: 1 });
    c.start();
    clock.advance(100);
    const sp = c.triggerSavepoint();
    const second = c.triggerSavepoint();
    await expect(second).rejects.toBeInstanceOf(SavepointInProgressError);
    await expect(second).rejects.toThrow('a savepoint is already in progress (id 2)');
    await ackAll(2);
    await expect(sp).resolves.toMatchObject({ id: 2, kind: 'savepoint', location: { uri: 'chk-2' } });
    await ackAll(1);
    expect(events).toEqual([
      '100 trigger 1',
      '100 trigger 2 savepoint',
      '100 finalize 2',
      '100 complete 2',
      '100 finalize 1',
      '100 complete 1',
    ]);
    expect(c.latestCompleted()?.id).toBe(1);
    expect(c.retained().map((r) => r.id)).toEqual([1]);
  });

  it('does not subsume a pending savepoint when a newer checkpoint completes', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 100, maxConcurrent: 2 });
    c.start();
    clock.advance(50);
    const sp = c.triggerSavepoint();
    clock.advance(50);
    await ackAll(2);
    await ackAll(1);
    await sp;
    expect(events).toEqual([
      '50 trigger 1 savepoint',
      '100 trigger 2',
      '100 finalize 2',
      '100 complete 2',
      '100 finalize 1',
      '100 complete 1',
    ]);
  });

  it('holds a periodic checkpoint back while a savepoint is in progress (it counts against max concurrent)', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 100, maxConcurrent: 1 });
    c.start();
    clock.advance(50);
    const sp = c.triggerSavepoint();
    clock.advance(100);
    expect(events).toEqual(['50 trigger 1 savepoint']);
    await ackAll(1);
    await sp;
    expect(events).toEqual(['50 trigger 1 savepoint', '150 finalize 1', '150 complete 1', '150 trigger 2']);
  });

  it('rejects a failed savepoint with the reason, without counting it toward tolerable failures', async () => {
    const { c, clock, events, jobFailures } = setup({ intervalMs: 100, tolerableFailures: 0 });
    c.start();
    const sp = c.triggerSavepoint();
    c.decline(1, '1#0', new Error('no space'));
    await expect(sp).rejects.toBeInstanceOf(CheckpointAbortedError);
    await expect(sp).rejects.toThrow('savepoint 1 aborted (declined): task 1#0 declined: no space');
    clock.advance(100);
    expect(events).toEqual([
      '0 trigger 1 savepoint',
      '0 abort 1 declined',
      '0 discard pending 1 []',
      '100 trigger 2',
    ]);
    expect(jobFailures).toEqual([]);
  });
});

describe("CheckpointCoordinator: a stop's savepoint", () => {
  it('triggers no periodic checkpoint after it, also once it completed (the job ends at it)', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 100, maxConcurrent: 2 });
    c.start();
    clock.advance(50);
    const sp = c.triggerSavepoint({ stopping: true });
    clock.advance(100);
    await ackAll(1);
    await sp;
    clock.advance(1000);
    expect(events).toEqual(['50 trigger 1 savepoint', '150 finalize 1', '150 complete 1']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('lets a checkpoint triggered before it complete', async () => {
    const { c, clock, events, ackAll } = setup({ intervalMs: 100, maxConcurrent: 2 });
    c.start();
    clock.advance(100);
    const sp = c.triggerSavepoint({ stopping: true });
    await ackAll(1);
    await ackAll(2);
    await sp;
    clock.advance(1000);
    expect(events).toEqual([
      '100 trigger 1',
      '100 trigger 2 savepoint',
      '100 finalize 1',
      '100 complete 1',
      '100 finalize 2',
      '100 complete 2',
    ]);
  });

  it('resumes periodic checkpoints an interval after it is aborted (the job keeps running)', async () => {
    const { c, clock, events, jobFailures } = setup({ intervalMs: 100 });
    c.start();
    clock.advance(30);
    const sp = c.triggerSavepoint({ stopping: true });
    clock.advance(200);
    c.decline(1, '0#0', new Error('no space'));
    await expect(sp).rejects.toThrow('savepoint 1 aborted (declined)');
    clock.advance(99);
    expect(events).toEqual(['30 trigger 1 savepoint', '230 abort 1 declined', '230 discard pending 1 []']);
    clock.advance(1);
    expect(events.at(-1)).toBe('330 trigger 2');
    expect(jobFailures).toEqual([]);
  });

  it('resumes them also when it is aborted at once, and not after the sources ended meanwhile', async () => {
    let inject = false;
    const refused = setup(
      { intervalMs: 100 },
      {
        trigger: () => {
          if (!inject) throw new Error('no source is running');
        },
      },
    );
    refused.c.start();
    await expect(refused.c.triggerSavepoint({ stopping: true })).rejects.toThrow('no source is running');
    inject = true;
    refused.clock.advance(100);
    expect(refused.events).toEqual([
      '0 trigger 1 savepoint',
      '0 abort 1 declined',
      '0 discard pending 1 []',
      '100 trigger 2',
    ]);

    const { c, clock, events, ackAll } = setup({ intervalMs: 100, maxConcurrent: 2 });
    c.start();
    const sp = c.triggerSavepoint({ stopping: true });
    const last = c.triggerFinalCheckpoint();
    c.decline(1, '0#0', new Error('gone'));
    await expect(sp).rejects.toThrow('declined');
    await ackAll(2);
    await last;
    clock.advance(1000);
    expect(events.filter((e) => e.includes('trigger'))).toEqual(['0 trigger 1 savepoint', '0 trigger 2']);
  });
});

describe('CheckpointCoordinator: stopping', () => {
  it('aborts everything pending, rejects the waiting savepoint, clears every timer and triggers no more', async () => {
    const { c, clock, events, jobFailures } = setup({ intervalMs: 100, maxConcurrent: 2 });
    c.start();
    clock.advance(200);
    const sp = c.triggerSavepoint();
    c.stop();
    await expect(sp).rejects.toThrow('savepoint 3 aborted (job-stopping): the job is stopping');
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1000);
    expect(events).toEqual([
      '100 trigger 1',
      '200 trigger 2',
      '200 trigger 3 savepoint',
      '200 abort 1 job-stopping',
      '200 discard pending 1 []',
      '200 abort 2 job-stopping',
      '200 discard pending 2 []',
      '200 abort 3 job-stopping',
      '200 discard pending 3 []',
    ]);
    expect(c.acknowledge(2, '0#0', ack())).toBe('late');
    await expect(c.triggerSavepoint()).rejects.toBeInstanceOf(CoordinatorStoppedError);
    await expect(c.triggerFinalCheckpoint()).rejects.toThrow('cannot take a checkpoint: the job is stopping');
    expect(jobFailures).toEqual([]);
    c.stop(); // a second stop changes nothing
    expect(events).toHaveLength(9);
    expect(c.state).toBe('stopped');
  });

  it('discards a checkpoint whose finalize finishes after the job stopped, and never reports it complete', async () => {
    const { c, clock, events, finish, ackAll } = setup({ intervalMs: 100 }, { manualFinalize: true });
    c.start();
    clock.advance(100);
    await ackAll(1);
    c.stop();
    await finish(1);
    expect(events).toEqual([
      '100 trigger 1',
      '100 finalize 1',
      '100 abort 1 job-stopping',
      '100 discard pending 1 [0#0 1#0]',
      '100 discard completed 1 at chk-1',
    ]);
  });
});

describe('CheckpointCoordinator: statistics', () => {
  it('keeps a history, newest first, with per-task statistics, sizes, durations and failure reasons', async () => {
    const { c, clock, ackAll } = setup({ intervalMs: 100, tolerableFailures: 3 });
    c.start();
    clock.advance(100);
    c.acknowledge(1, '0#0', ack(7));
    clock.advance(30);
    c.acknowledge(1, '1#0', ack(13));
    await settle();
    clock.advance(70);
    c.decline(2, '1#0', 'boom');
    clock.advance(100);
    c.acknowledge(3, '0#0', ack(5));
    const [third, second, first, ...rest] = c.history();
    expect(rest).toEqual([]);
    expect(third).toMatchObject({
      id: 3,
      status: 'in-progress',
      durationMs: null,
      sizeBytes: 5,
      numAcknowledged: 1,
      numTasks: 2,
    });
    expect(second).toMatchObject({
      id: 2,
      kind: 'checkpoint',
      status: 'failed',
      triggerTime: START + 200,
      durationMs: 0,
      abortReason: 'declined',
      failureReason: 'declined: task 1#0 declined: boom',
      path: null,
    });
    expect(first).toMatchObject({
      id: 1,
      status: 'completed',
      triggerTime: START + 100,
      durationMs: 30,
      sizeBytes: 20,
      path: 'chk-1',
    });
    expect([...first!.tasks]).toEqual([
      ['0#0', { syncMs: 1, asyncMs: 2, alignmentMs: 3, bytes: 7 }],
      ['1#0', { syncMs: 1, asyncMs: 2, alignmentMs: 3, bytes: 13 }],
    ]);
    expect(Object.isFrozen(first)).toBe(true);
    expect(c.counts()).toEqual({ completed: 1, failed: 1, inProgress: 1 });
    await ackAll(3, ['1#0']);
  });

  it('keeps the last 100 entries, and counts every snapshot', async () => {
    const { c, ackAll } = setup({ intervalMs: 0 });
    for (let i = 1; i <= 105; i++) {
      const sp = c.triggerSavepoint();
      await ackAll(i);
      await sp;
    }
    const h = c.history();
    expect(h).toHaveLength(100);
    expect([h[0]!.id, h[99]!.id]).toEqual([105, 6]);
    expect(c.counts()).toEqual({ completed: 105, failed: 0, inProgress: 0 });
  });
});
