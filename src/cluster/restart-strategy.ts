// How a job restarts after a failure, with Flink's strategies, semantics and defaults (Flink
// 1.19+): exponential delay when checkpointing is enabled, no restart when it is not.
// A strategy is a small state machine over failure times; it never reads a clock itself, so
// tests drive it with plain numbers, and jitter comes from an injectable random function.
import { MAX_TIMER_MS, MAX_TIMER_TEXT } from '../api/duration.js';

export type RestartStrategyType = 'none' | 'fixed-delay' | 'failure-rate' | 'exponential-delay';

export interface NoRestartConfig {
  readonly type: 'none';
}

export interface FixedDelayConfig {
  readonly type: 'fixed-delay';
  /** Restarts before the job fails for good (default 1). */
  readonly attempts?: number;
  /** Wait before each restart (default 1 s). */
  readonly delayMs?: number;
}

export interface FailureRateConfig {
  readonly type: 'failure-rate';
  /** Failures tolerated within any window of `failureRateIntervalMs` (default 1). */
  readonly maxFailuresPerInterval?: number;
  /** The window (default 1 min). */
  readonly failureRateIntervalMs?: number;
  /** Wait before each restart (default 1 s). */
  readonly delayMs?: number;
}

export interface ExponentialDelayConfig {
  readonly type: 'exponential-delay';
  /** The first delay (default 1 s). */
  readonly initialBackoffMs?: number;
  /** The longest delay (default 1 min). */
  readonly maxBackoffMs?: number;
  /** Each restart waits this much longer than the one before (default 1.5; more than 1). */
  readonly backoffMultiplier?: number;
  /** Running this long after a restart without failing resets the delay and the attempts (default 1 h). */
  readonly resetBackoffThresholdMs?: number;
  /** Each delay moves by up to this share of itself, up or down (default 0.1; 0 to 1). */
  readonly jitterFactor?: number;
  /** Restarts before the job fails for good, counted since the last reset (default unlimited). */
  readonly attempts?: number;
}

export type RestartStrategyConfig =
  NoRestartConfig | FixedDelayConfig | FailureRateConfig | ExponentialDelayConfig;

export type RestartDecision =
  { readonly restart: true; readonly delayMs: number } | { readonly restart: false; readonly reason: string };

export interface RestartStrategy {
  /** One line for logs, e.g. `fixed delay (3 attempts, 10000 ms apart)`. */
  readonly description: string;
  /** Called once per failure, with the time it happened (ms); decides whether and when to restart. */
  onFailure(now: number): RestartDecision;
}

export interface RestartStrategyOptions {
  /** A number in [0, 1), like Math.random (the default); inject it to make jitter deterministic. */
  readonly random?: () => number;
}

/** A restart strategy's configuration is not valid; the message names the setting and what is allowed. */
export class RestartStrategyConfigError extends Error {
  override readonly name = 'RestartStrategyConfigError';
}

export const RESTART_STRATEGY_TYPES: readonly RestartStrategyType[] = [
  'none',
  'fixed-delay',
  'failure-rate',
  'exponential-delay',
];

/** Flink's defaults (RestartStrategyOptions, 1.19+). */
export const RESTART_STRATEGY_DEFAULTS = {
  'fixed-delay': { attempts: 1, delayMs: 1000 },
  'failure-rate': { maxFailuresPerInterval: 1, failureRateIntervalMs: 60_000, delayMs: 1000 },
  'exponential-delay': {
    initialBackoffMs: 1000,
    maxBackoffMs: 60_000,
    backoffMultiplier: 1.5,
    resetBackoffThresholdMs: 3_600_000,
    jitterFactor: 0.1,
    attempts: Number.POSITIVE_INFINITY,
  },
} as const;

class NoRestart implements RestartStrategy {
  readonly description = 'no restarts';
  onFailure(): RestartDecision {
    return { restart: false, reason: 'the restart strategy is none' };
  }
}

/** Restarts `attempts` times, always `delayMs` after the failure. */
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
      return { restart: false, reason: `gave up after ${this.attempts} restart attempt(s) (fixed-delay)` };
    return { restart: true, delayMs: this.delayMs };
  }
}

/**
 * Restarts unless this failure makes more than `max` within `intervalMs`: Flink keeps the last
 * `max + 1` failure times and refuses when the oldest of them is no more than `intervalMs` ago.
 */
