// Checkpointing settings of a job, validated as they are set, with Flink's defaults.
// Checkpoints themselves are taken by the checkpoint coordinator (checkpoint/).
import { pathOfFileUrl } from '../storage/file-url.js';
import { MAX_TIMER_MS, MAX_TIMER_TEXT } from './duration.js';

export type CheckpointingMode = 'exactly-once' | 'at-least-once';
export type ExternalizedCheckpointRetention = 'delete-on-cancellation' | 'retain-on-cancellation' | 'never';

export interface CheckpointSettings {
  /** 0 disables periodic checkpoints. */
  readonly intervalMs: number;
  readonly mode: CheckpointingMode;
  readonly timeoutMs: number;
  readonly minPauseMs: number;
  readonly maxConcurrent: number;
  readonly tolerableFailures: number;
  readonly numRetained: number;
  readonly retention: ExternalizedCheckpointRetention;
  /** Where checkpoints are written; default `$WEIR_HOME/checkpoints`. */
  readonly dir?: string | undefined;
}

export const DEFAULT_CHECKPOINT_SETTINGS: CheckpointSettings = {
  intervalMs: 0,
  mode: 'exactly-once',
  timeoutMs: 10 * 60_000,
  minPauseMs: 0,
  maxConcurrent: 1,
  tolerableFailures: 0,
  numRetained: 1,
  retention: 'delete-on-cancellation',
};

/** The keys configure() takes. */
const SETTING_KEYS = [
  'intervalMs',
  'mode',
  'timeoutMs',
  'minPauseMs',
  'maxConcurrent',
  'tolerableFailures',
  'numRetained',
  'retention',
  'dir',
] as const satisfies ReadonlyArray<keyof CheckpointSettings>;

export class CheckpointConfigError extends Error {
  override readonly name = 'CheckpointConfigError';
}

export class CheckpointConfig {
  private s: CheckpointSettings = DEFAULT_CHECKPOINT_SETTINGS;

  get settings(): CheckpointSettings {
    return this.s;
  }

  get enabled(): boolean {
    return this.s.intervalMs > 0;
  }

  setInterval(ms: number): this {
    return this.set('intervalMs', timer('checkpoint interval', nonNegative('checkpoint interval', ms)));
  }
  setMode(mode: CheckpointingMode): this {
    if (mode !== 'exactly-once' && mode !== 'at-least-once') {
      throw new CheckpointConfigError(
        `checkpointing mode must be 'exactly-once' or 'at-least-once', got '${String(mode)}'`,
      );
    }
    return this.set('mode', mode);
  }
  setTimeout(ms: number): this {
    return this.set('timeoutMs', timer('checkpoint timeout', positive('checkpoint timeout', ms)));
  }
  setMinPauseBetweenCheckpoints(ms: number): this {
    const what = 'min pause between checkpoints';
    return this.set('minPauseMs', timer(what, nonNegative(what, ms)));
  }
  setMaxConcurrentCheckpoints(n: number): this {
    return this.set('maxConcurrent', positive('max concurrent checkpoints', n));
  }
  setTolerableCheckpointFailureNumber(n: number): this {
    return this.set('tolerableFailures', nonNegative('tolerable checkpoint failures', n));
  }
  setNumRetainedCheckpoints(n: number): this {
    return this.set('numRetained', positive('retained checkpoints', n));
  }
  setExternalizedCheckpointRetention(r: ExternalizedCheckpointRetention): this {
    if (!['delete-on-cancellation', 'retain-on-cancellation', 'never'].includes(r)) {
      throw new CheckpointConfigError(
        `checkpoint retention must be delete-on-cancellation, retain-on-cancellation or never, got '${String(r)}'`,
      );
    }
    return this.set('retention', r);
  }

  /** The folder checkpoints are written to (`<dir>/<job-id>/chk-<n>`). */
  setCheckpointStorage(dir: string): this {
    if (typeof dir !== 'string' || dir.length === 0)
      throw new CheckpointConfigError('the checkpoint directory must be a non-empty path');
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(dir) && !/^file:\/\//i.test(dir))
      throw new CheckpointConfigError(
        `checkpoint storage '${dir}' is not supported by this version of weir; use a local or mounted folder`,
      );
    return this.set('dir', /^file:\/\//i.test(dir) ? localPathOf(dir) : dir);
  }

  /**
   * Applies several settings at once, e.g. from a config object, each checked as its setter
   * checks it; a key that is not a setting is refused (a misspelt `interval` must not leave
   * checkpoints off without a word).
   */
  configure(settings: Partial<CheckpointSettings>): this {
    const raw: unknown = settings;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new CheckpointConfigError(`checkpoint settings must be an object, got ${String(raw)}`);
    const unknown = Object.keys(raw).filter((k) => !(SETTING_KEYS as readonly string[]).includes(k));
    if (unknown.length > 0)
      throw new CheckpointConfigError(
        `unknown checkpoint setting(s) ${unknown.join(', ')}; allowed: ${SETTING_KEYS.join(', ')}`,
      );
    // Checked on a copy first: a bad value leaves every setting as it was.
    const next = new CheckpointConfig();
    next.s = this.s;
    if (settings.intervalMs !== undefined) next.setInterval(settings.intervalMs);
    if (settings.mode !== undefined) next.setMode(settings.mode);
    if (settings.timeoutMs !== undefined) next.setTimeout(settings.timeoutMs);
    if (settings.minPauseMs !== undefined) next.setMinPauseBetweenCheckpoints(settings.minPauseMs);
    if (settings.maxConcurrent !== undefined) next.setMaxConcurrentCheckpoints(settings.maxConcurrent);
    if (settings.tolerableFailures !== undefined)
      next.setTolerableCheckpointFailureNumber(settings.tolerableFailures);
    if (settings.numRetained !== undefined) next.setNumRetainedCheckpoints(settings.numRetained);
    if (settings.retention !== undefined) next.setExternalizedCheckpointRetention(settings.retention);
    if (settings.dir !== undefined) next.setCheckpointStorage(settings.dir);
    this.s = next.s;
    return this;
  }

  private set<K extends keyof CheckpointSettings>(key: K, value: CheckpointSettings[K]): this {
    this.s = { ...this.s, [key]: value };
    return this;
  }
}

function nonNegative(what: string, n: number): number {
  if (!Number.isInteger(n) || n < 0)
    throw new CheckpointConfigError(`${what} must be a non-negative integer, got ${n}`);
  return n;
}

function positive(what: string, n: number): number {
  if (!Number.isInteger(n) || n < 1)
    throw new CheckpointConfigError(`${what} must be a positive integer, got ${n}`);
  return n;
}

function timer(what: string, ms: number): number {
  if (ms > MAX_TIMER_MS)
    throw new CheckpointConfigError(`${what} must be at most ${MAX_TIMER_TEXT}, got ${ms}`);
  return ms;
}

/** The path of a `file:` URL of this machine; one naming a host is refused. */
function localPathOf(url: string): string {
  return pathOfFileUrl(url, (m, cause) => new CheckpointConfigError(`checkpoint directory ${m}`, { cause }));
}
