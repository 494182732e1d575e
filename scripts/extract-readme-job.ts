// Writes the README's job example to test/generated/readme-job.ts, so that `npm run typecheck`
// checks it as the strict TypeScript a user would paste (test/cli/run.test.ts runs it). The
// folder is not committed: it is made again before every type check.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/** The README's ```ts block that defines a job; throws when there is none. */
export function readmeJobSource(): string {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const job = [...readme.matchAll(/^```ts\n(.*?)^```$/gms)]
    .map((m) => m[1]!)
    .find((b) => b.includes('defineJob('));
  if (job === undefined) throw new Error('README.md has no ```ts block with defineJob(');
  return job;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  mkdirSync(new URL('../test/generated/', import.meta.url), { recursive: true });
  writeFileSync(
    new URL('../test/generated/readme-job.ts', import.meta.url),
    `// Generated from README.md by scripts/extract-readme-job.ts; do not edit.\n${readmeJobSource()}`,
  );
}
