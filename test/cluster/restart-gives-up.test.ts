// A job whose restart strategy allows no more restarts fails with the strategy's reason beside the
// failure's, as Flink's "recovery is suppressed by …" says which strategy stopped it.
import { describe, expect, it } from 'vitest';
import { JobCancelledError, JobFailedError } from '../../src/cluster/job-failed-error.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { DiscardingSink, StreamExecutionEnvironment, type RestartStrategyConfig } from '../../src/index.js';

async function failure(strategy: RestartStrategyConfig | undefined): Promise<JobFailedError> {
  const env = new StreamExecutionEnvironment({ parallelism: 1 });
  if (strategy !== undefined) env.setRestartStrategy(strategy);
  env
    .fromSequence(1, 100)
    .map((n) => {
      if (n === 50) throw new Error('always at 50');
      return n;
    })
    .sinkTo(new DiscardingSink());
  const e = await env.execute('gives-up').then(
    () => undefined,
    (x: unknown) => x,
  );
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
  it('ends at once when cancelled, not when the back-off is over', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 5, delayMs: 60_000 });
    env
      .fromSequence(1, 100)
      .map((n) => {
        if (n === 50) throw new Error('always at 50');
        return n;
      })
      .sinkTo(new DiscardingSink());
    const started = performance.now();
    const e = await env
      .execute('cancelled-while-waiting', {
        onStart: (master) => {
          const poll = setInterval(() => {
            if (master.status().state !== 'restarting') return;
            clearInterval(poll);
            master.cancel();
          }, 5);
        },
      })
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect(e).toBeInstanceOf(JobCancelledError);
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it('ends at once when cancelled as it announces the restart', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 5, delayMs: 60_000 });
    env
      .fromSequence(1, 100)
      .map((n) => {
        if (n === 50) throw new Error('always at 50');
        return n;
      })
      .sinkTo(new DiscardingSink());
    let master: JobMaster | undefined;
    const started = performance.now();
    const e = await env
      .execute('cancelled-on-announce', {
        onStart: (m) => {
          master = m;
        },
        log: (line) => {
          if (/restart 1 in/.test(line)) master!.cancel();
        },
      })
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    expect(e).toBeInstanceOf(JobCancelledError);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
