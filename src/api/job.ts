// A job module default-exports a job definition; `weir run` loads it and calls build().
import type { StreamExecutionEnvironment } from './environment.js';

const JOB_BRAND = Symbol.for('weir.job-definition');
/** Private to this copy of weir's modules: a definition made by another copy lacks it. */
const MADE_HERE = Symbol('weir.job-definition.made-here');

export interface JobDefinition {
  /** The job's name: shown everywhere, and what --resume matches checkpoints by. */
  readonly name: string;
  /** Builds the graph on `env`. `args` are the job's own arguments (after `--` on the command line). */
  build(env: StreamExecutionEnvironment, args: readonly string[]): void | Promise<void>;
}

/**
 * @example
 * export default defineJob({
 *   name: 'numbers',
 *   build(env) {
 *     env.fromSequence(1, 100).filter((n) => n % 2 === 0).print();
 *   },
 * });
 */
export function defineJob(definition: JobDefinition): JobDefinition {
  if (typeof definition?.name !== 'string' || definition.name.trim() === '') {
    throw new TypeError('defineJob({ name, build }) needs a non-empty name');
  }
  if (typeof definition.build !== 'function')
    throw new TypeError(`job '${definition.name}' needs a build(env, args) function`);
  return Object.freeze({
    name: definition.name,
    build: definition.build.bind(definition),
    [JOB_BRAND]: true,
    [MADE_HERE]: true,
  });
}

export function isJobDefinition(value: unknown): value is JobDefinition {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[JOB_BRAND] === true
  );
}

/**
 * Whether `job` was made by this copy of weir's modules. One made by another copy (a job that
 * imports weir by a path to other files than those running it) hands this copy's environment
 * objects it does not take for its own.
 */
export function madeByThisCopy(job: JobDefinition): boolean {
  return (job as unknown as Record<symbol, unknown>)[MADE_HERE] === true;
}
