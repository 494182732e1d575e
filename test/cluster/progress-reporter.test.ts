// The progress line: its exact format over a fake job and a fake clock, then the timer for real.
import { describe, expect, it } from 'vitest';
import type { CheckpointStatsView, JobStatusProvider, JobStatusView } from '../../src/cluster/job-status.js';
import {
  DEFAULT_PROGRESS_INTERVAL_MS,
  finishLine,
  formatBytes,
  formatCount,
  formatMillis,
  formatRate,
  formatUptime,
  progressIntervalMs,
  ProgressReporter,
} from '../../src/cluster/progress-reporter.js';

function checkpoint(
  id: number,
  status: CheckpointStatsView['status'],
  extra: Partial<CheckpointStatsView> = {},
): CheckpointStatsView {
  return {
    id,
    kind: 'checkpoint',
    status,
    triggerTime: 0,
    durationMs: status === 'in-progress' ? null : 310,
    sizeBytes: status === 'completed' ? 12_400_000 : null,
    failureReason: status === 'failed' ? 'expired' : null,
    path: null,
    discarded: false,
    subtasks: [],
    ...extra,
  };
}

/** A running job's status, with `change` applied. */
function jobStatus(change: Partial<JobStatusView> = {}): JobStatusView {
  return {
    jobId: 'j1',
    jobName: 'word-count',
    state: 'running',
    startTime: 0,
    durationMs: 0,
    parallelism: 1,
    restarts: 0,
    recordsIn: 0,
    recordsOut: 0,
    checkpointing: { intervalMs: 1000, dir: '/tmp/chk' },
    vertices: [],
    lastCheckpoint: null,
    counts: { completed: 0, failed: 0, inProgress: 0 },
    ...change,
  };
}

/** A job whose status the test changes, a clock it moves, and the lines written. */
function harness(initial: Partial<JobStatusView> = {}, history: CheckpointStatsView[] = []) {
  const job = { status: jobStatus(initial), history };
  const provider: JobStatusProvider = { status: () => job.status, checkpoints: () => job.history };
  let clock = 1000;
  const lines: string[] = [];
  const reporter = new ProgressReporter(provider, {
    stream: { write: (text: string) => lines.push(text) },
    intervalMs: 60_000, // the test calls report() itself
    now: () => clock,
  });
  return {
    job,
    reporter,
    lines,
    advance(ms: number, change: Partial<JobStatusView>) {
      clock += ms;
      job.status = { ...job.status, ...change, durationMs: job.status.durationMs + ms };
    },
  };
}

describe('ProgressReporter line', () => {
  it('prints name, uptime, rates since the previous line and the last checkpoint', () => {
    const h = harness({ durationMs: 2345 });
    h.reporter.start();
    const last = checkpoint(7, 'completed');
    h.advance(10_000, {
      recordsIn: 18_400_000,
      recordsOut: 18_400_000,
      lastCheckpoint: last,
      counts: { completed: 7, failed: 0, inProgress: 0 },
    });
    h.job.history = [last];
    h.reporter.report();
    h.advance(5000, { recordsIn: 18_400_000 + 2500, recordsOut: 18_400_000 + 500 });
    h.reporter.report();
    h.reporter.stop();
    expect(h.lines).toEqual([
      '[word-count] 12.3s  in 1.84 M/s  out 1.84 M/s  checkpoint 7 (12.4 MB in 310 ms)\n',
      '[word-count] 17.3s  in 500/s  out 100/s  checkpoint 7 (12.4 MB in 310 ms)\n',
    ]);
  });

  it("says 'no checkpoint yet' before the first one completes, and how many failed", () => {
    const h = harness();
    h.reporter.start();
    h.advance(5000, { recordsIn: 60_000, recordsOut: 30_000 });
    h.reporter.report();
    h.job.history = [checkpoint(2, 'in-progress'), checkpoint(1, 'failed')];
    h.advance(5000, { counts: { completed: 0, failed: 1, inProgress: 1 } });
    h.reporter.report();
    expect(h.lines).toEqual([
      '[word-count] 5.0s  in 12.0 k/s  out 6.00 k/s  no checkpoint yet\n',
      '[word-count] 10.0s  in 0/s  out 0/s  no checkpoint yet (1 failed)\n',
    ]);
  });

  it("says 'checkpoints off' when the job takes none", () => {
    const h = harness({ checkpointing: { intervalMs: 0, dir: null } });
    h.reporter.report();
    expect(h.lines).toEqual(['[word-count] 0.0s  in 0/s  out 0/s  checkpoints off\n']);
  });

  it('shows a newer failed checkpoint, a savepoint, the state when not running, and restarts', () => {
    const sp = checkpoint(4, 'completed', { kind: 'savepoint', sizeBytes: 2048, durationMs: 1240 });
    const h = harness({ state: 'restarting', restarts: 2, durationMs: 245_000, lastCheckpoint: sp }, [
      checkpoint(5, 'failed'),
      sp,
    ]);
    h.reporter.report();
    expect(h.lines).toEqual([
      '[word-count] 4m05s  restarting  in 0/s  out 0/s  savepoint 4 (2.05 kB in 1.24 s), 5 failed  restarts 2\n',
    ]);
  });

  it('finds the newest completed checkpoint in the history when lastCheckpoint is another one', () => {
    const h = harness({ lastCheckpoint: checkpoint(9, 'in-progress') }, [
      checkpoint(9, 'in-progress'),
      checkpoint(8, 'completed', { sizeBytes: null }),
    ]);
    h.reporter.report();
    expect(h.lines).toEqual(['[word-count] 0.0s  in 0/s  out 0/s  checkpoint 8 (310 ms)\n']);
  });

  it('never shows a negative rate when counts go back (a restart)', () => {
    const h = harness({ recordsIn: 5000, recordsOut: 5000 });
    h.reporter.start();
    h.advance(1000, { recordsIn: 100, recordsOut: 100 });
    h.reporter.report();
    expect(h.lines[0]).toContain('in 0/s  out 0/s');
  });

  it('skips a line when the job cannot tell its status', () => {
    const lines: string[] = [];
    const reporter = new ProgressReporter(
      {
        status: () => {
          throw new Error('not yet');
        },
        checkpoints: () => [],
      },
      { stream: { write: (t: string) => lines.push(t) } },
    );
    reporter.start();
    reporter.report();
    reporter.stop();
    expect(lines).toEqual([]);
  });
});

