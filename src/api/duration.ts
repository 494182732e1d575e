// Durations as users write them: "500ms", "10s", "2min", "1h", or a plain number of milliseconds.

const UNITS: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000 };

/**
 * Milliseconds, or undefined for anything else, including a duration that is not a whole number
 * of milliseconds ("0.1ms" rounded to 0 would turn checkpointing off without a word). Worked out
 * on the digits as written, so that no value is close enough to be taken for another.
 */
export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+)(?:\.(\d+))?\s*(ms|s|sec|m|min|h)?\s*$/.exec(text);
  if (m === null) return undefined;
  const fraction = m[2] ?? '';
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(m[1]! + fraction) * BigInt(UNITS[m[3] ?? 'ms']!);
  if (scaled % scale !== 0n) return undefined;
  const ms = Number(scaled / scale);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The longest delay a Node.js timer keeps (2^31 - 1 ms, about 24.8 days): a longer one fires
 * after 1 ms, with a warning. Settings that become timers are refused above it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a setting over MAX_TIMER_MS is told. */
export const MAX_TIMER_TEXT = `${MAX_TIMER_MS} ms (about 24.8 days, the longest a Node.js timer waits)`;
