// The progress line a running job prints every few seconds (stderr in the CLI):
//   [word-count] 12.3s  in 1.84 M/s  out 1.84 M/s  checkpoint 7 (12.4 MB in 310 ms)
// "in" is records the job's sources read, "out" records its sinks took, each counted since the
// previous line over the time since it. The line is built by a pure function over the job's
// status; the reporter only adds the timer.
import type { CheckpointStatsView, JobStatusProvider, JobStatusView } from './job-status.js';

export const DEFAULT_PROGRESS_INTERVAL_MS = 5000;

/**
 * The interval the environment asks for: WEIR_PROGRESS_INTERVAL_MS (milliseconds, 0 = no progress
 * line), else the default. A value that is not a whole number is ignored.
 */
export function progressIntervalMs(env: Readonly<Record<string, string | undefined>> = process.env): number {
  const raw = env.WEIR_PROGRESS_INTERVAL_MS;
  if (raw === undefined || !/^\d+$/.test(raw)) return DEFAULT_PROGRESS_INTERVAL_MS;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : DEFAULT_PROGRESS_INTERVAL_MS;
}

export interface ProgressReporterOptions {
  /** Where lines go, e.g. process.stderr. */
  readonly stream: { write(text: string): unknown };
  /** Milliseconds between lines (default 5000); 0 prints nothing. */
  readonly intervalMs?: number;
  /** A monotonic clock in milliseconds, for the rates (default performance.now). */
  readonly now?: () => number;
}

/** Prints a progress line every interval until stop(); its timer never keeps the process alive. */
export class ProgressReporter {
  private readonly intervalMs: number;
  private readonly now: () => number;
  private timer: ReturnType<typeof setInterval> | undefined;
  private previous: { at: number; recordsIn: number; recordsOut: number } | undefined;

  constructor(
    private readonly job: JobStatusProvider,
    private readonly options: ProgressReporterOptions,
  ) {
    this.intervalMs = options.intervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
    this.now = options.now ?? (() => performance.now());
  }

  /** Takes the counts rates start from, and prints the first line one interval from now. */
  start(): void {
    if (this.timer !== undefined || this.intervalMs <= 0) return;
    this.previous = this.sample();
    this.timer = setInterval(() => this.report(), this.intervalMs);
    this.timer.unref();
  }

