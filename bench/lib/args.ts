// Command-line helpers shared by `npm run bench` and `npm run bench:nexmark`.

/** A mistake in the arguments: printed as one line with the usage, exit code 2. */
export class UsageError extends Error {}

/** A count such as 5, 2e6, 500k or 10M (underscores allowed); positive unless `allowZero`. */
export function parseCount(flag: string, text: string | undefined, allowZero = false): number {
  if (text === undefined || text.startsWith('--')) throw new UsageError(`${flag} needs a number`);
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)([kKmM]?)$/.exec(text.replaceAll('_', ''));
  const n = m === null ? NaN : Number(m[1]) * (m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6);
  if (!Number.isSafeInteger(n) || n < (allowZero ? 0 : 1))
    throw new UsageError(`${flag} needs a ${allowZero ? 'non-negative' : 'positive'} integer, got '${text}'`);
  return n;
}
