// `weir run <job> [options] [-- job args…]`: builds the job a module default-exports and runs it
// in this process until its sources end.
import {
  DEFAULT_MAX_PARALLELISM,
  JobCancelledError,
  JobFailedError,
  JobHelpRequested,
  StreamExecutionEnvironment,
  type JobDefinition,
} from '../index.js';
import { refuseExecute } from '../api/environment.js';
import { UPPER_BOUND_MAX_PARALLELISM } from '../state/key-group.js';
import type { Command } from './command.js';
import { explainJobError } from './job-error-hints.js';
import { describeError, ExitCode, JobRunError, reportError, UsageError, type CliIO } from './errors.js';
import { loadJob } from './job-loader.js';
import { integerIn, InvalidValue, parseArgs } from './options.js';
import { resolve } from 'node:path';
import { parseDuration } from '../api/duration.js';
import { CheckpointConfigError, type ExternalizedCheckpointRetention } from '../api/checkpoint-config.js';
import { RestoreError, type ExecuteOptions } from '../cluster/job-launcher.js';
import { CheckpointStorageUnusableError } from '../storage/checkpoint-storage.js';
import type { JobMaster } from '../cluster/job-master.js';
import { JobRegistry, JobRegistryUnusableError, weirHome } from '../cluster/job-registry.js';
import { finishLine, progressIntervalMs, ProgressReporter } from '../cluster/progress-reporter.js';
import { RestPortInUseError, RestPortUnusableError, RestServer } from '../cluster/rest-server.js';

const COMMAND = 'weir run';
/** How long a stopped job keeps its REST API up for `weir stop` to learn the savepoint path. */
const STOP_GRACE_MS = 5000;

const options = {
  parallelism: {
    short: 'p',
    value: 'N',
    help: "default parallelism of every operator (default 1); a job's own setParallelism wins, as in Flink",
    parse: integerIn(1, UPPER_BOUND_MAX_PARALLELISM),
  },
  'max-parallelism': {
    value: 'M',
    help: `key groups: the most subtasks keyed state can spread over (default ${DEFAULT_MAX_PARALLELISM}, max ${UPPER_BOUND_MAX_PARALLELISM})`,
    parse: integerIn(1, UPPER_BOUND_MAX_PARALLELISM),
  },
  'checkpoint-interval': {
    value: 'DURATION',
    help: 'take a checkpoint this often, e.g. 500ms, 10s, 1min; 0 turns checkpoints off (default: as the job sets)',
    parse: durationArg,
  },
  'checkpoint-dir': {
    value: 'DIR',
    help: 'where checkpoints are written (default $WEIR_HOME/checkpoints, WEIR_HOME defaulting to ~/.weir); made if missing, and checked writable before the job starts (exit 2 if not)',
    parse: nonEmpty('a folder path'),
  },
  'checkpoints-retained': {
    value: 'N',
    help: 'how many completed checkpoints to keep, the newest; a restore that finds the newest damaged falls back to an older one (default: as the job sets, else 1)',
    parse: integerIn(1, 1_000_000),
  },
  'checkpoint-retention': {
    value: 'MODE',
    help: "what becomes of the checkpoints when the job ends: 'delete-on-cancellation' (default: kept only when it fails), 'retain-on-cancellation' (always kept), 'never' (always deleted)",
    parse: retentionArg,
  },
  resume: {
    help: 'continue from the newest completed checkpoint of a job with the same name, or start fresh if there is none; when the newest run ended and removed its checkpoints, it says so instead of starting over: finished (exit 0; run without --resume to run it again), stopped, cancelled or failed (exit 2)',
  },
  'from-savepoint': {
    short: 's',
    value: 'PATH',
    help: 'start from a savepoint or retained checkpoint (its folder or its _metadata file)',
    parse: nonEmpty('a path'),
  },
  'allow-non-restored-state': {
    help: 'with -s or --resume: drop state of operators the job no longer has instead of refusing to start',
  },
  'claim-mode': {
    value: 'MODE',
    help: "with -s: 'no-claim' (default) never touches the snapshot; 'claim' makes a retained checkpoint this job's, deleted once newer checkpoints replace it",
    parse: claimMode,
  },
  'savepoint-dir': {
    value: 'DIR',
    help: "where savepoints go when 'weir savepoint' or 'weir stop' names no folder (default $WEIR_HOME/savepoints)",
    parse: nonEmpty('a folder path'),
  },
  'rest-port': {
    value: 'N',
    help: "serve the job's REST API on 127.0.0.1:N (0: any free port; default 8081, or the next free one)",
    parse: integerIn(0, 65535),
  },
  help: { short: 'h', help: 'show this help' },
} as const;

