// `weir cancel <job-id>`: cancel a running job without a savepoint (Flink's `cancel`). Its
// checkpoints are kept or deleted as its retention setting says.
import type { Command } from './command.js';
import { ExitCode, UsageError, type CliIO } from './errors.js';
import { findRegisteredJob, sendJson } from './list-command.js';
import { parseArgs } from './options.js';

const COMMAND = 'weir cancel';

const options = {
  help: { short: 'h', help: 'show this help' },
} as const;

export const cancelCommand: Command = {
  name: 'cancel',
  operands: '<job-id>',
  summary: 'cancel a running job (no savepoint)',
  description: [
    'Cancels a running job: every task stops at once, nothing more is committed, and its',
    "`weir run` exits 1. Checkpoints are kept or deleted as the job's retention setting says",
    "(default: deleted). To keep the state, use 'weir stop' instead.",
    "<job-id> may be the start of an id, as 'weir list' shows it.",
  ],
  notes: [
    'Exit codes: 0 the job was told to cancel, 1 it did not answer (or was not running), 2 no running job has that id.',
  ],
  options,
  run,
};

async function run(args: readonly string[], io: CliIO): Promise<ExitCode> {
  const { operands, rest } = parseArgs(args, options, COMMAND);
  const [idOrPrefix, extra = rest[0]] = operands;
  if (idOrPrefix === undefined) throw new UsageError(`missing job id; usage: ${COMMAND} <job-id>`);
  if (extra !== undefined)
    throw new UsageError(`unexpected argument '${extra}' for '${COMMAND}'; give one job id`);
  const job = await findRegisteredJob(io, idOrPrefix);
  await sendJson(job, 'PATCH', `/jobs/${encodeURIComponent(job.jobId)}`, undefined);
  io.err(`weir: job '${job.jobName}' (${job.jobId}) is cancelling`);
  return ExitCode.ok;
}
