// What the CLI says when a running job does not answer its REST request in time. A request that
// changes something (stop, cancel, savepoint) was sent, and a job whose process was stopped
// (SIGSTOP) carries it out when it continues: the line must not read as if nothing happened.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, sendJson } from '../../src/cli/list-command.js';
import type { RegisteredJob } from '../../src/cluster/job-registry.js';

let server: Server;
let job: RegisteredJob;

beforeAll(async () => {
  // Takes every request and never answers.
  server = createServer(() => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  job = {
    jobId: 'j-1',
    jobName: 'silent',
    pid: 4242,
    restUrl: `http://127.0.0.1:${port}`,
    startTime: 0,
    checkpointDir: null,
    weirVersion: '0',
  };
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('a job that does not answer in time', () => {
  it('says a change it was asked for may still be carried out', async () => {
    const e = await sendJson(job, 'POST', '/jobs/j-1/stop', {}, 200).catch((x: unknown) => x);
    expect(String((e as Error).message)).toBe(
      `cannot reach job 'silent' (j-1) at ${job.restUrl}/jobs/j-1/stop: no answer within 0.2 s (the request was sent, and may still be carried out when the job answers again); is it still running? (pid 4242)`,
    );
  });

  it('says nothing of the kind for a question', async () => {
    const e = await getJson(job, '/jobs/j-1', 200).catch((x: unknown) => x);
    expect(String((e as Error).message)).toBe(
      `cannot reach job 'silent' (j-1) at ${job.restUrl}/jobs/j-1: no answer within 0.2 s; is it still running? (pid 4242)`,
    );
  });
});
