// `weir run <job> [options] [-- job args…]`: builds the job a module default-exports and runs it
// in this process until its sources end.
import {
  DEFAULT_MAX_PARALLELISM,
  JobFailedError,
  StreamExecutionEnvironment,
  type JobDefinition,
} from '../index.js';
import { UPPER_BOUND_MAX_PARALLELISM } from '../state/key-group.js';
import type { Command } from './command.js';
import { describeError, ExitCode, JobRunError, reportError, UsageError, type CliIO } from './errors.js';
import { loadJob } from './job-loader.js';
import { integerIn, parseArgs } from './options.js';

const COMMAND = 'weir run';

const options = {
  parallelism: {
    short: 'p',
    value: 'N',
    help: 'default parallelism of every operator (default 1)',
    parse: integerIn(1, UPPER_BOUND_MAX_PARALLELISM),
  },
  'max-parallelism': {
    value: 'M',
    help: `key groups: the most subtasks keyed state can spread over (default ${DEFAULT_MAX_PARALLELISM}, max ${UPPER_BOUND_MAX_PARALLELISM})`,
    parse: integerIn(1, UPPER_BOUND_MAX_PARALLELISM),
  },
  help: { short: 'h', help: 'show this help' },
} as const;

export const runCommand: Command = {
  name: 'run',
  operands: '<job.ts|job.js>',
  trailer: '[-- job args…]',
  summary: 'run a job in this process until its sources end',
  description: [
    'Runs the job that the file default-exports, in this process, until its sources end:',
    '  export default defineJob({ name, build(env, args) { … } })',
    "Everything after '--' reaches build() as args, untouched.",
  ],
  notes: [
    'Exit codes: 0 the job finished, 1 the job failed, 2 usage or configuration error, 130 interrupted (Ctrl-C).',
  ],
  options,
  run,
};

async function run(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const { options: given, operands, rest } = parseArgs(argv, options, COMMAND);
  const [file, extra] = operands;
  if (file === undefined) {
    throw new UsageError(`missing job file; usage: ${COMMAND} <job.ts|job.js> [options] [-- job args…]`);
  }
  if (extra !== undefined) {
    throw new UsageError(
      `unexpected argument '${extra}' for '${COMMAND}'; job arguments go after '--': ${COMMAND} ${file} -- ${extra}`,
    );
  }
  const parallelism = given.parallelism ?? 1;
  const maxParallelism = given['max-parallelism'] ?? DEFAULT_MAX_PARALLELISM;
  if (parallelism > maxParallelism) {
    throw new UsageError(
      `parallelism ${parallelism} is larger than max parallelism ${maxParallelism}; lower -p or raise --max-parallelism`,
    );
  }

  const stopOnInterrupt = exitOnInterrupt(io);
  try {
    const job = await loadJob(file);
    const stopOnStrayError = exitOnStrayError(job.name, io);
    try {
      const env = new StreamExecutionEnvironment({ parallelism, maxParallelism, jobName: job.name });
      for (const warning of await build(job, env, rest)) io.err(`weir: warning: ${warning}`);
      await execute(job, env);
      return ExitCode.ok;
    } finally {
      stopOnStrayError();
    }
  } finally {
    stopOnInterrupt();
  }
}

/** Builds the graph and validates it; any error here is a mistake in the job's code or arguments. */
async function build(
  job: JobDefinition,
  env: StreamExecutionEnvironment,
  args: readonly string[],
): Promise<string[]> {
  try {
    await job.build(env, Object.freeze([...args]));
    return env.getJobGraph(job.name).warnings;
  } catch (e) {
    throw new UsageError(`cannot build job '${job.name}': ${describeError(e)}`, { cause: e });
  }
}

async function execute(job: JobDefinition, env: StreamExecutionEnvironment): Promise<void> {
  try {
    await env.execute(job.name);
  } catch (e) {
    if (e instanceof JobFailedError) {
      throw new JobRunError(`job '${job.name}' failed: ${describeError(e.cause)}`, { cause: e.cause });
    }
    throw e;
  }
}

/**
 * Ctrl-C ends the process with the shell's code for it. The tasks of a running job would keep
 * the event loop alive, and this version has no way to cancel them, so this exits directly.
 */
function exitOnInterrupt(io: CliIO): () => void {
  const onInterrupt = (): void => {
    io.err('weir: interrupted');
    process.exit(ExitCode.interrupted);
  };
  process.once('SIGINT', onInterrupt);
  return () => process.off('SIGINT', onInterrupt);
}

/**
 * An error thrown from a callback the job scheduled itself (a timer, an event handler) escapes
 * every operator; Node would print a bare stack trace. Report it as the job's failure instead.
 */
function exitOnStrayError(jobName: string, io: CliIO): () => void {
  const onError = (e: unknown): void => {
    const code = reportError(
      new JobRunError(`job '${jobName}' failed: uncaught error: ${describeError(e)}`, { cause: e }),
      io,
    );
    process.exit(code);
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onError);
  return () => {
    process.off('uncaughtException', onError);
    process.off('unhandledRejection', onError);
  };
}
