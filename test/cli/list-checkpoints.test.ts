// `weir list` and `weir checkpoints` end to end: a temporary WEIR_HOME holds registry entries whose
// REST URL points at a RestServer this test runs over a fake job (pid: this process, so alive).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobRegistry } from '../../src/cluster/job-registry.js';
import type { CheckpointStatsView, JobStatusProvider, JobStatusView } from '../../src/cluster/job-status.js';
import { checkpointHistoryView, RestServer } from '../../src/cluster/rest-server.js';
import { expectOneLineError, weir } from './weir-process.js';

const RUNNING_ID = '7c0ffee0-1111-4222-8333-444455556666';
const GONE_ID = '7c0dead0-1111-4222-8333-444455556666';
const now = Date.now();

const HISTORY: CheckpointStatsView[] = [
  {
    id: 3,
    kind: 'checkpoint',
    status: 'in-progress',
    triggerTime: now - 1000,
    durationMs: null,
    sizeBytes: null,
    failureReason: null,
    path: null,
    discarded: false,
    subtasks: [],
  },
  {
    id: 2,
    kind: 'checkpoint',
    status: 'failed',
    triggerTime: now - 11_000,
    durationMs: 10_000,
    sizeBytes: null,
    failureReason: 'expired: not acknowledged by 0#1 within 10000 ms',
    path: null,
    discarded: false,
    subtasks: [],
  },
  {
    id: 1,
    kind: 'checkpoint',
    status: 'completed',
    triggerTime: now - 21_000,
    durationMs: 310,
    sizeBytes: 12_400_000,
    failureReason: null,
    path: `/tmp/chk/${RUNNING_ID}/chk-1`,
    discarded: true,
    subtasks: [{ task: '0#0', syncMs: 1, asyncMs: 300, alignmentMs: 9, bytes: 12_400_000 }],
  },
];

const STATUS: JobStatusView = {
  jobId: RUNNING_ID,
  jobName: 'word-count',
  state: 'running',
  startTime: now - 65_000,
  durationMs: 65_000,
  parallelism: 2,
  restarts: 0,
  recordsIn: 10,
  recordsOut: 10,
  checkpointing: { intervalMs: 10_000, dir: '/tmp/chk' },
  vertices: [],
  lastCheckpoint: HISTORY[2]!,
  counts: { completed: 1, failed: 1, inProgress: 1 },
};

const job: JobStatusProvider = { status: () => STATUS, checkpoints: () => HISTORY };

let home: string;
let server: RestServer;
let restUrl: string;
let deadUrl: string;
let env: Record<string, string>;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'weir-home-'));
  env = { WEIR_HOME: home };
  server = new RestServer(job, { port: 0 });
  restUrl = (await server.start()).url;
  // A registered job whose process is alive but whose REST API is gone.
  const gone = new RestServer(job, { port: 0 });
  deadUrl = (await gone.start()).url;
  await gone.close();

  const registry = new JobRegistry(home);
  await registry.register({
    jobId: RUNNING_ID,
    jobName: 'word-count',
    pid: process.pid,
    restUrl,
    startTime: now - 65_000,
    checkpointDir: '/tmp/chk',
  });
  await registry.register({
    jobId: GONE_ID,
    jobName: 'fraud',
    pid: process.pid,
    restUrl: deadUrl,
    startTime: now - 5000,
    checkpointDir: null,
  });
});

afterAll(async () => {
  await server.close();
  rmSync(home, { recursive: true, force: true });
});

