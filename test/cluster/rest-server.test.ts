// The REST server over real HTTP on 127.0.0.1, against a fake job.
import { spawn } from 'node:child_process';
import { request, Server as HttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CheckpointStatsView, JobStatusProvider, JobStatusView } from '../../src/cluster/job-status.js';
import {
  HttpError,
  json,
  MAX_BODY_BYTES,
  RestPortInUseError,
  RestPortUnusableError,
  RestServer,
  Router,
  type RestServerOptions,
} from '../../src/cluster/rest-server.js';

const JOB_ID = '0f6c2a1e-5d7b-4c1f-9a35-2b8e4d6f7a90';

function checkpoint(
  id: number,
  status: CheckpointStatsView['status'],
  extra: Partial<CheckpointStatsView> = {},
): CheckpointStatsView {
  return {
    id,
    kind: 'checkpoint',
    status,
    triggerTime: 1_700_000_000_000 + id * 1000,
    durationMs: status === 'in-progress' ? null : 310,
    sizeBytes: status === 'completed' ? 12_400_000 : null,
    failureReason: status === 'failed' ? 'expired after 10000 ms' : null,
    path: status === 'completed' ? `/tmp/chk/${JOB_ID}/chk-${id}` : null,
    discarded: false,
    subtasks: [{ task: '0#0', syncMs: 1, asyncMs: 5, alignmentMs: 0, bytes: 100 }],
    ...extra,
  };
}

const HISTORY: CheckpointStatsView[] = [
  checkpoint(9, 'in-progress'),
  checkpoint(8, 'failed'),
  checkpoint(7, 'completed'),
  checkpoint(6, 'completed'),
];

const STATUS: JobStatusView = {
  jobId: JOB_ID,
  jobName: 'word-count',
  state: 'running',
  startTime: 1_700_000_000_000,
  durationMs: 12_345,
  parallelism: 2,
  restarts: 0,
  recordsIn: 1000,
  recordsOut: 900,
  checkpointing: { intervalMs: 1000, dir: '/tmp/chk' },
  vertices: [{ name: 'Source: lines', parallelism: 2, recordsIn: 0, recordsOut: 1000 }],
  lastCheckpoint: HISTORY[2]!,
  counts: { completed: 2, failed: 1, inProgress: 1 },
};

const fakeJob: JobStatusProvider = { status: () => STATUS, checkpoints: () => HISTORY };

const servers: RestServer[] = [];
const blockers: Server[] = [];

async function started(
  options: RestServerOptions = { port: 0 },
  job = fakeJob,
): Promise<{ server: RestServer; url: string }> {
  const server = new RestServer(job, options);
  servers.push(server);
  const { url } = await server.start();
  return { server, url };
}

/** Occupies a port on 127.0.0.1 (0: any free one) and returns it; undefined when it is taken already. */
function occupy(port = 0): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', (e: NodeJS.ErrnoException) => (e.code === 'EADDRINUSE' ? resolve(undefined) : reject(e)));
    s.listen({ port, host: '127.0.0.1', exclusive: true }, () => {
      blockers.push(s);
      const address = s.address();
      resolve(typeof address === 'object' && address !== null ? address.port : undefined);
    });
  });
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await Promise.all(blockers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A raw request, for headers fetch will not let a caller set (Host, Origin). */
function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string },
): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (s: string) => (text += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as unknown }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

