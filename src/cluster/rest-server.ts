// The REST API of a running job (ARCHITECTURE.md §9): what `weir list`, `weir checkpoints` and,
// later, `weir savepoint` / `stop` / `cancel` talk to. One process runs one job, so the server
// serves exactly that job. It binds 127.0.0.1 only and refuses requests whose Host or Origin is
// not its own, so a web page cannot reach it through DNS rebinding or a cross-site form post.
//
// Routes are data: `route(method, pattern, handler)` with `:name` segments. Handlers are async,
// receive the parsed JSON body (at most 1 MiB) and return `{ status, body }`; they end a request
// early by throwing HttpError. Job routes (`jobRoute`) answer 404 for any job id but this one.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isAbsolute } from 'node:path';
import type { CheckpointStatsView, JobController, JobStatusProvider, JobStatusView } from './job-status.js';
import { JobControlError } from './savepoint-request.js';

export const REST_HOST = '127.0.0.1';
/** Ports `port: 'auto'` tries, in order: the first free one is used (Flink's default port first). */
export const AUTO_PORTS = { first: 8081, last: 8181 } as const;
export const MAX_BODY_BYTES = 1024 * 1024;

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RestRequest {
  readonly method: HttpMethod;
  /** The decoded path, without query and trailing slash. */
  readonly path: string;
  /** Values of the pattern's `:name` segments, decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The parsed JSON body; undefined when the request has none. */
  readonly body: unknown;
}

export interface RestResponse {
  readonly status: number;
  /** Sent as JSON. */
  readonly body: unknown;
}

export type RestHandler = (request: RestRequest) => Promise<RestResponse>;
export type JobRestHandler = (request: RestRequest, job: JobStatusProvider) => Promise<RestResponse>;

export function json(body: unknown, status = 200): RestResponse {
  return { status, body };
}

/** Ends a request with `status` and the JSON body `{ error: message }`. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The port asked for (or every port 'auto' tries) is taken: a configuration problem for the user. */
export class RestPortInUseError extends Error {
  override readonly name = 'RestPortInUseError';
  constructor(
    readonly ports: { readonly first: number; readonly last: number },
    options?: { cause?: unknown },
  ) {
    super(
      ports.first === ports.last
        ? `port ${ports.first} for the REST API is taken by another process; use --rest-port N for another port, or --rest-port 0 for any free one`
        : `ports ${ports.first} to ${ports.last} for the REST API are all taken; use --rest-port N for another port, or --rest-port 0 for any free one`,
      options,
    );
  }
}

/**
 * The port asked for cannot be listened on for another reason than being taken (EACCES below
 * 1024 without privileges, say): a configuration problem for the user.
 */