describe.concurrent('weir list', () => {
  it('prints the registered jobs as JSON with their states', async () => {
    const r = await weir(['list', '--json'], { env });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const version = (await import('../../src/version.js')).weirVersion();
    expect(JSON.parse(r.stdout)).toEqual([
      {
        jobId: RUNNING_ID,
        jobName: 'word-count',
        pid: process.pid,
        restUrl,
        startTime: now - 65_000,
        checkpointDir: '/tmp/chk',
        weirVersion: version,
        state: 'running',
      },
      {
        jobId: GONE_ID,
        jobName: 'fraud',
        pid: process.pid,
        restUrl: deadUrl,
        startTime: now - 5000,
        checkpointDir: null,
        weirVersion: version,
        state: 'unreachable',
      },
    ]);
  });

  it('prints a table', async () => {
    const r = await weir(['list'], { env });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^JOB ID {2,}NAME {2,}STATE {2,}UPTIME {2}REST URL$/);
    expect(lines[1]).toMatch(
      new RegExp(`^${RUNNING_ID} {2}word-count {2}running {6}1m\\d\\ds {3}${restUrl}$`),
    );
    expect(lines[2]).toMatch(
      new RegExp(`^${GONE_ID} {2}fraud {7}unreachable {2}\\d+\\.\\ds {3,}${deadUrl}$`),
    );
    expect(lines.slice(3)).toEqual(['']);
  });

  it('says there are no running jobs in an empty WEIR_HOME', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'weir-home-'));
    try {
      const [table, json] = await Promise.all([
        weir(['list'], { env: { WEIR_HOME: empty } }),
        weir(['list', '--json'], { env: { WEIR_HOME: empty } }),
      ]);
      expect(table).toEqual({ code: 0, signal: null, stdout: 'no running jobs\n', stderr: '' });
      expect(json).toEqual({ code: 0, signal: null, stdout: '[]\n', stderr: '' });
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe.concurrent('weir checkpoints', () => {
  it('prints the counts and the history newest first, found by an id prefix', async () => {
    const r = await weir(['checkpoints', RUNNING_ID.slice(0, 6)], { env });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 2)).toEqual([
      `job 'word-count' (${RUNNING_ID}): 1 completed, 1 failed, 1 in progress`,
      '',
    ]);
    // Today's times are HH:MM:SS; just after midnight the older ones carry a date (and widen the column).
    expect(lines[2]).toMatch(/^ID {2}KIND {8}STATUS {7}TRIGGERED {2,}DURATION {2}SIZE {5}PATH\/REASON$/);
    const t = '(?:\\d{4}-\\d\\d-\\d\\d )?\\d\\d:\\d\\d:\\d\\d +';
    expect(lines[3]).toMatch(new RegExp(`^3 {3}checkpoint {2}in-progress {2}${t}- {9}- {8}-$`));
    expect(lines[4]).toMatch(
      new RegExp(
        `^2 {3}checkpoint {2}failed {7}${t}10\\.0 s {4}- {8}expired: not acknowledged by 0#1 within 10000 ms$`,
      ),
    );
    expect(lines[5]).toMatch(
      // Retention removed it since: its path is marked.
      new RegExp(
        `^1 {3}checkpoint {2}completed {4}${t}310 ms {4}12\\.4 MB {2}/tmp/chk/${RUNNING_ID}/chk-1 \\(removed\\)$`,
      ),
    );
    expect(lines.slice(6)).toEqual(['']);
  });

  it('says so when the job runs without periodic checkpoints', async () => {
    const offHome = mkdtempSync(join(tmpdir(), 'weir-home-'));
    const off: JobStatusProvider = {
      status: () => ({
        ...STATUS,
        checkpointing: { intervalMs: 0, dir: null },
        counts: { completed: 0, failed: 0, inProgress: 0 },
      }),
      checkpoints: () => [],
    };
    const offServer = new RestServer(off, { port: 0 });
    try {
      await new JobRegistry(offHome).register({
        jobId: RUNNING_ID,
        jobName: 'word-count',
        pid: process.pid,
        restUrl: (await offServer.start()).url,
        startTime: now,
        checkpointDir: null,
      });
      const r = await weir(['checkpoints', RUNNING_ID], { env: { WEIR_HOME: offHome } });
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout).toBe(
        `job 'word-count' (${RUNNING_ID}): 0 completed, 0 failed, 0 in progress\ncheckpointing is off (no savepoints yet)\n`,
      );
    } finally {
      await offServer.close();
      rmSync(offHome, { recursive: true, force: true });
    }
  });

  it('prints the REST answer as is with --json', async () => {
    const r = await weir(['checkpoints', RUNNING_ID, '--json'], { env });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toEqual(checkpointHistoryView(job));
  });

  it('exits with 2 and one line for an id no running job has', async () => {
    expectOneLineError(
      await weir(['checkpoints', 'abc'], { env }),
      2,
      /^weir: no running job with id 'abc' \(weir list shows running jobs\)\n$/,
    );
  });

  it('exits with 2 for a prefix several running jobs share, and for a missing id', async () => {
    expectOneLineError(
      await weir(['checkpoints', '7c0'], { env }),
      2,
      new RegExp(
        `^weir: job id '7c0' matches 2 running jobs \\(${RUNNING_ID} 'word-count', ${GONE_ID} 'fraud'\\); give more of the id\\n$`,
      ),
    );
    expectOneLineError(
      await weir(['checkpoints'], { env }),
      2,
      /^weir: missing job id; usage: weir checkpoints <job-id>/,
    );
  });

  it('exits with 1 and one line naming the URL when the job does not answer', async () => {
    expectOneLineError(
      await weir(['checkpoints', GONE_ID], { env }),
      1,
      new RegExp(
        `^weir: cannot reach job 'fraud' \\(${GONE_ID}\\) at ${deadUrl}/jobs/${GONE_ID}/checkpoints: connection refused; is it still running\\? \\(pid ${process.pid}\\)\\n$`,
      ),
    );
  });

  it('shows its help', async () => {
    const r = await weir(['checkpoints', '--help'], { env });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^Usage: weir checkpoints <job-id> \[options\]\n/);
    expect(r.stdout).toMatch(/^ {6}--json +print the REST answer as is/m);
  });
});