describe('RestServer routes', () => {
  it('lists its one job', async () => {
    const { url } = await started();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const r = await fetch(`${url}/jobs`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await r.json()).toEqual({ jobs: [{ id: JOB_ID, name: 'word-count', state: 'running' }] });
    // A trailing slash is the same resource.
    expect(await (await fetch(`${url}/jobs/`)).json()).toEqual({
      jobs: [{ id: JOB_ID, name: 'word-count', state: 'running' }],
    });
  });

  it('serves the status of its job', async () => {
    const { url } = await started();
    const r = await fetch(`${url}/jobs/${JOB_ID}`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual(STATUS);
  });

  it('serves the checkpoint counts, the latest completed and failed ones, and the history newest first', async () => {
    const { url } = await started();
    const r = await fetch(`${url}/jobs/${JOB_ID}/checkpoints`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      intervalMs: 1000,
      counts: { completed: 2, failed: 1, inProgress: 1 },
      latest: { completed: HISTORY[2], failed: HISTORY[1] },
      history: HISTORY,
    });
  });

  it('answers a job without checkpoints with empty latest entries', async () => {
    const { url } = await started(
      { port: 0 },
      {
        status: () => ({ ...STATUS, lastCheckpoint: null, checkpointing: { intervalMs: 0, dir: null } }),
        checkpoints: () => [],
      },
    );
    expect(await (await fetch(`${url}/jobs/${JOB_ID}/checkpoints`)).json()).toEqual({
      intervalMs: 0,
      counts: STATUS.counts,
      latest: { completed: null, failed: null },
      history: [],
    });
  });

  it.each([`/jobs/nope`, `/jobs/nope/checkpoints`, `/jobs/${JOB_ID.slice(0, 8)}`])(
    'answers 404 with a JSON error for another job: %s',
    async (path) => {
      const { url } = await started();
      const r = await fetch(url + path);
      expect(r.status).toBe(404);
      expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await r.json()).toEqual({ error: expect.stringMatching(/^no job '.+' in this process$/) });
    },
  );

  it.each(['/', '/overview', `/jobs/${JOB_ID}/nothing`, `/jobs/${JOB_ID}/checkpoints/7/more`])(
    'answers 404 for an unknown route: %s',
    async (path) => {
      const { url } = await started();
      const r = await fetch(url + path);
      expect(r.status).toBe(404);
      expect(await r.json()).toEqual({ error: expect.stringContaining('no such resource') });
    },
  );

  it('answers 405 with Allow for a known route and another method', async () => {
    const { url } = await started();
    for (const [method, path] of [
      ['POST', '/jobs'],
      ['DELETE', `/jobs/${JOB_ID}`],
      ['PATCH', `/jobs/${JOB_ID}/checkpoints`],
      ['OPTIONS', '/jobs'],
    ] as const) {
      const r = await fetch(url + path, { method });
      expect({ method, status: r.status, allow: r.headers.get('allow') }).toEqual({
        method,
        status: 405,
        allow: 'GET, HEAD',
      });
      expect(await r.json()).toEqual({ error: expect.stringContaining(`method ${method} is not allowed`) });
    }
  });

  it('answers HEAD as GET without the body, and a GET whatever body it carries', async () => {
    const { url } = await started();
    const get = await fetch(`${url}/jobs/${JOB_ID}`);
    const head = await fetch(`${url}/jobs/${JOB_ID}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(get.headers.get('content-length'));
    expect(await head.text()).toBe('');
    expect(
      await rawRequest(`${url}/jobs`, {
        headers: { 'content-type': 'text/plain', 'content-length': '5' },
        body: 'hello',
      }),
    ).toEqual({
      status: 200,
      body: { jobs: [{ id: JOB_ID, name: 'word-count', state: 'running' }] },
    });
    // Dropped, but not without limit: a GET declaring a huge body is refused at once.
    const huge = { 'content-length': String(MAX_BODY_BYTES + 1) };
    expect(await rawRequest(`${url}/jobs`, { headers: huge, body: 'x'.repeat(1000) })).toEqual({
      status: 413,
      body: { error: `the request body is larger than ${MAX_BODY_BYTES} bytes` },
    });
  });

  it('answers 400 for a malformed path escape', async () => {
    const { url } = await started();
    const r = await fetch(`${url}/jobs/%E0%A4%A`);
    expect(r.status).toBe(400);
  });

  it('refuses a request addressed to another host name (DNS rebinding) and a cross-site post', async () => {
    const { server, url } = await started();
    server.jobRoute('POST', '/jobs/:id/stop', async () => json({ stopping: true }, 202));
    expect(await rawRequest(`${url}/jobs`, { headers: { host: `evil.example:${portOf(url)}` } })).toEqual({
      status: 403,
      body: { error: expect.stringContaining('must address 127.0.0.1') },
    });
    expect(await rawRequest(`${url}/jobs`, { headers: { host: `localhost:${portOf(url)}` } })).toMatchObject({
      status: 200,
    });
    const stop = `${url}/jobs/${JOB_ID}/stop`;
    expect(await rawRequest(stop, { method: 'POST', headers: { origin: 'https://evil.example' } })).toEqual({
      status: 403,
      body: { error: 'cross-origin requests are not accepted' },
    });
    expect(await rawRequest(stop, { method: 'POST', headers: { origin: url } })).toEqual({
      status: 202,
      body: { stopping: true },
    });
  });
});

describe('RestServer custom routes (what later commands add)', () => {
  it('passes params, query and the JSON body to an async handler', async () => {
    const { server, url } = await started();
    server.jobRoute('POST', '/jobs/:id/savepoints', async (req, job) =>
      json({ job: job.status().jobName, params: req.params, query: req.query.get('x'), body: req.body }, 202),
    );
    server.jobRoute('GET', '/jobs/:id/savepoints/:rid', async (req) => json({ rid: req.params.rid }));
    const r = await fetch(`${url}/jobs/${JOB_ID}/savepoints?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ targetDirectory: '/tmp/sp', drain: true }),
    });
    expect(r.status).toBe(202);
    expect(await r.json()).toEqual({
      job: 'word-count',
      params: { id: JOB_ID },
      query: '1',
      body: { targetDirectory: '/tmp/sp', drain: true },
    });
    expect(await (await fetch(`${url}/jobs/${JOB_ID}/savepoints/a%2Fb`)).json()).toEqual({ rid: 'a/b' });
    // No body at all is undefined, not an error.
    const empty = await fetch(`${url}/jobs/${JOB_ID}/savepoints`, { method: 'POST' });
    expect(await empty.json()).not.toHaveProperty('body');
    // A job route for another job is 404 whatever the method.
    expect((await fetch(`${url}/jobs/other/savepoints`, { method: 'POST' })).status).toBe(404);
  });

  it('answers 413 for a body over 1 MiB, 400 for bad JSON, 415 for a body that is not JSON', async () => {
    const { server, url } = await started();
    server.route('PATCH', '/jobs/:id', async (req) => json({ got: req.body }));
    const patch = (body: string, type = 'application/json'): Promise<Response> =>
      fetch(`${url}/jobs/${JOB_ID}`, { method: 'PATCH', headers: { 'content-type': type }, body });
    const big = await patch(JSON.stringify({ pad: 'x'.repeat(MAX_BODY_BYTES) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ error: `the request body is larger than ${MAX_BODY_BYTES} bytes` });
    const bad = await patch('{"parallelism": ');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: expect.stringContaining('not valid JSON') });
    expect((await patch('parallelism=4', 'application/x-www-form-urlencoded')).status).toBe(415);
    const ok = await patch(JSON.stringify({ parallelism: 4 }), 'application/json; charset=utf-8');
    expect(await ok.json()).toEqual({ got: { parallelism: 4 } });
  });

  it('turns HttpError into its status and any other error into 500, and keeps serving', async () => {
    const onInternalError = vi.fn();
    const { server, url } = await started({ port: 0, onInternalError });
    server.route('POST', '/jobs/:id/stop', async () => {
      throw new HttpError(409, 'the job is already stopping');
    });
    server.route('GET', '/boom', async () => {
      throw new Error('kaput');
    });
    const conflict = await fetch(`${url}/jobs/${JOB_ID}/stop`, { method: 'POST' });
    expect({ status: conflict.status, body: await conflict.json() }).toEqual({
      status: 409,
      body: { error: 'the job is already stopping' },
    });
    const boom = await fetch(`${url}/boom`);
    expect({ status: boom.status, body: await boom.json() }).toEqual({
      status: 500,
      body: { error: 'internal error: kaput' },
    });
    expect(onInternalError).toHaveBeenCalledWith(expect.objectContaining({ message: 'kaput' }), {
      method: 'GET',
      url: '/boom',
    });
    expect((await fetch(`${url}/jobs`)).status).toBe(200);
  });

  it('rejects a job route without :id and a route registered twice', async () => {
    const server = new RestServer(fakeJob, { port: 0 });
    expect(() => server.jobRoute('GET', '/jobs', async () => json(1))).toThrow(/no ':id'/);
    expect(() => server.route('GET', '/jobs/:job', async () => json(1))).toThrow(/registered twice/);
  });
});

