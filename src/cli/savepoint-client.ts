// What `weir savepoint <job-id>` and `weir stop` share: ask the job for a savepoint over REST,
// then poll its request until it completes or fails, saying on stderr that it is still working.
import type { SavepointRequestView } from '../cluster/savepoint-request.js';
import type { RegisteredJob } from '../cluster/job-registry.js';
import { CliError, ExitCode, type CliIO } from './errors.js';
import { getJson, sendJson } from './list-command.js';

const POLL_MS = 100;
const PROGRESS_EVERY_MS = 5000;

/** POSTs `path` with `body`, then waits for the savepoint; returns its folder. */
export async function requestSavepoint(
  io: CliIO,
  job: RegisteredJob,
  path: string,
  body: Record<string, unknown>,
  what: string,
): Promise<SavepointRequestView> {
  const answer = await sendJson(job, 'POST', path, body);
  const requestId =
    typeof answer === 'object' && answer !== null && 'requestId' in answer ? answer.requestId : undefined;
  if (typeof requestId !== 'string')
    throw new CliError(
      `job '${job.jobName}' at ${job.restUrl} did not answer with a request id; is it running another version of weir (${job.weirVersion})?`,
      ExitCode.jobFailed,
    );
  const started = Date.now();
  let lastProgress = started;
  const pollPath = `/jobs/${encodeURIComponent(job.jobId)}/savepoints/${encodeURIComponent(requestId)}`;
  for (;;) {
    const view = await getJson(job, pollPath);
    if (!isRequestView(view))
      throw new CliError(
        `job '${job.jobName}' answered with an unexpected savepoint status; is it running another version of weir (${job.weirVersion})?`,
        ExitCode.jobFailed,
      );
    if (view.status === 'completed') return view;
    if (view.status === 'failed')
      throw new CliError(
        `${what} of job '${job.jobName}' failed: ${view.failure ?? 'no reason given'}`,
        ExitCode.jobFailed,
      );
    const now = Date.now();
    if (now - lastProgress >= PROGRESS_EVERY_MS) {
      lastProgress = now;
      const id = view.checkpointId === null ? '' : ` (snapshot ${view.checkpointId})`;
      io.err(
        `weir: ${what}${id} of job '${job.jobName}' in progress for ${Math.round((now - started) / 1000)} s`,
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

function isRequestView(v: unknown): v is SavepointRequestView {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Partial<SavepointRequestView>;
  return (
    (r.status === 'in-progress' || r.status === 'completed' || r.status === 'failed') &&
    (r.path === null || typeof r.path === 'string')
  );
}