class FailureRate implements RestartStrategy {
  private readonly times: number[] = [];
  constructor(
    private readonly max: number,
    private readonly intervalMs: number,
    private readonly delayMs: number,
  ) {}
  get description(): string {
    return `failure rate (at most ${this.max} failure(s) per ${this.intervalMs} ms, ${this.delayMs} ms apart)`;
  }
  onFailure(now: number): RestartDecision {
    this.times.push(now);
    if (this.times.length > this.max + 1) this.times.shift();
    if (this.times.length > this.max && now - this.times[0]! <= this.intervalMs)
      return {
        restart: false,
        reason: `${this.times.length} failures within ${this.intervalMs} ms, more than the ${this.max} allowed (failure-rate)`,
      };
    return { restart: true, delayMs: this.delayMs };
  }
}

/**
 * Flink's exponential delay (1.19+): restart `n` (from 0 since the last reset) waits
 * `initial × multiplier^n`, moved by a jitter of up to ± `jitterFactor` of itself, kept within
 * [initial, max]. Every failed attempt counts (see onFailure). Running `resetThresholdMs` past
 * a restart without failing resets the delay and the attempt count.
 */
class ExponentialDelay implements RestartStrategy {
  private attempt = 0;
  /** When the scheduled restart happens; −∞ before the first failure. */
  private nextRestartAt = Number.NEGATIVE_INFINITY;
  constructor(
    private readonly initial: number,
    private readonly max: number,
    private readonly multiplier: number,
    private readonly resetThresholdMs: number,
    private readonly jitter: number,
    private readonly attempts: number,
    private readonly random: () => number,
  ) {}
  get description(): string {
    const attempts = Number.isFinite(this.attempts) ? `, ${this.attempts} attempts` : '';
    return `exponential delay (${this.initial} ms × ${this.multiplier} up to ${this.max} ms, ±${Math.round(this.jitter * 100)} %${attempts})`;
  }
  onFailure(now: number): RestartDecision {
    // Each call is a failed attempt, so each counts, even one in the millisecond of its restart
    // (or before it, by a timer that fired early): Flink merges failures that come before the
    // scheduled restart, which happens when its regions fail apart, but weir's job restarts
    // as a whole and reports one failure per attempt.
    if (now - this.nextRestartAt >= this.resetThresholdMs) this.attempt = 0;
    this.attempt++;
    if (this.attempt > this.attempts) return this.giveUp(); // no restart: the quiet period runs on from the last one
    const delay = this.delayFor(this.attempt - 1);
    this.nextRestartAt = now + delay;
    return { restart: true, delayMs: delay };
  }
  private giveUp(): RestartDecision {
    return {
      restart: false,
      reason: `gave up after ${this.attempts} restart attempt(s) without a quiet ${this.resetThresholdMs} ms (exponential-delay)`,
    };
  }
  private delayFor(attempt: number): number {
    // Capped only so the arithmetic stays finite after very many attempts; the cap to `max`
    // comes after the jitter, as in Flink.
    const backoff = Math.min(
      Math.floor(this.initial * Math.pow(this.multiplier, attempt)),
      Number.MAX_SAFE_INTEGER,
    );
    const offset = Math.floor(backoff * this.jitter);
    // An integer in [-offset, offset], uniform when `random` is.
    const drawn = Math.floor(this.random() * (2 * offset + 1)) - offset;
    const jitter = offset === 0 ? 0 : Math.min(offset, Math.max(-offset, drawn));
    return Math.max(this.initial, Math.min(backoff + jitter, this.max));
  }
}

// --- parsing ----------------------------------------------------------------------------------

const KEYS: Readonly<Record<RestartStrategyType, readonly string[]>> = {
  none: ['type'],
  'fixed-delay': ['type', 'attempts', 'delayMs'],
  'failure-rate': ['type', 'maxFailuresPerInterval', 'failureRateIntervalMs', 'delayMs'],
  'exponential-delay': [
    'type',
    'initialBackoffMs',
    'maxBackoffMs',
    'backoffMultiplier',
    'resetBackoffThresholdMs',
    'jitterFactor',
    'attempts',
  ],
};

interface NumberRule {
  readonly min: number;
  /** Whether `min` itself is allowed (default true). */
  readonly minInclusive?: boolean;
  readonly max?: number;
  readonly integer: boolean;
  /** Infinity is allowed (unlimited attempts). */
  readonly unlimited?: boolean;
  /** A delay a timer waits: at most MAX_TIMER_MS. */
  readonly timer?: boolean;
}

