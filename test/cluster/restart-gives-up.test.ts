// A job whose restart strategy allows no more restarts fails with the strategy's reason beside the
// failure's, as Flink's "recovery is suppressed by …" says which strategy stopped it; one waiting
// to restart ends at once when cancelled.
import { describe, expect, it } from 'vitest';
import { JobCancelledError, JobFailedError } from '../../src/cluster/job-failed-error.js';
import type { ExecuteOptions } from '../../src/cluster/job-launcher.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { DiscardingSink, StreamExecutionEnvironment, type RestartStrategyConfig } from '../../src/index.js';

/** Runs a job that fails at its 50th record every time; what it rejected with. */
async function outcome(
  strategy: RestartStrategyConfig | undefined,
  options: ExecuteOptions = {},
): Promise<unknown> {
  const env = new StreamExecutionEnvironment({ parallelism: 1 });
  if (strategy !== undefined) env.setRestartStrategy(strategy);
  env
    .fromSequence(1, 100)
    .map((n) => {
      if (n === 50) throw new Error('always at 50');
      return n;
    })
    .sinkTo(new DiscardingSink());
  return env.execute('fails-at-50', options).then(
    () => undefined,
    (x: unknown) => x,
  );
}

async function failure(strategy: RestartStrategyConfig | undefined): Promise<JobFailedError> {
  const e = await outcome(strategy);
  expect(e).toBeInstanceOf(JobFailedError);
  return e as JobFailedError;
}

describe('a job its restart strategy gives up on', () => {
  it('says why it was not restarted', async () => {
    const fixed = await failure({ type: 'fixed-delay', attempts: 2, delayMs: 0 });
    expect(fixed.notRestarted).toBe('gave up after 2 restart attempt(s) (fixed-delay)');
    expect(fixed.message).toMatch(
      /always at 50; not restarted: gave up after 2 restart attempt\(s\) \(fixed-delay\)$/,
    );
    const rate = await failure({
      type: 'failure-rate',
      maxFailuresPerInterval: 1,
      failureRateIntervalMs: 60_000,
      delayMs: 0,
    });
    expect(rate.notRestarted).toBe('2 failures within 60000 ms, more than the 1 allowed (failure-rate)');
    expect((await failure(undefined)).notRestarted).toBe('the restart strategy is none');
  });
});

describe('a job waiting to restart', () => {
  const slowRestarts: RestartStrategyConfig = { type: 'fixed-delay', attempts: 5, delayMs: 60_000 };

  it('ends at once when cancelled, not when the back-off is over', async () => {
    const started = performance.now();
    const e = await outcome(slowRestarts, {
      onStart: (master) => {
        const poll = setInterval(() => {
          if (master.status().state !== 'restarting') return;
          clearInterval(poll);
          master.cancel();
        }, 5);
      },
    });
    expect(e).toBeInstanceOf(JobCancelledError);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('ends at once when cancelled as it announces the restart', async () => {
    let master: JobMaster | undefined;
    const started = performance.now();
    const e = await outcome(slowRestarts, {
      onStart: (m) => {
        master = m;
      },
      log: (line) => {
        if (/restart 1 in/.test(line)) master!.cancel();
      },
    });
    expect(e).toBeInstanceOf(JobCancelledError);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