describe('Router', () => {
  const handler = async (): Promise<{ status: number; body: unknown }> => json(null);

  it('prefers a literal segment over a parameter, whatever the order of registration', () => {
    const byId = async (): Promise<{ status: number; body: unknown }> => json('id');
    const overview = async (): Promise<{ status: number; body: unknown }> => json('overview');
    const router = new Router().route('GET', '/jobs/:id', byId).route('GET', '/jobs/overview', overview);
    expect(router.match('GET', ['jobs', 'overview'])).toMatchObject({
      kind: 'found',
      handler: overview,
      params: {},
    });
    expect(router.match('GET', ['jobs', 'abc'])).toMatchObject({
      kind: 'found',
      handler: byId,
      params: { id: 'abc' },
    });
  });

  it('tells a wrong method from an unknown path, listing the allowed methods', () => {
    const router = new Router()
      .route('POST', '/jobs/:id/stop', handler)
      .route('GET', '/jobs/:id/stop', handler);
    expect(router.match('PUT', ['jobs', 'a', 'stop'])).toEqual({
      kind: 'method-not-allowed',
      allowed: ['GET', 'POST'],
    });
    expect(router.match('GET', ['jobs', 'a'])).toEqual({ kind: 'not-found' });
    expect(router.match('GET', ['jobs', '', 'stop'])).toEqual({ kind: 'not-found' });
  });

  it.each(['jobs', '/jobs//x', '/jobs/:', '/jobs/:id/:id', '/jobs/:1d'])(
    'rejects the pattern %j',
    (pattern) => {
      expect(() => new Router().route('GET', pattern, handler)).toThrow(/internal: route pattern/);
    },
  );
});

