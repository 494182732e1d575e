// How a job restarts after a failure, with Flink's strategies and defaults: exponential delay when
// checkpointing is enabled, no restart when it is not.

export type RestartStrategyConfig =
  | { type: 'none' }
  | { type: 'fixed-delay'; attempts?: number; delayMs?: number }
  | {
      type: 'failure-rate';
      maxFailuresPerInterval?: number;
      failureRateIntervalMs?: number;
      delayMs?: number;
    }
  | {
      type: 'exponential-delay';
      initialBackoffMs?: number;
      maxBackoffMs?: number;
      backoffMultiplier?: number;
      resetBackoffThresholdMs?: number;
      jitterFactor?: number;
      attempts?: number;
    };

export type RestartDecision = { restart: true; delayMs: number } | { restart: false; reason: string };

export interface RestartStrategy {
  readonly description: string;
  /** Called once per failure, with the time it happened. */
  onFailure(now: number): RestartDecision;
}

export class RestartStrategyConfigError extends Error {
  override readonly name = 'RestartStrategyConfigError';
}

function num(v: number | undefined, fallback: number, what: string, min: number, integer = true): number {
  const x = v ?? fallback;
  if (typeof x !== 'number' || !Number.isFinite(x) || x < min || (integer && !Number.isInteger(x)))
    throw new RestartStrategyConfigError(
      `restart strategy: ${what} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${String(x)}`,
    );
  return x;
}

class NoRestart implements RestartStrategy {
  readonly description = 'no restarts';
  onFailure(): RestartDecision {
    return { restart: false, reason: 'the restart strategy is none (checkpointing is off)' };
  }
}

class FixedDelay implements RestartStrategy {
  private failures = 0;
  constructor(
    private readonly attempts: number,
    private readonly delayMs: number,
  ) {}
  get description(): string {
    return `fixed delay (${this.attempts} attempts, ${this.delayMs} ms apart)`;
  }
  onFailure(): RestartDecision {
    if (++this.failures > this.attempts)
      return { restart: false, reason: `gave up after ${this.attempts} restart attempts (fixed-delay)` };
    return { restart: true, delayMs: this.delayMs };
  }
}

class FailureRate implements RestartStrategy {
  private readonly times: number[] = [];
  constructor(
    private readonly max: number,
    private readonly intervalMs: number,
    private readonly delayMs: number,
  ) {}
  get description(): string {
    return `failure rate (at most ${this.max} failures per ${this.intervalMs} ms)`;
  }
  onFailure(now: number): RestartDecision {
    this.times.push(now);
    while (this.times.length > 0 && this.times[0]! <= now - this.intervalMs) this.times.shift();
    if (this.times.length > this.max)
      return {
        restart: false,
        reason: `more than ${this.max} failures within ${this.intervalMs} ms (failure-rate)`,
      };
    return { restart: true, delayMs: this.delayMs };
  }
}

class ExponentialDelay implements RestartStrategy {
  private backoff: number;
  private lastFailure = Number.NEGATIVE_INFINITY;
  private attemptsMade = 0;
  constructor(
    private readonly initial: number,
    private readonly max: number,
    private readonly multiplier: number,
    private readonly resetThreshold: number,
    private readonly jitter: number,
    private readonly attempts: number,
    private readonly random: () => number,
  ) {
    this.backoff = initial;
  }
  get description(): string {
    return `exponential delay (${this.initial} ms × ${this.multiplier} up to ${this.max} ms)`;
  }
  onFailure(now: number): RestartDecision {
    if (now - this.lastFailure >= this.resetThreshold) {
      this.backoff = this.initial;
      this.attemptsMade = 0;
    } else if (this.attemptsMade > 0) {
      this.backoff = Math.min(this.max, this.backoff * this.multiplier);
    }
    this.lastFailure = now;
    if (++this.attemptsMade > this.attempts)
      return {
        restart: false,
        reason: `gave up after ${this.attempts} restart attempts (exponential-delay)`,
      };
    const spread = this.backoff * this.jitter;
    const delay = Math.max(0, Math.round(this.backoff + (this.random() * 2 - 1) * spread));
    return { restart: true, delayMs: delay };
  }
}

/** Validates a strategy's settings, filling in Flink's defaults. */
export function parseRestartStrategy(
  config: RestartStrategyConfig,
  random: () => number = Math.random,
): RestartStrategy {
  switch (config?.type) {
    case 'none':
      return new NoRestart();
    case 'fixed-delay':
      return new FixedDelay(num(config.attempts, 1, 'attempts', 0), num(config.delayMs, 1000, 'delayMs', 0));
    case 'failure-rate':
      return new FailureRate(
        num(config.maxFailuresPerInterval, 1, 'maxFailuresPerInterval', 1),
        num(config.failureRateIntervalMs, 60_000, 'failureRateIntervalMs', 1),
        num(config.delayMs, 1000, 'delayMs', 0),
      );
    case 'exponential-delay':
      return new ExponentialDelay(
        num(config.initialBackoffMs, 1000, 'initialBackoffMs', 0),
        num(config.maxBackoffMs, 60_000, 'maxBackoffMs', 0),
        num(config.backoffMultiplier, 1.5, 'backoffMultiplier', 1, false),
        num(config.resetBackoffThresholdMs, 3_600_000, 'resetBackoffThresholdMs', 1),
        num(config.jitterFactor, 0.1, 'jitterFactor', 0, false),
        num(config.attempts, Number.MAX_SAFE_INTEGER, 'attempts', 0),
        random,
      );
    default:
      throw new RestartStrategyConfigError(
        `unknown restart strategy '${String((config as { type?: unknown })?.type)}'; use none, fixed-delay, failure-rate or exponential-delay`,
      );
  }
}

/** Flink's rule: exponential delay when checkpointing is enabled, no restart otherwise. */
export function defaultRestartStrategy(checkpointing: boolean): RestartStrategy {
  return parseRestartStrategy(checkpointing ? { type: 'exponential-delay' } : { type: 'none' });
}
