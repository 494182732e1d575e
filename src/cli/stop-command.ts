// `weir stop <job-id> [--savepoint-dir DIR] [--drain]`: stop a running job with a savepoint and
// print the savepoint's folder as the last stdout line.
import { resolve } from 'node:path';
import type { Command } from './command.js';
import { CliError, ExitCode, UsageError, type CliIO } from './errors.js';
import { findRegisteredJob } from './list-command.js';
import { parseArgs } from './options.js';
import { requestSavepoint } from './savepoint-client.js';

const COMMAND = 'weir stop';

const options = {
  'savepoint-dir': {
    value: 'DIR',
    help: "folder to write the savepoint into (default: the job's, $WEIR_HOME/savepoints unless 'weir run --savepoint-dir' says otherwise)",
    parse: (raw: string) => raw,
  },
  drain: {
    help: 'end the input first so every operator finishes (flushes buffers, fires timers) before the savepoint',
  },
  help: { short: 'h', help: 'show this help' },
} as const;

export const stopCommand: Command = {
  name: 'stop',
  operands: '<job-id>',
  summary: 'stop a running job with a savepoint; prints its path',
  description: [
    'Stops a running job with a savepoint: its sources stop right after the savepoint barrier, the',
    'savepoint holds all state, the sinks commit, and the job ends (its `weir run` exits 0).',
    'If the savepoint fails, the job keeps running and this says why. If the job cannot end at a',
    'completed savepoint (its record cannot be written, a task fails, it is cancelled), this says',
    'what became of it: it fails over, failed (continue with -s <path> when named), or was cancelled.',
    'With --drain, the sources end their input first and every operator finishes before the final',
    "savepoint (a drained job's buffers are emitted, not saved); if that savepoint fails, the job",
    'goes back to its newest checkpoint and keeps running.',
    "<job-id> may be the start of an id, as 'weir list' shows it. Resume with 'weir run <job> -s <path>'.",
  ],
  notes: [
    'Exit codes: 0 stopped (the path is the last line on stdout), 1 the savepoint or the stop failed (the message says what became of the job) or the job did not answer, 2 no running job has that id.',
  ],
  options,
  run,
};

async function run(args: readonly string[], io: CliIO): Promise<ExitCode> {
  const { options: given, operands, rest } = parseArgs(args, options, COMMAND);
  const [idOrPrefix, extra = rest[0]] = operands;
  if (idOrPrefix === undefined)
    throw new UsageError(`missing job id; usage: ${COMMAND} <job-id> [--savepoint-dir DIR] [--drain]`);
  if (extra !== undefined)
    throw new UsageError(
      `unexpected argument '${extra}' for '${COMMAND}'; give one job id (a folder for the savepoint goes after --savepoint-dir)`,
    );
  const dir = given['savepoint-dir'];
  if (dir === '') throw new UsageError('--savepoint-dir needs a folder path');
  const job = await findRegisteredJob(io, idOrPrefix);
  const body: Record<string, unknown> = { drain: given.drain === true };
  if (dir !== undefined) body.targetDirectory = resolve(dir);
  const view = await requestSavepoint(
    io,
    job,
    `/jobs/${encodeURIComponent(job.jobId)}/stop`,
    body,
    given.drain === true ? 'stop with --drain' : 'stop-with-savepoint',
  );
  if (view.path === null)
    throw new CliError(`job '${job.jobName}' reported no savepoint path`, ExitCode.jobFailed);
  io.err(`weir: job '${job.jobName}' (${job.jobId}) stopped with savepoint ${view.checkpointId ?? ''}`);
  io.out(view.path + '\n');
  return ExitCode.ok;
}