function durationArg(raw: string): number {
  const ms = parseDuration(raw);
  if (ms === undefined)
    throw new InvalidValue('a duration in whole milliseconds, such as 500ms, 10s or 2min');
  return ms;
}

function retentionArg(raw: string): ExternalizedCheckpointRetention {
  if (raw !== 'delete-on-cancellation' && raw !== 'retain-on-cancellation' && raw !== 'never')
    throw new InvalidValue("'delete-on-cancellation', 'retain-on-cancellation' or 'never'");
  return raw;
}

function claimMode(raw: string): 'no-claim' | 'claim' {
  if (raw !== 'no-claim' && raw !== 'claim') throw new InvalidValue("'no-claim' or 'claim'");
  return raw;
}

function nonEmpty(what: string): (raw: string) => string {
  return (raw) => {
    if (raw.length === 0) throw new InvalidValue(what);
    return raw;
  };
}

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
    'Checkpoints are taken when the job enables them (env.enableCheckpointing) or --checkpoint-interval is given;',
    'a bounded job takes a last checkpoint when its sources end, so everything its sinks wrote is committed.',
    "'weir savepoint <job-id>' takes a savepoint while it runs; 'weir stop <job-id>' stops it with one (exit 0);",
    "'weir cancel <job-id>' cancels it (exit 1). -s PATH starts from a savepoint or retained checkpoint.",
    'Exit codes: 0 the job finished or was stopped, 1 the job failed or was cancelled, 2 usage, configuration or compatibility error, 129 hung up (SIGHUP), 130 interrupted (Ctrl-C), 143 terminated (SIGTERM).',
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

  const signals = exitOnSignal(io);
  try {
    const job = await loadJob(file);
    const stopOnStrayError = exitOnStrayError(job.name, io);
    try {
      const env = new StreamExecutionEnvironment({ parallelism, maxParallelism, jobName: job.name });
      const built = await build(job, env, rest);
      if (built.help !== undefined) {
        io.out(`usage: weir run ${file} [options] -- [job arguments]\n${built.help}\n`);
        return ExitCode.ok;
      }
      for (const warning of built.warnings) io.err(`weir: warning: ${warning}`);
      try {
        if (given['checkpoint-interval'] !== undefined)
          env.checkpointConfig.setInterval(given['checkpoint-interval']);
        if (given['checkpoint-dir'] !== undefined)
          env.checkpointConfig.setCheckpointStorage(given['checkpoint-dir']);
        if (given['checkpoints-retained'] !== undefined)
          env.checkpointConfig.setNumRetainedCheckpoints(given['checkpoints-retained']);
        if (given['checkpoint-retention'] !== undefined)
          env.checkpointConfig.setExternalizedCheckpointRetention(given['checkpoint-retention']);
      } catch (e) {
        if (e instanceof CheckpointConfigError) throw new UsageError(e.message, { cause: e });
        throw e;
      }
      // Given for checkpoints that will not be taken, they would be silently ignored.
      const needsCheckpoints = (['checkpoints-retained', 'checkpoint-retention'] as const).find(
        (k) => given[k] !== undefined,
      );
      if (needsCheckpoints !== undefined && !env.checkpointConfig.enabled)
        throw new UsageError(
          given['checkpoint-interval'] === 0
            ? `--${needsCheckpoints} applies to checkpoints, and --checkpoint-interval 0 turns them off: drop one of the two`
            : `--${needsCheckpoints} applies to checkpoints, and job '${job.name}' takes none: add --checkpoint-interval DURATION (or drop --${needsCheckpoints})`,
        );
      if (given.resume === true && given['from-savepoint'] !== undefined) {
        throw new UsageError('give either --resume or -s PATH, not both');
      }
      if (
        given['allow-non-restored-state'] === true &&
        given['from-savepoint'] === undefined &&
        given.resume !== true
      ) {
        throw new UsageError(
          '--allow-non-restored-state applies to a restore (-s PATH or --resume); add one or drop it',
        );
      }
      if (given['claim-mode'] !== undefined && given['from-savepoint'] === undefined) {
        throw new UsageError(
          '--claim-mode applies to -s PATH (the snapshot to start from); add -s or drop it',
        );
      }
      const registry = new JobRegistry(weirHome(io.env));
      try {
        await registry.checkUsable();
      } catch (e) {
        if (e instanceof JobRegistryUnusableError) throw new UsageError(e.message, { cause: e });
        throw e;
      }
      const observe = observeJob(job.name, given['rest-port'] ?? 'auto', registry, io);
      try {
        const stopped = await execute(job, env, {
          resume: given.resume === true,
          restoreFrom: given['from-savepoint'],
          allowNonRestoredState: given['allow-non-restored-state'] === true,
          claimMode: given['claim-mode'],
          savepointDir: given['savepoint-dir'] === undefined ? undefined : resolve(given['savepoint-dir']),
          log: (line) => io.err(line),
          onStart: observe.start,
        });
        // Ended, its output committed and its end recorded: a signal now only hurries the REST
        // server's and the registry entry's removal, which the exit handlers finish.
        signals.jobEnded();
        if (!stopped) observe.finished();
      } finally {
        await observe.stop();
      }
      return ExitCode.ok;
    } finally {
      stopOnStrayError();
    }
  } finally {
    refuseExecute(undefined); // set by loadJob when it did not return a job
    signals.remove();
  }
}