describe('ProgressReporter timer', () => {
  it('prints a line every interval until stop()', async () => {
    const lines: string[] = [];
    const h = harness();
    const reporter = new ProgressReporter(
      { status: () => h.job.status, checkpoints: () => [] },
      { stream: { write: (t: string) => lines.push(t) }, intervalMs: 20 },
    );
    reporter.start();
    reporter.start(); // once is enough
    await new Promise((r) => setTimeout(r, 110));
    reporter.stop();
    const count = lines.length;
    expect(count).toBeGreaterThanOrEqual(2);
    expect(lines.every((l) => /^\[word-count\] [^\n]+ {2}no checkpoint yet\n$/.test(l))).toBe(true);
    await new Promise((r) => setTimeout(r, 60));
    expect(lines.length).toBe(count);
  });

  it('prints nothing with interval 0', async () => {
    const lines: string[] = [];
    const h = harness();
    const reporter = new ProgressReporter(
      { status: () => h.job.status, checkpoints: () => [] },
      { stream: { write: (t: string) => lines.push(t) }, intervalMs: 0 },
    );
    reporter.start();
    await new Promise((r) => setTimeout(r, 30));
    reporter.stop();
    expect(lines).toEqual([]);
  });
});

describe('progress formats', () => {
  it('progressIntervalMs reads WEIR_PROGRESS_INTERVAL_MS', () => {
    expect(progressIntervalMs({})).toBe(DEFAULT_PROGRESS_INTERVAL_MS);
    expect(DEFAULT_PROGRESS_INTERVAL_MS).toBe(5000);
    expect(progressIntervalMs({ WEIR_PROGRESS_INTERVAL_MS: '50' })).toBe(50);
    expect(progressIntervalMs({ WEIR_PROGRESS_INTERVAL_MS: '0' })).toBe(0);
    expect(progressIntervalMs({ WEIR_PROGRESS_INTERVAL_MS: '1s' })).toBe(5000);
    expect(progressIntervalMs({ WEIR_PROGRESS_INTERVAL_MS: '-5' })).toBe(5000);
  });

  it.each([
    [0, '0/s'],
    [0.4, '0/s'],
    [523, '523/s'],
    [999.4, '999/s'],
    [999.6, '1.00 k/s'],
    [12_500, '12.5 k/s'],
    [184_000, '184 k/s'],
    [999_600, '1.00 M/s'],
    [1_840_000, '1.84 M/s'],
    [2.5e9, '2.50 G/s'],
  ])('formatRate(%d) = %s', (n, text) => {
    expect(formatRate(n)).toBe(text);
  });

  it.each([
    [0, '0 B'],
    [512, '512 B'],
    [2048, '2.05 kB'],
    [12_400_000, '12.4 MB'],
    [3e12, '3.00 TB'],
  ])('formatBytes(%d) = %s', (n, text) => {
    expect(formatBytes(n)).toBe(text);
  });

  it.each([
    [0, '0 ms'],
    [310, '310 ms'],
    [1240, '1.24 s'],
    [12_300, '12.3 s'],
    [125_000, '2m05s'],
  ])('formatMillis(%d) = %s', (n, text) => {
    expect(formatMillis(n)).toBe(text);
  });

  it.each([
    [0, '0.0s'],
    [12_345, '12.3s'],
    [59_999, '59.9s'],
    [60_000, '1m00s'],
    [245_000, '4m05s'],
    [7_380_000, '2h03m'],
    [273_600_000, '3d04h'],
  ])('formatUptime(%d) = %s', (n, text) => {
    expect(formatUptime(n)).toBe(text);
  });
});