  /** Prints one line now (what the timer calls). A status that cannot be read skips the line. */
  report(): void {
    let status: JobStatusView;
    let history: CheckpointStatsView[];
    try {
      status = this.job.status();
      history = this.job.checkpoints();
    } catch {
      return;
    }
    const at = this.now();
    const prev = this.previous ?? { at, recordsIn: status.recordsIn, recordsOut: status.recordsOut };
    const seconds = (at - prev.at) / 1000;
    const rate = (now: number, before: number): number =>
      seconds > 0 ? Math.max(0, now - before) / seconds : 0;
    this.previous = { at, recordsIn: status.recordsIn, recordsOut: status.recordsOut };
    this.options.stream.write(
      progressLine(status, history, {
        in: rate(status.recordsIn, prev.recordsIn),
        out: rate(status.recordsOut, prev.recordsOut),
      }) + '\n',
    );
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private sample(): { at: number; recordsIn: number; recordsOut: number } | undefined {
    try {
      const s = this.job.status();
      return { at: this.now(), recordsIn: s.recordsIn, recordsOut: s.recordsOut };
    } catch {
      return undefined;
    }
  }
}

/**
 * One progress line, without the newline. `history` is newest first; `rates` are records per
 * second. Parts: job name, uptime, the state when not running, rates, the newest completed
 * checkpoint (and a newer failed one), the restarts so far.
 */
export function progressLine(
  status: JobStatusView,
  history: readonly CheckpointStatsView[],
  rates: { readonly in: number; readonly out: number },
): string {
  const parts = [`[${status.jobName}] ${formatUptime(status.durationMs)}`];
  if (status.state !== 'running') parts.push(status.state);
  parts.push(`in ${formatRate(rates.in)}`, `out ${formatRate(rates.out)}`, checkpointPart(status, history));
  if (status.restarts > 0) parts.push(`restarts ${status.restarts}`);
  return parts.join('  ');
}

/**
 * The line a job that ran to its end closes with, e.g. `weir: job 'word-count' (id) finished in
 * 6.23 s: 15.0 M records read, 1.20 M written; 18 checkpoints, last checkpoint 18 (69.6 kB in
 * 64 ms)`. `status` and `history` span every attempt; `savepoints` is how many of the completed
 * snapshots were savepoints, `failed` how many checkpoints failed (aborted ones not counted).
 */
export function finishLine(
  status: JobStatusView,
  history: readonly CheckpointStatsView[],
  { savepoints, failed }: { readonly savepoints: number; readonly failed: number },
): string {
  let text = `weir: job '${status.jobName}' (${status.jobId}) finished in ${formatMillis(status.durationMs)}: `;
  // Counted as the progress line counts them; after a restart they include what was replayed,
  // so they are left out then.
  if (status.restarts === 0)
    text += `${formatCount(status.recordsIn)} record${status.recordsIn === 1 ? '' : 's'} read, ${formatCount(status.recordsOut)} written; `;
  // Without checkpointing, the commit when the sources end is no checkpoint the user asked for.
  if (status.checkpointing.intervalMs <= 0) text += 'checkpoints off';
  else {
    const completed = status.counts.completed - savepoints;
    const last = history.find((c) => c.status === 'completed' && c.kind === 'checkpoint');
    text += `${completed} checkpoint${completed === 1 ? '' : 's'}`;
    if (last !== undefined) text += `, last ${describeCompleted(last)}`;
    if (failed > 0) text += `, ${failed} failed`;
  }
  if (savepoints > 0) text += `; ${savepoints} savepoint${savepoints === 1 ? '' : 's'}`;
  if (status.restarts > 0) text += `; restarts ${status.restarts}`;
  return text;
}

function lastCompleted(
  status: JobStatusView,
  history: readonly CheckpointStatsView[],
): CheckpointStatsView | undefined {
  return status.lastCheckpoint?.status === 'completed'
    ? status.lastCheckpoint
    : history.find((c) => c.status === 'completed');
}

/** `checkpoint 7 (12.4 MB in 310 ms)`. */
function describeCompleted(last: CheckpointStatsView): string {
  const size = last.sizeBytes === null ? undefined : formatBytes(last.sizeBytes);
  const took = last.durationMs === null ? undefined : formatMillis(last.durationMs);
  const detail = size !== undefined && took !== undefined ? `${size} in ${took}` : (size ?? took);
  return `${last.kind} ${last.id}${detail === undefined ? '' : ` (${detail})`}`;
}

function checkpointPart(status: JobStatusView, history: readonly CheckpointStatsView[]): string {
  const last = lastCompleted(status, history);
  const newest = history[0];
  if (last === undefined) {
    if (status.checkpointing.intervalMs <= 0 && history.length === 0) return 'checkpoints off';
    const failed = status.counts.failed;
    return failed > 0 ? `no checkpoint yet (${failed} failed)` : 'no checkpoint yet';
  }
  let text = describeCompleted(last);
  if (newest !== undefined && newest.status === 'failed' && newest.id > last.id)
    text += `, ${newest.id} failed`;
  return text;
}

/** Three significant digits and a decimal unit prefix: 523, 12.5 k, 1.84 M (999.6 k is 1.00 M). */
function scaled(value: number): { digits: string; prefix: string } {
  const prefixes = ['', 'k', 'M', 'G', 'T'];
  const rounded = (x: number, unit: number): number =>
    unit === 0 ? Math.round(x) : Number(x.toPrecision(3));
  let v = Math.max(0, value);
  let i = 0;
  while (i < prefixes.length - 1 && rounded(v, i) >= 1000) {
    v /= 1000;
    i++;
  }
  if (i === 0) return { digits: String(Math.round(v)), prefix: '' };
  const r = rounded(v, i);
  return { digits: r.toFixed(r >= 100 ? 0 : r >= 10 ? 1 : 2), prefix: prefixes[i]! };
}

/** A count: `523`, `12.5 k`, `1.84 M`. */
export function formatCount(n: number): string {
  const { digits, prefix } = scaled(n);
  return prefix === '' ? digits : `${digits} ${prefix}`;
}

/** Records per second: `0/s`, `523/s`, `12.5 k/s`, `1.84 M/s`. */
export function formatRate(perSecond: number): string {
  const { digits, prefix } = scaled(perSecond);
  return prefix === '' ? `${digits}/s` : `${digits} ${prefix}/s`;
}

/** Bytes with decimal units: `512 B`, `12.4 kB`, `1.84 MB`. */
export function formatBytes(bytes: number): string {
  const { digits, prefix } = scaled(bytes);
  return `${digits} ${prefix}B`;
}

/** A short duration: `310 ms`, `1.24 s`, `12.3 s`, then as formatUptime. */
export function formatMillis(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) {
    const s = ms / 1000;
    return `${s.toFixed(s >= 10 ? 1 : 2)} s`;
  }
  return formatUptime(ms);
}

/** How long a job has run: `12.3s`, `4m05s`, `2h03m`, `3d04h`. */
export function formatUptime(ms: number): string {
  const seconds = Math.max(0, ms) / 1000;
  if (seconds < 60) return `${(Math.floor(seconds * 10) / 10).toFixed(1)}s`;
  const total = Math.floor(seconds);
  const [d, h, m, s] = [
    Math.floor(total / 86400),
    Math.floor(total / 3600) % 24,
    Math.floor(total / 60) % 60,
    total % 60,
  ];
  const two = (n: number): string => String(n).padStart(2, '0');
  if (d > 0) return `${d}d${two(h)}h`;
  if (h > 0) return `${h}h${two(m)}m`;
  return `${m}m${two(s)}s`;
}
