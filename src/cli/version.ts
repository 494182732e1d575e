import { readFileSync } from 'node:fs';

/** weir's version, from its package.json (two levels up from both src/cli and dist/cli). */
export function weirVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