describe('finishLine', () => {
  const status = (s: Partial<JobStatusView>): JobStatusView =>
    jobStatus({
      state: 'finished',
      durationMs: 6234,
      parallelism: 2,
      recordsIn: 15_000_000,
      recordsOut: 14_990_000,
      checkpointing: { intervalMs: 300, dir: '/tmp/chk' },
      ...s,
    });

  it('says how long the job ran, the records it read and wrote, its checkpoints and the last one', () => {
    const last = checkpoint(18, 'completed', { sizeBytes: 69_500, durationMs: 21 });
    expect(
      finishLine(
        status({ lastCheckpoint: last, counts: { completed: 18, failed: 1, inProgress: 0 } }),
        [last, checkpoint(17, 'failed'), checkpoint(16, 'completed')],
        { savepoints: 0, failed: 1 },
      ),
    ).toBe(
      "weir: job 'word-count' (j1) finished in 6.23 s: 15.0 M records read, 15.0 M written; 18 checkpoints, last checkpoint 18 (69.5 kB in 21 ms), 1 failed",
    );
    const only = checkpoint(1, 'completed', { sizeBytes: 512, durationMs: 15 });
    expect(
      finishLine(
        status({ recordsIn: 0, recordsOut: 0, counts: { completed: 1, failed: 0, inProgress: 0 } }),
        [only],
        { savepoints: 0, failed: 0 },
      ),
    ).toBe(
      "weir: job 'word-count' (j1) finished in 6.23 s: 0 records read, 0 written; 1 checkpoint, last checkpoint 1 (512 B in 15 ms)",
    );
  });

  it('counts savepoints apart, names the last checkpoint (not a savepoint), and leaves out replayed records after a restart', () => {
    const sp = checkpoint(7, 'completed', { kind: 'savepoint', sizeBytes: 2048, durationMs: 40 });
    const last = checkpoint(6, 'completed', { sizeBytes: 1000, durationMs: 12 });
    expect(
      finishLine(
        status({ restarts: 2, lastCheckpoint: sp, counts: { completed: 7, failed: 0, inProgress: 0 } }),
        [sp, last],
        { savepoints: 1, failed: 0 },
      ),
    ).toBe(
      "weir: job 'word-count' (j1) finished in 6.23 s: 6 checkpoints, last checkpoint 6 (1.00 kB in 12 ms); 1 savepoint; restarts 2",
    );
  });

  it("says 'checkpoints off' without checkpointing, though the sources' end committed the sinks", () => {
    const commit = checkpoint(1, 'completed', { sizeBytes: 0, durationMs: 15 });
    expect(
      finishLine(
        status({
          checkpointing: { intervalMs: 0, dir: null },
          lastCheckpoint: commit,
          counts: { completed: 1, failed: 0, inProgress: 0 },
        }),
        [commit],
        { savepoints: 0, failed: 0 },
      ),
    ).toBe(
      "weir: job 'word-count' (j1) finished in 6.23 s: 15.0 M records read, 15.0 M written; checkpoints off",
    );
  });

  it('says when no checkpoint completed, counting failures but not aborts', () => {
    expect(
      finishLine(
        // Three ended early: two failed, one was aborted when an attempt ended.
        status({ counts: { completed: 0, failed: 3, inProgress: 0 } }),
        [checkpoint(3, 'failed'), checkpoint(2, 'failed')],
        { savepoints: 0, failed: 2 },
      ),
    ).toBe(
      "weir: job 'word-count' (j1) finished in 6.23 s: 15.0 M records read, 15.0 M written; 0 checkpoints, 2 failed",
    );
  });

  it('formats counts with three digits and a unit prefix', () => {
    expect([0, 523, 12_460, 1_840_000, 999_600].map(formatCount)).toEqual([
      '0',
      '523',
      '12.5 k',
      '1.84 M',
      '1.00 M',
    ]);
  });
});