/** Builds the graph and validates it; any error here is a mistake in the job's code or arguments. */
async function build(
  job: JobDefinition,
  env: StreamExecutionEnvironment,
  args: readonly string[],
): Promise<{ warnings: string[]; help?: string }> {
  refuseExecute(
    'build() must not call env.execute(): weir run runs the graph that build() made once it returns; remove the call',
  );
  try {
    await job.build(env, Object.freeze([...args]));
    return { warnings: env.getJobGraph(job.name).warnings };
  } catch (e) {
    if (e instanceof JobHelpRequested) return { warnings: [], help: e.message };
    throw new UsageError(`cannot build job '${job.name}': ${explainJobError(describeError(e))}`, {
      cause: e,
    });
  } finally {
    refuseExecute(undefined);
  }
}

async function execute(
  job: JobDefinition,
  env: StreamExecutionEnvironment,
  options: ExecuteOptions,
): Promise<boolean> {
  try {
    const result = await env.execute(job.name, options);
    if (result.savepointPath !== undefined)
      options.log?.(`weir: job '${job.name}' stopped with savepoint ${result.savepointPath}`);
    return result.savepointPath !== undefined;
  } catch (e) {
    if (e instanceof JobCancelledError) throw new JobRunError(e.message, { cause: e });
    if (e instanceof RestoreError || e instanceof CheckpointStorageUnusableError || isRestoreProblem(e))
      throw new UsageError(describeError(e), { cause: e });
    if (e instanceof JobFailedError) {
      const why = e.notRestarted === undefined ? '' : `; not restarted: ${e.notRestarted}`;
      throw new JobRunError(`job '${job.name}' failed: ${explainJobError(describeError(e.cause))}${why}`, {
        cause: e.cause,
      });
    }
    throw e;
  }
}

/**
 * `--resume` finds a job by its name in the checkpoint dir, so two runs of one name checkpointing
 * into one dir at once leave it unable to tell which to continue (it refuses then): say so while
 * the user can still give one of them its own dir, rather than after both have died.
 */
async function warnOfNamesake(
  registry: JobRegistry,
  jobName: string,
  jobId: string,
  checkpointDir: string | null,
  io: CliIO,
): Promise<void> {
  if (checkpointDir === null) return;
  let others;
  try {
    others = (await registry.listRegisteredJobs()).filter(
      (j) => j.jobId !== jobId && j.jobName === jobName && j.checkpointDir === checkpointDir,
    );
  } catch {
    return; // a warning only: the registry was writable a moment ago, and the job runs either way
  }
  for (const other of others)
    io.err(
      `weir: warning: job '${jobName}' is also running as ${other.jobId} (pid ${other.pid}) with checkpoints in ${checkpointDir}; ` +
        `if both die, --resume cannot tell the two runs apart and refuses: give each its own --checkpoint-dir`,
    );
}

/**
 * While the job runs: its REST API, its entry in `$WEIR_HOME/jobs/` (so `weir list` and
 * `weir checkpoints` find it) and a progress line on stderr every few seconds.
 */
