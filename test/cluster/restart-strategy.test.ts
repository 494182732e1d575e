import { describe, expect, it } from 'vitest';
import {
  defaultRestartStrategy,
  parseRestartStrategy,
  RestartStrategyConfigError,
} from '../../src/cluster/restart-strategy.js';

describe('restart strategies', () => {
  it('fixed-delay restarts a set number of times with the same delay', () => {
    const s = parseRestartStrategy({ type: 'fixed-delay', attempts: 2, delayMs: 50 });
    expect(s.onFailure(0)).toEqual({ restart: true, delayMs: 50 });
    expect(s.onFailure(10)).toEqual({ restart: true, delayMs: 50 });
    expect(s.onFailure(20)).toMatchObject({
      restart: false,
      reason: expect.stringMatching(/after 2 restart attempts/),
    });
  });

  it('failure-rate gives up only when too many failures fall within the interval', () => {
    const s = parseRestartStrategy({
      type: 'failure-rate',
      maxFailuresPerInterval: 2,
      failureRateIntervalMs: 1000,
      delayMs: 5,
    });
    expect(s.onFailure(0).restart).toBe(true);
    expect(s.onFailure(500).restart).toBe(true);
    expect(s.onFailure(1200).restart).toBe(true); // the failure at 0 has left the window
    expect(s.onFailure(1300).restart).toBe(false);
  });

  it('exponential-delay grows by the multiplier up to the max, with jitter, and resets after a quiet period', () => {
    const s = parseRestartStrategy(
      {
        type: 'exponential-delay',
        initialBackoffMs: 100,
        maxBackoffMs: 300,
        backoffMultiplier: 2,
        resetBackoffThresholdMs: 10_000,
        jitterFactor: 0.1,
      },
      () => 1, // the top of the jitter range: +10 %
    );
    const delays = [0, 1, 2, 3].map((t) => (s.onFailure(t) as { delayMs: number }).delayMs);
    expect(delays).toEqual([110, 220, 330, 330]);
    expect(s.onFailure(20_000)).toEqual({ restart: true, delayMs: 110 });
  });

  it('defaults to exponential delay with checkpointing and to no restart without', () => {
    expect(defaultRestartStrategy(true).description).toMatch(/exponential/);
    expect(defaultRestartStrategy(false).onFailure(0).restart).toBe(false);
  });

  it('names the allowed strategies and the bad setting', () => {
    expect(() => parseRestartStrategy({ type: 'sometimes' } as never)).toThrow(RestartStrategyConfigError);
    expect(() => parseRestartStrategy({ type: 'sometimes' } as never)).toThrow(
      /none, fixed-delay, failure-rate or exponential-delay/,
    );
    expect(() => parseRestartStrategy({ type: 'fixed-delay', attempts: -1 })).toThrow(
      /attempts must be an integer ≥ 0/,
    );
  });
});
