// The REST routes that act on a job (savepoint, stop, cancel) over real HTTP, against a fake
// controller that records what it was asked.
import { afterEach, describe, expect, it } from 'vitest';
import type { JobController, JobStatusView } from '../../src/cluster/job-status.js';
import { RestServer } from '../../src/cluster/rest-server.js';
import { JobControlError, SavepointRequests } from '../../src/cluster/savepoint-request.js';

const JOB_ID = '7d1c2a1e-5d7b-4c1f-9a35-2b8e4d6f7a90';

function fakeController(state: JobStatusView['state'] = 'running'): JobController & { calls: string[] } {
  const requests = new SavepointRequests();
  const calls: string[] = [];
  let busy = false;
  const take = (kind: 'savepoint' | 'stop' | 'stop-drain', dir: string | undefined) => {
    calls.push(`${kind} ${dir ?? '(default)'}`);
    if (busy) throw new JobControlError('savepoint 3 is in progress; wait for it to finish and try again');
    busy = true;
    return requests.start(kind, 1);
  };
  return {
    calls,
    status: () => ({ jobId: JOB_ID, jobName: 'wc', state }) as JobStatusView,
    checkpoints: () => [],
    triggerSavepoint: (dir) => take('savepoint', dir),
    stop: ({ targetDir, drain }) => take(drain === true ? 'stop-drain' : 'stop', targetDir),
    savepointRequest: (id) => {
      const v = requests.get(id);
      if (v !== undefined && v.status === 'in-progress') {
        // Completes when polled the first time, so a test sees both states.
        requests.complete(requests.inProgress()[0]!, 3, '/sp/savepoint-7d1c2a-0123456789ab', 2);
      }
      return v;
    },
    cancel: () => void calls.push('cancel'),
  };
}

const servers: RestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(job: JobController): Promise<string> {
  const server = new RestServer(job, { port: 0 });
  servers.push(server);
  return (await server.start()).url;
}

async function call(
  url: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(url + path, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  return { status: r.status, body: (await r.json()) as Record<string, unknown> };
}

describe('REST job control', () => {
  it('POST /jobs/:id/savepoints answers 202 with a request id; GET polls it to completion', async () => {
    const job = fakeController();
    const url = await serve(job);
    const posted = await call(url, 'POST', `/jobs/${JOB_ID}/savepoints`, { targetDirectory: '/data/sp' });
    expect(posted.status).toBe(202);
    const requestId = posted.body.requestId as string;
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(job.calls).toEqual(['savepoint /data/sp']);
    const first = await call(url, 'GET', `/jobs/${JOB_ID}/savepoints/${requestId}`);
    expect(first).toMatchObject({
      status: 200,
      body: { status: 'in-progress', kind: 'savepoint', path: null },
    });
    const second = await call(url, 'GET', `/jobs/${JOB_ID}/savepoints/${requestId}`);
    expect(second.body).toMatchObject({
      status: 'completed',
      checkpointId: 3,
      path: '/sp/savepoint-7d1c2a-0123456789ab',
    });
    expect((await call(url, 'GET', `/jobs/${JOB_ID}/savepoints/nope`)).status).toBe(404);
  });

  it('a second request while one is in flight is a 409 with the reason', async () => {
    const job = fakeController();
    const url = await serve(job);
    expect((await call(url, 'POST', `/jobs/${JOB_ID}/savepoints`)).status).toBe(202);
    const again = await call(url, 'POST', `/jobs/${JOB_ID}/stop`, { drain: true });
    expect(again).toEqual({
      status: 409,
      body: { error: 'savepoint 3 is in progress; wait for it to finish and try again' },
    });
    expect(job.calls).toEqual(['savepoint (default)', 'stop-drain (default)']);
  });

  it('POST /jobs/:id/stop passes drain and the folder', async () => {
    const job = fakeController();
    const url = await serve(job);
    expect((await call(url, 'POST', `/jobs/${JOB_ID}/stop`, { targetDirectory: '/x' })).status).toBe(202);
    expect(job.calls).toEqual(['stop /x']);
  });

  it.each([
    [{ targetDirectory: 'relative/dir' }, "'targetDirectory' must be an absolute folder path"],
    [{ targetDirectory: 7 }, "'targetDirectory' must be an absolute folder path"],
    [{ drain: 'yes' }, "'drain' must be true or false"],
    [{ target: '/x' }, "unknown field 'target' in the request body; allowed: targetDirectory, drain"],
    [[1], 'the request body must be a JSON object'],
  ])('rejects the stop body %j with 400', async (body, error) => {
    const job = fakeController();
    const url = await serve(job);
    expect(await call(url, 'POST', `/jobs/${JOB_ID}/stop`, body)).toEqual({ status: 400, body: { error } });
    expect(job.calls).toEqual([]);
  });

  it('PATCH /jobs/:id cancels a running job, and says when there is nothing to cancel', async () => {
    const job = fakeController();
    const url = await serve(job);
    expect(await call(url, 'PATCH', `/jobs/${JOB_ID}`)).toEqual({ status: 202, body: { cancelled: true } });
    expect(await call(url, 'PATCH', `/jobs/${JOB_ID}?mode=stop`)).toMatchObject({ status: 400 });
    expect(job.calls).toEqual(['cancel']);
    const done = fakeController('finished');
    const url2 = await serve(done);
    expect(await call(url2, 'PATCH', `/jobs/${JOB_ID}`)).toEqual({
      status: 409,
      body: { error: "job 'wc' is finished; nothing to cancel" },
    });
  });

  it('answers 404 for another job id', async () => {
    const url = await serve(fakeController());
    expect((await call(url, 'POST', `/jobs/other/savepoints`)).status).toBe(404);
  });
});
