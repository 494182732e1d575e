// A job module default-exports a job definition; `weir run` loads it and calls build().
import type { StreamExecutionEnvironment } from './environment.js';

const JOB_BRAND = Symbol.for('weir.job-definition');

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
  });
}

export function isJobDefinition(value: unknown): value is JobDefinition {
  return (
    typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[JOB_BRAND] === true
  );
}