describe('RestServer ports', () => {
  it("'auto' skips a taken port and takes the next free one", async () => {
    const taken = (await occupy())!;
    const { url } = await started({ port: 'auto', autoPorts: { first: taken, last: taken + 20 } });
    expect(portOf(url)).toBeGreaterThan(taken);
    expect(portOf(url)).toBeLessThanOrEqual(taken + 20);
  });

  it("'auto' starts at 8081 and moves on to at most 8181 when 8081 is taken", async () => {
    await occupy(8081); // undefined when something else holds it already: taken either way
    const { url } = await started({ port: 'auto' });
    expect(portOf(url)).toBeGreaterThan(8081);
    expect(portOf(url)).toBeLessThanOrEqual(8181);
  });

  it("'auto' with every port taken says so and how to choose one", async () => {
    const taken = (await occupy())!;
    const server = new RestServer(fakeJob, { port: 'auto', autoPorts: { first: taken, last: taken } });
    await expect(server.start()).rejects.toThrow(RestPortInUseError);
  });

  it('an explicit port that is taken is an error naming the port and --rest-port', async () => {
    const taken = (await occupy())!;
    const server = new RestServer(fakeJob, { port: taken });
    const error = await server.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestPortInUseError);
    expect((error as Error).message).toBe(
      `port ${taken} for the REST API is taken by another process; use --rest-port N for another port, or --rest-port 0 for any free one`,
    );
    await server.close();
  });

  it('a port it may not listen on is an error naming the port, why and --rest-port', async () => {
    // EACCES as on a port below 1024 without privileges (the tests may run as root, which has them).
    const listen = vi.spyOn(HttpServer.prototype, 'listen').mockImplementationOnce(function (
      this: HttpServer,
    ) {
      const e: NodeJS.ErrnoException = new Error('listen EACCES: permission denied 127.0.0.1:80');
      e.code = 'EACCES';
      queueMicrotask(() => this.emit('error', e));
      return this;
    });
    try {
      const server = new RestServer(fakeJob, { port: 80 });
      const error = await server.start().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RestPortUnusableError);
      expect((error as Error).message).toBe(
        'port 80 for the REST API cannot be used (listen EACCES: permission denied 127.0.0.1:80); ports below 1024 need privileges; use --rest-port N for another port, or --rest-port 0 for any free one',
      );
      await server.close();
    } finally {
      listen.mockRestore();
    }
  });

  it('binds an explicit free port exactly', async () => {
    const free = (await occupy())!;
    await new Promise((r) => blockers.pop()!.close(r));
    const { url } = await started({ port: free });
    expect(url).toBe(`http://127.0.0.1:${free}`);
  });

  it('close() releases the port even with a keep-alive connection open', async () => {
    const { server, url } = await started();
    const r = await fetch(`${url}/jobs`, { headers: { connection: 'keep-alive' } });
    await r.json();
    const t0 = performance.now();
    await server.close();
    expect(performance.now() - t0).toBeLessThan(900);
    await expect(fetch(`${url}/jobs`)).rejects.toThrow();
    expect(await occupy(portOf(url))).toBe(portOf(url));
    await server.close(); // twice is fine
  });

  it('rejects a port out of range and a second start()', async () => {
    expect(() => new RestServer(fakeJob, { port: 70000 })).toThrow(RangeError);
    expect(() => new RestServer(fakeJob, { port: 1.5 })).toThrow(RangeError);
    const { server } = await started();
    await expect(server.start()).rejects.toThrow(/internal: RestServer.start\(\) called when listening/);
    await new RestServer(fakeJob, { port: 0 }).close(); // never started: nothing to do
  });

  it('never keeps the process alive by itself', async () => {
    // A process that starts a server, is called once (keep-alive) and then has nothing else to do must exit.
    const module = new URL('../../src/cluster/rest-server.ts', import.meta.url).href;
    const script = `
      const { RestServer } = await import(${JSON.stringify(module)});
      const job = { status: () => ({ jobId: 'j', jobName: 'n', state: 'running' }), checkpoints: () => [] };
      const { url } = await new RestServer(job, { port: 0 }).start();
      const r = await fetch(url + '/jobs');
      console.log(r.status);
      const served = performance.now();
      process.on('exit', () => console.log(performance.now() - served < 1500 ? 'exited at once' : 'lingered'));
    `;
    const result = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: 'pipe',
      });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout });
      });
    });
    // Not after the keep-alive timeouts (4 s for fetch's connection, 5 s for the server's).
    expect(result).toEqual({ code: 0, stdout: '200\nexited at once\n' });
  });
});