function observeJob(
  jobName: string,
  port: number | 'auto',
  registry: JobRegistry,
  io: CliIO,
): { start(master: JobMaster): Promise<void>; finished(): void; stop(): Promise<void> } {
  let stop = async (): Promise<void> => undefined;
  let job: JobMaster | undefined;
  return {
    async start(master) {
      job = master;
      const rest = new RestServer(master, { port });
      let url: string;
      try {
        ({ url } = await rest.start());
      } catch (e) {
        if (e instanceof RestPortInUseError || e instanceof RestPortUnusableError)
          throw new UsageError(e.message, { cause: e });
        throw e;
      }
      // Findable (weir list) before it says it runs.
      try {
        await registry.register({
          jobId: master.jobId,
          jobName,
          restUrl: url,
          startTime: Date.now(),
          checkpointDir: master.status().checkpointing.dir,
        });
      } catch (e) {
        // The registry was checked before the job started; it can still change under us.
        await rest.close().catch(() => undefined); // the registry's error is the one to report
        if (e instanceof JobRegistryUnusableError) throw new UsageError(e.message, { cause: e });
        throw e;
      }
      io.err(`weir: job '${jobName}' (${master.jobId}) running; REST API at ${url}`);
      await warnOfNamesake(registry, jobName, master.jobId, master.status().checkpointing.dir, io);
      const onExit = (): void => registry.unregisterSync(master.jobId);
      process.once('exit', onExit);
      const progress = new ProgressReporter(master, {
        stream: process.stderr,
        intervalMs: progressIntervalMs(io.env),
      });
      progress.start();
      stop = async () => {
        progress.stop();
        // `weir stop` polls for the savepoint's path: let it read it before the API goes away.
        await master.savepointOutcomesRead(STOP_GRACE_MS);
        await rest.close();
        process.off('exit', onExit);
        try {
          await registry.unregister(master.jobId);
        } catch (e) {
          // The job's own outcome stands; a stale entry only misleads `weir list`, so say so.
          io.err(
            `weir: warning: the job's entry ${registry.entryPath(master.jobId)} could not be removed (${describeError(e)}); \`weir list\` may show it until you delete it`,
          );
        }
      };
    },
    /** Closes the run of a job that reached its end with one line saying so. */
    finished() {
      if (job !== undefined)
        io.err(
          finishLine(job.status(), job.checkpoints(), {
            savepoints: job.checkpointStats.savepoints,
            failed: job.checkpointStats.checkpointFailures,
          }),
        );
    },
    stop: () => stop(),
  };
}

/**
 * Ctrl-C, SIGTERM from a process manager, or SIGHUP from a closed terminal, ends the process with the shell's code for it and
 * one line saying why. The tasks of a running job would keep the event loop alive, and this
 * version has no way to cancel them, so this exits directly: the job stops where it is, as after
 * a crash, and `--resume` continues it from its newest checkpoint (`weir stop` ends it with a
 * savepoint instead). Exiting, rather than dying of the signal, lets the job's exit handlers
 * remove its entry from `weir list`.
 */
function exitOnSignal(io: CliIO): { jobEnded(): void; remove(): void } {
  let ended = false;
  const exit = (line: string, code: number): void => {
    if (ended) process.exit(ExitCode.ok); // nothing was interrupted: the job had ended
    io.err(line);
    process.exit(code);
  };
  const onInterrupt = (): void => exit('weir: interrupted', ExitCode.interrupted);
  const onTerminate = (): void => exit('weir: terminated (SIGTERM)', ExitCode.terminated);
  // Its terminal went away: as SIGTERM (by default node dies of it without a word).
  const onHangUp = (): void => exit('weir: hung up (SIGHUP)', ExitCode.hungUp);
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onTerminate);
  process.once('SIGHUP', onHangUp);
  return {
    jobEnded: () => void (ended = true),
    remove: () => {
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onTerminate);
      process.off('SIGHUP', onHangUp);
    },
  };
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

/** Errors that say the snapshot to start from is unusable: configuration errors (exit 2), not job failures. */
export function isRestoreProblem(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return [
    'SnapshotMismatchError',
    'SnapshotNotFoundError',
    'CorruptMetadataError',
    'CorruptStateFileError',
    'StateFormatError',
    'RestoredStateError',
    'ValueCodecError',
    'StateMigrationError',
    'PendingFileLostError',
  ].includes(e.name);
}
