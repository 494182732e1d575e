// Loads a job module and finds the job definition it default-exports.
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { refuseExecute } from '../api/environment.js';
import { madeByThisCopy } from '../api/job.js';
import { isJobDefinition, type JobDefinition } from '../index.js';
import { describeError, UsageError } from './errors.js';

/** @param file the path as the user typed it; messages repeat it so they can find it in their command. */
export async function loadJob(file: string): Promise<JobDefinition> {
  const path = resolve(file);
  const kind = await stat(path).then(
    (s) => (s.isFile() ? 'file' : 'other'),
    () => 'missing',
  );
  if (kind === 'missing') throw new UsageError(`job file not found: ${file}`);
  if (kind === 'other') {
    throw new UsageError(`job file ${file} is not a file; pass the job's .ts or .js file`);
  }

  let module: unknown;
  // Environments made now are refused for good: a call after an await is still this file's.
  refuseExecute(
    `${file} runs a job itself (env.execute()); weir run runs the job a file default-exports: ` +
      'export default defineJob({ name, build(env, args) { … } }) with the graph built in build(), or run such a program with tsx or node',
  );
  try {
    module = await import(pathToFileURL(path).href);
  } catch (e) {
    throw new UsageError(`cannot load job file ${file}: ${describeError(e)}`, { cause: e });
  }
  const job = defaultExport(module);
  if (job === undefined) {
    throw new UsageError(
      `${file} does not default-export a job; write: export default defineJob({ name, build(env, args) { … } })`,
    );
  }
  if (!madeByThisCopy(job))
    throw new UsageError(
      `${file} uses another copy of weir than the one running it (it imports weir by a path to other files), whose objects this weir cannot take for its own: import from 'weir' instead`,
    );
  // Lifted only for a file that is a job: after a refused one, weir ends still refusing (its
  // caller lifts it as it returns), so that a program of its own gets no moment to run.
  refuseExecute(undefined);
  return job;
}

function defaultExport(module: unknown): JobDefinition | undefined {
  const first = property(module, 'default');
  if (isJobDefinition(first)) return first;
  // tsx compiles a .ts file outside a "type": "module" package to CommonJS; depending on the
  // interop path, its `export default` then arrives one level deeper.
  const second = property(first, 'default');
  return isJobDefinition(second) ? second : undefined;
}

function property(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}
