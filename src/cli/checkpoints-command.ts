// `weir checkpoints <job-id> [--json]`: a running job's checkpoint counts and history, newest
// first, from its REST API (GET /jobs/:id/checkpoints).
import type { CheckpointStatsView } from '../cluster/job-status.js';
import { formatBytes, formatMillis } from '../cluster/progress-reporter.js';
import type { CheckpointHistoryView } from '../cluster/rest-server.js';
import type { Command } from './command.js';
import { CliError, ExitCode, UsageError, type CliIO } from './errors.js';
import { findRegisteredJob, formatTable, getJson } from './list-command.js';
import { parseArgs } from './options.js';

const COMMAND = 'weir checkpoints';

const options = {
  json: { help: 'print the REST answer as is: { counts, latest: { completed, failed }, history }' },
  help: { short: 'h', help: 'show this help' },
} as const;

export const checkpointsCommand: Command = {
  name: 'checkpoints',
  operands: '<job-id>',
  summary: "show a running job's checkpoint history and statistics",
  description: [
    "Shows how many of a running job's checkpoints completed, failed or are in progress, and its",
    'checkpoints and savepoints newest first: when each was triggered, how long it took, its size,',
    'and its path (or why it failed; "(removed)" after a path that retention has since deleted).',
    "<job-id> may be the start of an id, as 'weir list' shows it.",
  ],
  notes: ['Exit codes: 0 shown, 1 the job did not answer, 2 no running job has that id.'],
  options,
  run,
};

async function run(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const { options: given, operands, rest } = parseArgs(argv, options, COMMAND);
  const [idOrPrefix, extra = rest[0]] = operands;
  if (idOrPrefix === undefined) {
    throw new UsageError(
      `missing job id; usage: ${COMMAND} <job-id> [--json] ('weir list' shows running jobs)`,
    );
  }
  if (extra !== undefined)
    throw new UsageError(`unexpected argument '${extra}' for '${COMMAND}'; give one job id`);

  const job = await findRegisteredJob(io, idOrPrefix);
  const body = await getJson(job, `/jobs/${encodeURIComponent(job.jobId)}/checkpoints`);
  if (!isHistoryView(body)) {
    throw new CliError(
      `job '${job.jobName}' at ${job.restUrl} answered with an unexpected checkpoint history; is it running another version of weir (${job.weirVersion})?`,
      ExitCode.jobFailed,
    );
  }
  if (given.json === true) {
    io.out(JSON.stringify(body, null, 2) + '\n');
    return ExitCode.ok;
  }
  const { completed, failed, inProgress } = body.counts;
  io.out(
    `job '${job.jobName}' (${job.jobId}): ${completed} completed, ${failed} failed, ${inProgress} in progress\n`,
  );
  if (body.history.length === 0) {
    // An older job's answer has no interval: it says nothing of it then.
    io.out(body.intervalMs === 0 ? 'checkpointing is off (no savepoints yet)\n' : 'no checkpoints yet\n');
    return ExitCode.ok;
  }
  io.out('\n' + historyTable(body.history, new Date()));
  return ExitCode.ok;
}

/** The history table, newest first as given. */
export function historyTable(history: readonly CheckpointStatsView[], now: Date): string {
  return formatTable(
    ['ID', 'KIND', 'STATUS', 'TRIGGERED', 'DURATION', 'SIZE', 'PATH/REASON'],
    history.map((c) => [
      String(c.id),
      c.kind,
      c.status,
      formatTriggerTime(c.triggerTime, now),
      c.durationMs === null ? '-' : formatMillis(c.durationMs),
      c.sizeBytes === null ? '-' : formatBytes(c.sizeBytes),
      (c.status === 'failed' ? c.failureReason : c.discarded ? `${c.path} (removed)` : c.path) ?? '-',
    ]),
  );
}

/** Local time: `14:03:07` today, `2024-05-01 14:03:07` on another day. */
export function formatTriggerTime(epochMs: number, now: Date): string {
  const t = new Date(epochMs);
  const two = (n: number): string => String(n).padStart(2, '0');
  const time = `${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())}`;
  const sameDay =
    t.getFullYear() === now.getFullYear() && t.getMonth() === now.getMonth() && t.getDate() === now.getDate();
  return sameDay ? time : `${t.getFullYear()}-${two(t.getMonth() + 1)}-${two(t.getDate())} ${time}`;
}

function isHistoryView(body: unknown): body is CheckpointHistoryView {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Partial<CheckpointHistoryView>;
  return (
    typeof b.counts === 'object' &&
    b.counts !== null &&
    typeof b.counts.completed === 'number' &&
    Array.isArray(b.history) &&
    b.history.every((c) => typeof c === 'object' && c !== null && typeof c.id === 'number')
  );
}
