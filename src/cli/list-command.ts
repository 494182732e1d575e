// `weir list [--json]`: the jobs running on this machine, from the registry under $WEIR_HOME/jobs,
// each asked for its state over its REST API. Also home of what the job-facing commands share:
// reading the registry, calling a job's REST API, printing tables.
import {
  AmbiguousJobIdError,
  JobNotFoundError,
  JobRegistry,
  JobRegistryUnusableError,
  weirHome,
  type RegisteredJob,
} from '../cluster/job-registry.js';
import type { JobListView } from '../cluster/rest-server.js';
import { formatUptime } from '../cluster/progress-reporter.js';
import type { Command } from './command.js';
import { CliError, ExitCode, UsageError, type CliIO } from './errors.js';
import { parseArgs } from './options.js';

const COMMAND = 'weir list';
/** How long `weir list` waits for each job's state. */
const STATE_TIMEOUT_MS = 2000;
/** How long the other commands wait for a job's REST API. */
export const REST_TIMEOUT_MS = 10_000;

const options = {
  json: { help: 'print a JSON array of the registered jobs, each with its state' },
  help: { short: 'h', help: 'show this help' },
} as const;

export const listCommand: Command = {
  name: 'list',
  operands: '',
  summary: 'list running jobs',
  description: [
    'Lists the jobs running on this machine: every `weir run` registers its job under',
    '$WEIR_HOME/jobs (WEIR_HOME defaulting to ~/.weir) and asks it for its state over REST.',
  ],
  notes: [
    "A job whose REST API does not answer is listed with the state 'unreachable'; one whose REST address answers without knowing the job (another process took its port) with 'unknown'.",
  ],
  options,
  run,
};

/** A registered job with the state its REST API reported. */
export interface ListedJob extends RegisteredJob {
  readonly state: string;
}

async function run(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const { options: given, operands, rest } = parseArgs(argv, options, COMMAND);
  const extra = operands[0] ?? rest[0];
  if (extra !== undefined)
    throw new UsageError(`unexpected argument '${extra}' for '${COMMAND}'; it takes none`);

  const entries = await registered(io);
  const jobs: ListedJob[] = await Promise.all(entries.map(async (e) => ({ ...e, state: await stateOf(e) })));
  if (given.json === true) {
    io.out(JSON.stringify(jobs, null, 2) + '\n');
    return ExitCode.ok;
  }
  if (jobs.length === 0) {
    io.out('no running jobs\n');
    return ExitCode.ok;
  }
  const now = Date.now();
  io.out(
    formatTable(
      ['JOB ID', 'NAME', 'STATE', 'UPTIME', 'REST URL'],
      jobs.map((j) => [j.jobId, j.jobName, j.state, formatUptime(now - j.startTime), j.restUrl]),
    ),
  );
  return ExitCode.ok;
}

async function stateOf(job: RegisteredJob): Promise<string> {
  try {
    const body = (await getJson(job, '/jobs', STATE_TIMEOUT_MS)) as Partial<JobListView>;
    return body.jobs?.find((j) => j.id === job.jobId)?.state ?? 'unknown';
  } catch {
    return 'unreachable';
  }
}

export function registryOf(io: CliIO): JobRegistry {
  return new JobRegistry(weirHome(io.env));
}

/** The registry's entries; a UsageError (exit 2) when it cannot be read. */
async function registered(io: CliIO): Promise<RegisteredJob[]> {
  try {
    return await registryOf(io).listRegisteredJobs();
  } catch (e) {
    if (e instanceof JobRegistryUnusableError) throw new UsageError(e.message, { cause: e });
    throw e;
  }
}

/** The registered job `idOrPrefix` names; a UsageError (exit 2) when there is none or several. */
export async function findRegisteredJob(io: CliIO, idOrPrefix: string): Promise<RegisteredJob> {
  try {
    return await registryOf(io).findJob(idOrPrefix);
  } catch (e) {
    if (
      e instanceof JobNotFoundError ||
      e instanceof AmbiguousJobIdError ||
      e instanceof JobRegistryUnusableError
    )
      throw new UsageError(e.message, { cause: e });
    throw e;
  }
}

/**
 * GETs `path` from the job's REST API and returns the parsed JSON. A job that does not answer, or
 * answers with an error, is a CliError with exit 1 naming the URL.
 */
export async function getJson(
  job: RegisteredJob,
  path: string,
  timeoutMs = REST_TIMEOUT_MS,
): Promise<unknown> {
  return sendJson(job, 'GET', path, undefined, timeoutMs);
}

/** Like getJson, for any method; `body` is sent as JSON. */
export async function sendJson(
  job: RegisteredJob,
  method: 'GET' | 'POST' | 'PATCH',
  path: string,
  body: unknown,
  timeoutMs = REST_TIMEOUT_MS,
): Promise<unknown> {
  const url = job.restUrl.replace(/\/+$/, '') + path;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      ...(body === undefined
        ? {}
        : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
    });
  } catch (e) {
    // A request that was sent but not answered in time may still be carried out (a job whose
    // process was stopped answers once it continues): a change must not be reported as undone.
    const mayStillRun =
      method !== 'GET' && isTimeout(e)
        ? ' (the request was sent, and may still be carried out when the job answers again)'
        : '';
    throw new CliError(
      `cannot reach job '${job.jobName}' (${job.jobId}) at ${url}: ${networkCause(e, timeoutMs)}${mayStillRun}; is it still running? (pid ${job.pid})`,
      ExitCode.jobFailed,
      { cause: e },
    );
  }
  const text = await response.text();
  let answer: unknown;
  try {
    answer = JSON.parse(text);
  } catch (e) {
    throw new CliError(
      `job '${job.jobName}' at ${url} answered ${response.status} with something that is not JSON`,
      ExitCode.jobFailed,
      {
        cause: e,
      },
    );
  }
  if (!response.ok) {
    const error =
      typeof answer === 'object' && answer !== null && 'error' in answer ? String(answer.error) : text;
    throw new CliError(
      `job '${job.jobName}' at ${url} answered ${response.status}: ${error}`,
      ExitCode.jobFailed,
    );
  }
  return answer;
}

/** Whether fetch gave up waiting for the answer (AbortSignal.timeout). */
function isTimeout(e: unknown): boolean {
  return e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
}

/** Why fetch failed, in a few words: `connection refused`, `no answer within 10 s`, … */
function networkCause(e: unknown, timeoutMs: number): string {
  if (isTimeout(e)) return `no answer within ${timeoutMs / 1000} s`;
  const cause = e instanceof Error ? (e.cause as NodeJS.ErrnoException | undefined) : undefined;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  if (cause?.code !== undefined) return cause.code;
  return e instanceof Error ? (cause?.message ?? e.message) : String(e);
}

/** Left-aligned columns separated by two spaces, a header row first; no trailing spaces. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [headers, ...rows].map(line).join('\n') + '\n';
}