export class RestPortUnusableError extends Error {
  override readonly name = 'RestPortUnusableError';
  constructor(port: number, cause: Error) {
    const code = (cause as NodeJS.ErrnoException).code;
    super(
      `port ${port} for the REST API cannot be used (${cause.message})${code === 'EACCES' && port < 1024 ? '; ports below 1024 need privileges' : ''}; use --rest-port N for another port, or --rest-port 0 for any free one`,
      { cause },
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Routing: pure, no I/O.

type Segment = { readonly literal: string } | { readonly param: string };

interface Route {
  readonly method: HttpMethod;
  readonly pattern: string;
  readonly segments: readonly Segment[];
  readonly handler: RestHandler;
}

export type RouteMatch =
  | { readonly kind: 'found'; readonly handler: RestHandler; readonly params: Record<string, string> }
  | { readonly kind: 'method-not-allowed'; readonly allowed: readonly HttpMethod[] }
  | { readonly kind: 'not-found' };

export class Router {
  private readonly routes: Route[] = [];

  /**
   * Adds a route. `pattern` is a path whose segments are literals or `:name` parameters, e.g.
   * `/jobs/:id/savepoints/:rid`. Where two patterns match a path, the one with a literal earlier
   * wins (`/jobs/overview` over `/jobs/:id`). Registering the same method and shape twice is a bug.
   */
  route(method: HttpMethod, pattern: string, handler: RestHandler): this {
    const segments = parsePattern(pattern);
    const shape = shapeOf(segments);
    if (this.routes.some((r) => r.method === method && shapeOf(r.segments) === shape)) {
      throw new Error(`internal: route ${method} ${pattern} is registered twice`);
    }
    this.routes.push({ method, pattern, segments, handler });
    return this;
  }

  /** `pathSegments` are the decoded segments of the request path. */
  match(method: string, pathSegments: readonly string[]): RouteMatch {
    let best: { route: Route; params: Record<string, string>; score: string } | undefined;
    const allowed = new Set<HttpMethod>();
    for (const route of this.routes) {
      const params = matchSegments(route.segments, pathSegments);
      if (params === undefined) continue;
      allowed.add(route.method);
      if (route.method !== method) continue;
      // Literal segments (1) beat parameters (0), leftmost first.
      const score = route.segments.map((s) => ('literal' in s ? '1' : '0')).join('');
      if (best === undefined || score > best.score) best = { route, params, score };
    }
    if (best !== undefined) return { kind: 'found', handler: best.route.handler, params: best.params };
    if (allowed.size > 0) return { kind: 'method-not-allowed', allowed: [...allowed].sort() };
    return { kind: 'not-found' };
  }
}

function parsePattern(pattern: string): Segment[] {
  if (!pattern.startsWith('/')) throw new Error(`internal: route pattern '${pattern}' must start with '/'`);
  const parts = pattern === '/' ? [] : pattern.slice(1).split('/');
  const names = new Set<string>();
  return parts.map((part) => {
    if (part.startsWith(':')) {
      const name = part.slice(1);
      if (!/^[A-Za-z_]\w*$/.test(name) || names.has(name)) {
        throw new Error(`internal: route pattern '${pattern}' has a bad or repeated parameter '${part}'`);
      }
      names.add(name);
      return { param: name };
    }
    if (part === '') throw new Error(`internal: route pattern '${pattern}' has an empty segment`);
    return { literal: part };
  });
}

function shapeOf(segments: readonly Segment[]): string {
  return segments.map((s) => ('literal' in s ? s.literal : ':')).join('/');
}

function matchSegments(
  segments: readonly Segment[],
  path: readonly string[],
): Record<string, string> | undefined {
  if (segments.length !== path.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    const value = path[i]!;
    if ('literal' in segment) {
      if (segment.literal !== value) return undefined;
    } else {
      if (value === '') return undefined;
      params[segment.param] = value;
    }
  }
  return params;
}

/** The decoded segments of a request path; `/jobs/` is `/jobs`. Undefined for a malformed escape. */
export function splitPath(pathname: string): string[] | undefined {
  const trimmed = pathname.replace(/\/+$/, '');
  if (trimmed === '') return [];
  try {
    return trimmed
      .slice(1)
      .split('/')
      .map((s) => decodeURIComponent(s));
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// What the job routes answer.

export interface JobListView {
  jobs: Array<{ id: string; name: string; state: JobStatusView['state'] }>;
}

export interface CheckpointHistoryView {
  /** 0 when periodic checkpoints are off (savepoints may still be taken). */
  intervalMs: number;
  counts: JobStatusView['counts'];
  latest: { completed: CheckpointStatsView | null; failed: CheckpointStatsView | null };
  /** Newest first. */
  history: CheckpointStatsView[];
}

export function checkpointHistoryView(job: JobStatusProvider): CheckpointHistoryView {
  const history = job.checkpoints();
  const status = job.status();
  return {
    intervalMs: status.checkpointing.intervalMs,
    counts: status.counts,
    latest: {
      completed: history.find((c) => c.status === 'completed') ?? null,
      failed: history.find((c) => c.status === 'failed') ?? null,
    },
    history,
  };
}

// ---------------------------------------------------------------------------------------------
// The server.

export interface RestServerOptions {
  /** A port, 0 for any free one, or 'auto': the first free one of AUTO_PORTS. */
  readonly port: number | 'auto';
  /** The range 'auto' tries; a seam for tests. */
  readonly autoPorts?: { readonly first: number; readonly last: number };
  /** Told about errors a handler did not expect (answered with 500). */
  readonly onInternalError?: (error: unknown, request: { method: string; url: string }) => void;
}

type Phase = 'new' | 'starting' | 'listening' | 'closing' | 'closed';

/**
 * Serves one job over HTTP on 127.0.0.1. The listening socket and connections are unref'd: the
 * server never keeps the process alive by itself, the job does. close() releases the port.
 */
export class RestServer {
  private readonly router = new Router();
  private readonly server: Server;
  private phase: Phase = 'new';
  private port: number | undefined;
  private closed: Promise<void> | undefined;

  constructor(
    private readonly job: JobStatusProvider,
    private readonly options: RestServerOptions,
  ) {
    const p = options.port;
    if (p !== 'auto' && !(Number.isInteger(p) && p >= 0 && p <= 65535)) {
      throw new RangeError(`REST port must be 'auto' or an integer from 0 to 65535, got ${String(p)}`);
    }
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.requestTimeout = 30_000;
    this.server.on('connection', (socket: Socket) => socket.unref());
    this.registerJobRoutes();
  }

  /** The base URL, e.g. `http://127.0.0.1:8081`; undefined until started. */
  get url(): string | undefined {
    return this.port === undefined ? undefined : `http://${REST_HOST}:${this.port}`;
  }

  /** Adds a route; see Router.route. */
  route(method: HttpMethod, pattern: string, handler: RestHandler): this {
    this.router.route(method, pattern, handler);
    return this;
  }

  /** Adds a route whose pattern has `:id`: a request for any job but this one is answered 404. */
  jobRoute(method: HttpMethod, pattern: string, handler: JobRestHandler): this {
    if (!pattern.split('/').includes(':id')) throw new Error(`internal: job route '${pattern}' has no ':id'`);
    return this.route(method, pattern, async (request) => {
      const id = request.params.id!;
      if (id !== this.job.status().jobId) throw new HttpError(404, `no job '${id}' in this process`);
      return handler(request, this.job);
    });
  }

  async start(): Promise<{ url: string }> {
    if (this.phase !== 'new') throw new Error(`internal: RestServer.start() called when ${this.phase}`);
    this.phase = 'starting';
    const ports =
      this.options.port === 'auto'
        ? (this.options.autoPorts ?? AUTO_PORTS)
        : { first: this.options.port, last: this.options.port };
    for (let port = ports.first; port <= ports.last; port++) {
      let listening: boolean;
      try {
        listening = await this.listenOn(port);
      } catch (e) {
        this.phase = 'closed'; // EACCES and the like: no other port would fare better
        throw e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string'
          ? new RestPortUnusableError(port, e)
          : e;
      }
      if (listening) {
        this.server.unref();
        const address = this.server.address();
        this.port = typeof address === 'object' && address !== null ? address.port : port;
        this.phase = 'listening';
        return { url: this.url! };
      }
    }
    this.phase = 'closed';
    throw new RestPortInUseError(ports);
  }

  /** Stops listening and closes every connection; in-flight requests get a moment to finish. */
  close(): Promise<void> {
    if (this.phase === 'new' || this.phase === 'closed') {
      this.phase = 'closed';
      return this.closed ?? Promise.resolve();
    }
    if (this.closed === undefined) {
      this.phase = 'closing';
      this.closed = new Promise<void>((resolve) => {
        this.server.close(() => {
          this.phase = 'closed';
          resolve();
        });
        this.server.closeIdleConnections();
        setTimeout(() => this.server.closeAllConnections(), 1000).unref();
      });
    }
    return this.closed;
  }

  /** True when listening on `port`, false when it is taken. */
  private listenOn(port: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException): void => {
        this.server.off('listening', onListening);
        if (e.code === 'EADDRINUSE') resolve(false);
        else reject(e);
      };
      const onListening = (): void => {
        this.server.off('error', onError);
        resolve(true);
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen({ port, host: REST_HOST, exclusive: true });
    });
  }

  private registerJobRoutes(): void {
    this.route('GET', '/jobs', async () => {
      const s = this.job.status();
      const view: JobListView = { jobs: [{ id: s.jobId, name: s.jobName, state: s.state }] };
      return json(view);
    });
    this.jobRoute('GET', '/jobs/:id', async (_request, job) => json(job.status()));
    this.jobRoute('GET', '/jobs/:id/checkpoints', async (_request, job) => json(checkpointHistoryView(job)));
    if (isController(this.job)) this.registerControlRoutes(this.job);
  }

  /** Savepoints, stop and cancel (ARCHITECTURE.md §9); a request the job cannot take now is a 409. */
  private registerControlRoutes(job: JobController): void {
    const control = <T>(action: () => T): T => {
      try {
        return action();
      } catch (e) {
        if (e instanceof JobControlError) throw new HttpError(409, e.message, { cause: e });
        throw e;
      }
    };
    this.jobRoute('POST', '/jobs/:id/savepoints', async (request) => {
      const body = objectBody(request.body, ['targetDirectory']);
      const view = control(() => job.triggerSavepoint(targetDirectory(body)));
      return json({ requestId: view.requestId }, 202);
    });
    this.jobRoute('GET', '/jobs/:id/savepoints/:requestId', async (request) => {
      const view = job.savepointRequest(request.params.requestId!);
      if (view === undefined)
        throw new HttpError(404, `no savepoint request '${request.params.requestId}' in this job`);
      return json(view);
    });
    this.jobRoute('POST', '/jobs/:id/stop', async (request) => {
      const body = objectBody(request.body, ['targetDirectory', 'drain']);
      const drain = body.drain;
      if (drain !== undefined && typeof drain !== 'boolean')
        throw new HttpError(400, `'drain' must be true or false`);
      const view = control(() => job.stop({ targetDir: targetDirectory(body), drain: drain === true }));
      return json({ requestId: view.requestId }, 202);
    });
    this.jobRoute('PATCH', '/jobs/:id', async (request) => {
      const mode = request.query.get('mode');
      if (mode !== null && mode !== 'cancel')
        throw new HttpError(400, `unknown mode '${mode}'; PATCH /jobs/:id cancels the job (mode=cancel)`);
      const state = job.status().state;
      if (state !== 'running' && state !== 'restarting')
        throw new HttpError(409, `job '${job.status().jobName}' is ${state}; nothing to cancel`);
      job.cancel();
      return json({ cancelled: true }, 202);
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let response: RestResponse;
    const headers: Record<string, string> = {};
    try {
      response = await this.dispatch(req);
    } catch (e) {
      if (e instanceof HttpError) {
        response = { status: e.status, body: { error: e.message } };
        if (e instanceof MethodNotAllowed) headers.allow = e.allowed.join(', ');
        // The rest of an oversized body is not read; do not try to read the next request after it.
        if (e.status === 413) headers.connection = 'close';
      } else {
        this.options.onInternalError?.(e, { method: req.method ?? '', url: req.url ?? '' });
        response = {
          status: 500,
          body: { error: `internal error: ${e instanceof Error ? e.message : String(e)}` },
        };
      }
    }
    send(res, response, headers);
  }

  private async dispatch(req: IncomingMessage): Promise<RestResponse> {
    this.checkCaller(req);
    const url = new URL(req.url ?? '/', 'http://localhost');
    const segments = splitPath(url.pathname);
    if (segments === undefined) throw new HttpError(400, `malformed path '${url.pathname}'`);
    // HEAD is GET without the body (Node leaves it out of the response), as HTTP requires.
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET');
    const match = this.router.match(method, segments);
    if (match.kind === 'not-found') throw new HttpError(404, `no such resource: ${url.pathname}`);
    if (match.kind === 'method-not-allowed') {
      const allowed = match.allowed.includes('GET') ? [...match.allowed, 'HEAD'] : match.allowed;
      throw new MethodNotAllowed(req.method ?? method, url.pathname, allowed);
    }
    // A GET's body means nothing (RFC 9110): it is read (so the connection can take the next
    // request) and dropped, whatever its type.
    const body = method === 'GET' ? void (await readBody(req)) : await readJsonBody(req);
    return match.handler({
      method: method as HttpMethod,
      path: '/' + segments.join('/'),
      params: match.params,
      query: url.searchParams,
      body,
    });
  }

  /** Only clients that address this server by its loopback name get in (no DNS rebinding, no cross-site posts). */
  private checkCaller(req: IncomingMessage): void {
    const own = [`${REST_HOST}:${this.port}`, `localhost:${this.port}`];
    const host = req.headers.host;
    if (host === undefined || !own.includes(host.toLowerCase())) {
      throw new HttpError(403, `requests must address ${REST_HOST}:${this.port}`);
    }
    const origin = req.headers.origin;
    if (
      origin !== undefined &&
      req.method !== 'GET' &&
      !own.some((o) => origin.toLowerCase() === `http://${o}`)
    ) {
      throw new HttpError(403, `cross-origin requests are not accepted`);
    }
  }
}

function isController(job: JobStatusProvider): job is JobController {
  const j = job as Partial<JobController>;
  return (
    typeof j.triggerSavepoint === 'function' && typeof j.stop === 'function' && typeof j.cancel === 'function'
  );
}

/** The JSON body as an object with only `allowed` fields (an absent body is an empty object). */
function objectBody(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw new HttpError(400, `the request body must be a JSON object`);
  for (const k of Object.keys(body))
    if (!allowed.includes(k))
      throw new HttpError(400, `unknown field '${k}' in the request body; allowed: ${allowed.join(', ')}`);
  return body as Record<string, unknown>;
}

/** The job's own working folder may differ from the caller's: only absolute folders are accepted. */
function targetDirectory(body: Record<string, unknown>): string | undefined {
  const dir = body.targetDirectory;
  if (dir === undefined || dir === null) return undefined;
  if (typeof dir !== 'string' || dir.length === 0 || !isAbsolute(dir))
    throw new HttpError(400, `'targetDirectory' must be an absolute folder path`);
  return dir;
}

class MethodNotAllowed extends HttpError {
  constructor(
    method: string,
    path: string,
    readonly allowed: readonly string[],
  ) {
    super(405, `method ${method} is not allowed on ${path}; allowed: ${allowed.join(', ')}`);
  }
}

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks = await readBody(req);
  if (chunks.length === 0) return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  // Strict on purpose: a form or text body is what any web page the user visits can post to
  // 127.0.0.1 without a CORS preflight; a JSON one needs the preflight this server never grants.
  if (type !== 'application/json' && !type.endsWith('+json')) {
    throw new HttpError(415, `the request body must be JSON (content-type: application/json)`);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (e) {
    throw new HttpError(
      400,
      `the request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
}

/** A request's body to its end, refused (413) when larger than MAX_BODY_BYTES. */
async function readBody(req: IncomingMessage): Promise<Buffer[]> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) throw tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw tooLarge();
    if (chunk.length > 0) chunks.push(chunk);
  }
  return chunks;
}

function tooLarge(): HttpError {
  return new HttpError(413, `the request body is larger than ${MAX_BODY_BYTES} bytes`);
}

function send(res: ServerResponse, response: RestResponse, extraHeaders: Record<string, string>): void {
  const text = JSON.stringify(response.body ?? null);
  res.writeHead(response.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...extraHeaders,
  });
  res.end(text);
}
