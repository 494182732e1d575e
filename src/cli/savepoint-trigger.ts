// `weir savepoint <job-id> [--target-dir DIR]`: a savepoint of a running job, which keeps running.
// The savepoint's folder is the last line on stdout, so scripts can take it with `tail -1`.
import { resolve } from 'node:path';
import { CliError, ExitCode, UsageError, type CliIO } from './errors.js';
import { findRegisteredJob } from './list-command.js';
import { parseArgs, type OptionTable } from './options.js';
import { requestSavepoint } from './savepoint-client.js';

const COMMAND = 'weir savepoint';

export const SAVEPOINT_TRIGGER_OPTIONS = {
  'target-dir': {
    value: 'DIR',
    help: "folder to write the savepoint into (default: the job's, $WEIR_HOME/savepoints unless 'weir run --savepoint-dir' says otherwise)",
    parse: (raw: string) => raw,
  },
  help: { short: 'h', help: 'show this help' },
} as const satisfies OptionTable;

export async function triggerSavepoint(args: readonly string[], io: CliIO): Promise<ExitCode> {
  const { options: given, operands, rest } = parseArgs(args, SAVEPOINT_TRIGGER_OPTIONS, COMMAND);
  const [idOrPrefix, extra = rest[0]] = operands;
  if (idOrPrefix === undefined)
    throw new UsageError(
      `missing job id; usage: ${COMMAND} <job-id> [--target-dir DIR] ('weir list' shows running jobs)`,
    );
  if (extra !== undefined)
    throw new UsageError(
      `unexpected argument '${extra}' for '${COMMAND}'; give one job id (a folder for the savepoint goes after --target-dir)`,
    );
  const targetDir = given['target-dir'];
  if (targetDir === '') throw new UsageError(`--target-dir needs a folder path`);
  const job = await findRegisteredJob(io, idOrPrefix);
  const view = await requestSavepoint(
    io,
    job,
    `/jobs/${encodeURIComponent(job.jobId)}/savepoints`,
    targetDir === undefined ? {} : { targetDirectory: resolve(targetDir) },
    'savepoint',
  );
  if (view.path === null)
    throw new CliError(`job '${job.jobName}' reported no savepoint path`, ExitCode.jobFailed);
  io.err(
    `weir: savepoint ${view.checkpointId ?? ''} of job '${job.jobName}' (${job.jobId}) completed; the job keeps running`,
  );
  io.out(view.path + '\n');
  return ExitCode.ok;
}
