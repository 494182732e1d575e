import { readFileSync } from 'node:fs';

/** weir's version, from its package.json (one level up from both src/ and dist/). */
export function weirVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: unknown;
  };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
