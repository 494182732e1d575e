// Restart strategies with Flink's semantics, driven by failure times (no real clock) and an
// injected random function, so every delay is exact.
import { describe, expect, it } from 'vitest';
import {
  RESTART_STRATEGY_DEFAULTS,
  RestartStrategyConfigError,
  defaultRestartStrategy,
  parseRestartStrategy,
  type RestartDecision,
  type RestartStrategy,
  type RestartStrategyConfig,
} from '../../src/cluster/restart-strategy.js';

/** The top of the jitter range (Math.random never returns 1). */
const HIGH = (): number => 0.999999;
const LOW = (): number => 0;
const MIDDLE = (): number => 0.5;

/** Feeds failures at the given times; `restart: false` decisions become their reason. */
function run(s: RestartStrategy, times: readonly number[]): Array<number | string> {
  return times.map((t) => {
    const d: RestartDecision = s.onFailure(t);
    return d.restart ? d.delayMs : d.reason;
  });
}

function configError(config: unknown): string {
  try {
    parseRestartStrategy(config as RestartStrategyConfig);
  } catch (e) {
    expect(e).toBeInstanceOf(RestartStrategyConfigError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('fixed-delay', () => {
  it('restarts a set number of times with the same delay, then gives up', () => {
    const s = parseRestartStrategy({ type: 'fixed-delay', attempts: 2, delayMs: 50 });
    expect(run(s, [0, 10, 20, 30])).toEqual([
      50,
      50,
      'gave up after 2 restart attempt(s) (fixed-delay)',
      'gave up after 2 restart attempt(s) (fixed-delay)',
    ]);
    expect(s.description).toBe('fixed delay (2 attempts, 50 ms apart)');
  });

  it("uses Flink's defaults: one attempt, 1 s", () => {
    expect(run(parseRestartStrategy({ type: 'fixed-delay' }), [0, 5000])).toEqual([
      1000,
      'gave up after 1 restart attempt(s) (fixed-delay)',
    ]);
  });

  it('never restarts with 0 attempts', () => {
    expect(parseRestartStrategy({ type: 'fixed-delay', attempts: 0 }).onFailure(0).restart).toBe(false);
  });
});

describe('failure-rate', () => {
  const twoPerSecond = (): RestartStrategy =>
    parseRestartStrategy({
      type: 'failure-rate',
      maxFailuresPerInterval: 2,
      failureRateIntervalMs: 1000,
      delayMs: 5,
    });

  it('gives up when one failure too many falls within the interval, the interval boundary included', () => {
    expect(run(twoPerSecond(), [0, 500, 1000])).toEqual([
      5,
      5,
      '3 failures within 1000 ms, more than the 2 allowed (failure-rate)',
    ]);
  });

  it('keeps restarting while the oldest of the last failures has left the window', () => {
    expect(run(twoPerSecond(), [0, 500, 1001, 1600, 2001])).toEqual([
      5,
      5,
      5, // the failure at 0 is 1001 ms old
      5, // 500 left the window at 1501
      '3 failures within 1000 ms, more than the 2 allowed (failure-rate)', // 1001, 1600, 2001
    ]);
  });

  it("uses Flink's defaults: one failure per minute, 1 s apart", () => {
    const s = parseRestartStrategy({ type: 'failure-rate' });
    expect(run(s, [0, 60_001, 120_002])).toEqual([1000, 1000, 1000]);
    expect(s.onFailure(180_000).restart).toBe(false);
  });
});

describe('exponential-delay', () => {
  it("grows by Flink's default multiplier 1.5 from 1 s, with up to ±10 % jitter", () => {
    const high = defaultRestartStrategy(true, { random: HIGH });
    expect(run(high, [0, 2000, 4000, 7000])).toEqual([1100, 1650, 2475, 3712]);
    const middle = defaultRestartStrategy(true, { random: MIDDLE });
    expect(run(middle, [0, 2000, 4000])).toEqual([1000, 1500, 2250]);
    // Jitter never takes a delay below the initial backoff.
    const low = defaultRestartStrategy(true, { random: LOW });
    expect(run(low, [0, 2000, 4000])).toEqual([1000, 1350, 2025]);
  });

  it('never waits longer than the max backoff, jitter included', () => {
    const s = parseRestartStrategy(
      { type: 'exponential-delay', initialBackoffMs: 100, maxBackoffMs: 300, backoffMultiplier: 2 },
      { random: HIGH },
    );
    expect(run(s, [0, 200, 500, 1000])).toEqual([110, 220, 300, 300]);
  });

  it('resets the backoff after running the threshold past the last restart without a failure', () => {
    const s = parseRestartStrategy(
      {
        type: 'exponential-delay',
        initialBackoffMs: 100,
        maxBackoffMs: 10_000,
        backoffMultiplier: 2,
        resetBackoffThresholdMs: 10_000,
        jitterFactor: 0,
      },
      { random: HIGH },
    );
    expect(run(s, [0, 200])).toEqual([100, 200]); // the restart happens at 400
    expect(run(s, [10_399])).toEqual([400]); // 1 ms short of the threshold; restart at 10 799
    expect(run(s, [20_799])).toEqual([100]);
  });

  it('counts every failure, also one in the millisecond of its restart or before it (a timer that fired early)', () => {
    const s = parseRestartStrategy(
      {
        type: 'exponential-delay',
        initialBackoffMs: 100,
        backoffMultiplier: 2,
        jitterFactor: 0,
        attempts: 3,
      },
      { random: HIGH },
    );
    const gaveUp = 'gave up after 3 restart attempt(s) without a quiet 3600000 ms (exponential-delay)';
    expect(run(s, [0, 100, 299, 700])).toEqual([100, 200, 400, gaveUp]);
  });

  it('gives up after the configured attempts, and starts counting again after a quiet period', () => {
    const s = parseRestartStrategy(
      {
        type: 'exponential-delay',
        initialBackoffMs: 100,
        backoffMultiplier: 2,
        jitterFactor: 0,
        resetBackoffThresholdMs: 10_000,
        attempts: 2,
      },
      { random: HIGH },
    );
    const gaveUp = 'gave up after 2 restart attempt(s) without a quiet 10000 ms (exponential-delay)';
    expect(run(s, [0, 200, 500, 600])).toEqual([100, 200, gaveUp, gaveUp]);
    expect(run(s, [10_900])).toEqual([100]);
  });

  it("uses Flink's 1.19+ defaults", () => {
    expect(RESTART_STRATEGY_DEFAULTS['exponential-delay']).toEqual({
      initialBackoffMs: 1000,
      maxBackoffMs: 60_000,
      backoffMultiplier: 1.5,
      resetBackoffThresholdMs: 3_600_000,
      jitterFactor: 0.1,
      attempts: Number.POSITIVE_INFINITY,
    });
    const s = defaultRestartStrategy(true, { random: MIDDLE });
    expect(s.description).toBe('exponential delay (1000 ms × 1.5 up to 60000 ms, ±10 %)');
    // 1000 × 1.5^n passes 60 s at n = 11; it stays there and never gives up.
    const times = Array.from({ length: 40 }, (_, i) => i * 120_000);
    const delays = run(s, times);
    expect(delays.slice(0, 3)).toEqual([1000, 1500, 2250]);
    expect(delays.slice(10, 13)).toEqual([57_665, 60_000, 60_000]);
    expect(delays.every((d) => typeof d === 'number')).toBe(true);
  });
});

describe('defaults and validation', () => {
  it('defaults to exponential delay with checkpointing and to no restart without', () => {
    expect(defaultRestartStrategy(true).description).toMatch(/^exponential delay/);
    const none = defaultRestartStrategy(false);
    expect(none.description).toBe('no restarts');
    expect(none.onFailure(0)).toEqual({ restart: false, reason: 'the restart strategy is none' });
  });

  it('names the allowed strategies for an unknown one', () => {
    expect(configError({ type: 'sometimes' })).toBe(
      "unknown restart strategy 'sometimes'; use none, fixed-delay, failure-rate or exponential-delay",
    );
    expect(configError({})).toBe(
      'unknown restart strategy undefined; use none, fixed-delay, failure-rate or exponential-delay',
    );
    expect(configError(null)).toBe(
      'a restart strategy must be an object with a type (none, fixed-delay, failure-rate, exponential-delay), got null',
    );
  });

  it('names the bad setting and its allowed values', () => {
    expect(configError({ type: 'fixed-delay', attempts: -1 })).toBe(
      'restart strategy fixed-delay: attempts must be an integer ≥ 0, got -1',
    );
    expect(configError({ type: 'fixed-delay', delayMs: 1.5 })).toBe(
      'restart strategy fixed-delay: delayMs must be an integer ≥ 0, got 1.5',
    );
    expect(configError({ type: 'fixed-delay', attempts: Number.POSITIVE_INFINITY })).toBe(
      'restart strategy fixed-delay: attempts must be an integer ≥ 0, got Infinity',
    );
    expect(configError({ type: 'failure-rate', maxFailuresPerInterval: 0 })).toBe(
      'restart strategy failure-rate: maxFailuresPerInterval must be an integer ≥ 1, got 0',
    );
    expect(configError({ type: 'exponential-delay', backoffMultiplier: 1 })).toBe(
      'restart strategy exponential-delay: backoffMultiplier must be a number greater than 1, got 1',
    );
    expect(configError({ type: 'exponential-delay', jitterFactor: 1.5 })).toBe(
      'restart strategy exponential-delay: jitterFactor must be a number from 0 to 1, got 1.5',
    );
    expect(configError({ type: 'exponential-delay', attempts: Number.NaN })).toBe(
      'restart strategy exponential-delay: attempts must be an integer ≥ 1 (or Infinity for unlimited), got NaN',
    );
    expect(configError({ type: 'exponential-delay', initialBackoffMs: '1s' })).toBe(
      "restart strategy exponential-delay: initialBackoffMs must be an integer ≥ 1, got '1s'",
    );
    const longest = '2147483647 ms (about 24.8 days, the longest a Node.js timer waits)';
    expect(configError({ type: 'fixed-delay', delayMs: 2 ** 31 })).toBe(
      `restart strategy fixed-delay: delayMs must be at most ${longest}, got 2147483648`,
    );
    expect(configError({ type: 'failure-rate', delayMs: 3e9 })).toMatch(
      /delayMs must be at most 2147483647 ms/,
    );
    expect(configError({ type: 'exponential-delay', maxBackoffMs: 3e9 })).toMatch(
      /maxBackoffMs must be at most 2147483647 ms/,
    );
    expect(configError({ type: 'exponential-delay', initialBackoffMs: 2000, maxBackoffMs: 1000 })).toBe(
      'restart strategy exponential-delay: initialBackoffMs (2000) must not be above maxBackoffMs (1000)',
    );
  });

  it('refuses settings a strategy does not have, naming those it does', () => {
    expect(configError({ type: 'fixed-delay', delay: 100 })).toBe(
      'restart strategy fixed-delay: unknown setting(s) delay; allowed: attempts, delayMs',
    );
    expect(configError({ type: 'none', attempts: 3 })).toBe(
      'restart strategy none: unknown setting(s) attempts; it takes no settings',
    );
  });

  it('gives each parse its own failure count', () => {
    const config: RestartStrategyConfig = { type: 'fixed-delay', attempts: 1, delayMs: 0 };
    const a = parseRestartStrategy(config);
    expect(a.onFailure(0).restart).toBe(true);
    expect(a.onFailure(1).restart).toBe(false);
    expect(parseRestartStrategy(config).onFailure(2).restart).toBe(true);
  });
});