function setting(
  type: RestartStrategyType,
  key: string,
  value: unknown,
  fallback: number,
  rule: NumberRule,
): number {
  if (value === undefined) return fallback;
  const inclusive = rule.minInclusive ?? true;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (Number.isFinite(value)
      ? !rule.integer || Number.isInteger(value)
      : rule.unlimited === true && value > 0) &&
    (inclusive ? value >= rule.min : value > rule.min) &&
    (rule.max === undefined || value <= rule.max);
  if (ok && rule.timer === true && value > MAX_TIMER_MS)
    throw new RestartStrategyConfigError(
      `restart strategy ${type}: ${key} must be at most ${MAX_TIMER_TEXT}, got ${describeValue(value)}`,
    );
  if (ok) return value;
  const kind = rule.integer ? 'an integer' : 'a number';
  const bound =
    rule.max !== undefined
      ? `from ${rule.min} to ${rule.max}`
      : `${inclusive ? '≥' : 'greater than'} ${rule.min}${rule.unlimited === true ? ' (or Infinity for unlimited)' : ''}`;
  throw new RestartStrategyConfigError(
    `restart strategy ${type}: ${key} must be ${kind} ${bound}, got ${describeValue(value)}`,
  );
}

function describeValue(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : String(v);
}

/**
 * Validates a strategy's settings, filling in Flink's defaults, and returns a fresh strategy
 * (each job needs its own: strategies count failures).
 */
export function parseRestartStrategy(
  config: RestartStrategyConfig,
  options: RestartStrategyOptions = {},
): RestartStrategy {
  const raw: unknown = config;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new RestartStrategyConfigError(
      `a restart strategy must be an object with a type (${RESTART_STRATEGY_TYPES.join(', ')}), got ${describeValue(raw)}`,
    );
  const c = raw as Record<string, unknown>;
  const type = c['type'];
  if (typeof type !== 'string' || !(RESTART_STRATEGY_TYPES as readonly string[]).includes(type))
    throw new RestartStrategyConfigError(
      `unknown restart strategy ${describeValue(type)}; use none, fixed-delay, failure-rate or exponential-delay`,
    );
  const t = type as RestartStrategyType;
  const unknownKeys = Object.keys(c).filter((k) => !KEYS[t].includes(k));
  if (unknownKeys.length > 0) {
    const allowed = KEYS[t].filter((k) => k !== 'type');
    throw new RestartStrategyConfigError(
      `restart strategy ${t}: unknown setting(s) ${unknownKeys.join(', ')}; ` +
        (allowed.length > 0 ? `allowed: ${allowed.join(', ')}` : 'it takes no settings'),
    );
  }
  const get = (key: string, fallback: number, rule: NumberRule): number =>
    setting(t, key, c[key], fallback, rule);

  switch (t) {
    case 'none':
      return new NoRestart();
    case 'fixed-delay': {
      const d = RESTART_STRATEGY_DEFAULTS['fixed-delay'];
      return new FixedDelay(
        get('attempts', d.attempts, { min: 0, integer: true }),
        get('delayMs', d.delayMs, { min: 0, integer: true, timer: true }),
      );
    }
    case 'failure-rate': {
      const d = RESTART_STRATEGY_DEFAULTS['failure-rate'];
      return new FailureRate(
        get('maxFailuresPerInterval', d.maxFailuresPerInterval, { min: 1, integer: true }),
        get('failureRateIntervalMs', d.failureRateIntervalMs, { min: 1, integer: true }),
        get('delayMs', d.delayMs, { min: 0, integer: true, timer: true }),
      );
    }
    case 'exponential-delay': {
      const d = RESTART_STRATEGY_DEFAULTS['exponential-delay'];
      const initial = get('initialBackoffMs', d.initialBackoffMs, { min: 1, integer: true, timer: true });
      const max = get('maxBackoffMs', d.maxBackoffMs, { min: 1, integer: true, timer: true });
      if (initial > max)
        throw new RestartStrategyConfigError(
          `restart strategy exponential-delay: initialBackoffMs (${initial}) must not be above maxBackoffMs (${max})`,
        );
      return new ExponentialDelay(
        initial,
        max,
        get('backoffMultiplier', d.backoffMultiplier, { min: 1, minInclusive: false, integer: false }),
        get('resetBackoffThresholdMs', d.resetBackoffThresholdMs, { min: 1, integer: true }),
        get('jitterFactor', d.jitterFactor, { min: 0, max: 1, integer: false }),
        get('attempts', d.attempts, { min: 1, integer: true, unlimited: true }),
        options.random ?? Math.random,
      );
    }
  }
}

/** Flink's rule: exponential delay (with its defaults) when checkpointing is enabled, no restart otherwise. */
export function defaultRestartStrategy(
  checkpointing: boolean,
  options: RestartStrategyOptions = {},
): RestartStrategy {
  return parseRestartStrategy(checkpointing ? { type: 'exponential-delay' } : { type: 'none' }, options);
}
