// `--resume` continues a job whose process died. A job that ended — finished, stopped with a
// savepoint, cancelled — removes its checkpoints, so without a record of that end a resume (say,
// after a kill between the final commit and the exit) would start over and write its output twice.
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { DiscardingSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import type { SavepointRequestView } from '../../src/cluster/savepoint-request.js';
import { HookedCount, spin } from './hooked-count.js';
import { RestoreError } from '../../src/cluster/job-launcher.js';
import { decodeJobCommit, encodeJobCommit } from '../../src/checkpoint/job-commit-record.js';
import { decodeMetadata } from '../../src/storage/metadata.js';
import { encodeJobEnd } from '../../src/checkpoint/job-end-record.js';
import { CheckpointStorageUnusableError, JOB_COMMITTED_FILE } from '../../src/storage/checkpoint-storage.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import { fingerprint } from '../tree-fingerprint.js';
import { routeRecordWrites, writeAfter } from './record-writes.js';

/** A HookedCount told when checkpoints complete: the moment a sink would commit. */
class CommitAwareCount extends HookedCount {
  constructor(
    private readonly committing: (checkpointId: number) => void,
    beforeRecord: (n: number) => void,
  ) {
    super(beforeRecord);
  }
  notifyCheckpointComplete(checkpointId: number): void {
    this.committing(checkpointId);
  }
}

interface Run {
  readonly log: string[];
  readonly processed: number;
  readonly master: JobMaster | undefined;
  readonly result?: { jobId: string; savepointPath?: string };
  readonly error?: unknown;
}

/**
 * Runs the job (slow until 3 checkpoints completed); `during` is called with the master once
 * they did, e.g. to stop or cancel it.
 */
async function run(
  checkpoints: string,
  o: {
    resume?: boolean;
    during?: (m: JobMaster) => void;
    failAfterCheckpoints?: boolean;
    retention?: 'delete-on-cancellation' | 'retain-on-cancellation' | 'never';
    /** Checkpoint interval (ms; 0: none, and the job is not slowed down); 15 by default. */
    interval?: number;
    restoreFrom?: string;
    claimMode?: 'claim';
    /** Restarts allowed (fixed delay); none by default. */
    restarts?: number;
    timeoutMs?: number;
    /** Called before each record is counted. */
    onRecord?: (m: JobMaster) => void;
    /** Called when the counting function is told a checkpoint completed. */
    onCommit?: (m: JobMaster, checkpointId: number) => void;
  } = {},
): Promise<Run> {
  const env = new StreamExecutionEnvironment({ parallelism: 2, execution: { batchSize: 64 } });
  if (o.interval !== 0) env.enableCheckpointing(o.interval ?? 15);
  env.checkpointConfig.setCheckpointStorage(checkpoints);
  if (o.retention !== undefined) env.checkpointConfig.setExternalizedCheckpointRetention(o.retention);
  if (o.timeoutMs !== undefined) env.checkpointConfig.setTimeout(o.timeoutMs);
  env.setRestartStrategy(
    o.restarts === undefined ? { type: 'none' } : { type: 'fixed-delay', attempts: o.restarts, delayMs: 10 },
  );
  let master: JobMaster | undefined;
  let processed = 0;
  let acted = false;
  const log: string[] = [];
  env
    .fromSequence(1, 200_000)
    .setParallelism(1)
    .uid('numbers')
    .keyBy((n) => n % 5)
    .process(
      new CommitAwareCount(
        (id) => o.onCommit?.(master!, id),
        (n) => {
          processed++;
          o.onRecord?.(master!);
          const enough = master !== undefined && master.completedCheckpoints >= 3;
          if (!enough && n % 10 === 0 && o.interval !== 0) spin(0.1);
          if (enough && !acted) {
            acted = true;
            if (o.failAfterCheckpoints === true) throw new Error('dies');
            o.during?.(master!);
          }
        },
      ),
    )
    .uid('count')
    .sinkTo(new DiscardingSink<number>())
    .uid('sink');
  try {
    const result = await env.execute('ends', {
      resume: o.resume,
      restoreFrom: o.restoreFrom,
      claimMode: o.claimMode,
      log: (l) => log.push(l),
      onStart: (m) => void (master = m),
    });
    return { log, processed, master, result };
  } catch (error) {
    return { log, processed, master, error };
  }
}

describe('--resume after the job ended', () => {
  it('does nothing after a finished job, and resumes a newer run that died', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const first = await run(dir);
    expect(first.error).toBeUndefined();
    const jobId = first.result!.jobId;
    // The checkpoints are gone; the record of the end is not.
    expect(readdirSync(join(dir, jobId))).toEqual(['_committed', '_ended']);

    const again = await run(dir, { resume: true });
    expect(again.error).toBeUndefined();
    expect(again.processed).toBe(0);
    expect(again.log).toEqual([
      expect.stringMatching(
        new RegExp(
          `^weir: job 'ends' \\(${jobId}\\) finished at \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z; nothing to resume \\(run without --resume to run it again\\)$`,
        ),
      ),
    ]);

    // A later run of the same job that dies keeps its checkpoints: resume continues it.
    const died = await run(dir, { failAfterCheckpoints: true });
    expect(String(died.error)).toMatch(/dies/);
    const resumed = await run(dir, { resume: true });
    expect(resumed.error).toBeUndefined();
    expect(
      resumed.log.some((l) =>
        l.startsWith(`weir: resuming job 'ends' (${died.master!.jobId}) from checkpoint `),
      ),
    ).toBe(true);
    expect(resumed.processed).toBeGreaterThan(0);
  });

  it('ends the run it resumed when it takes no checkpoints itself (--checkpoint-interval 0)', async () => {
    // It restored the run's newest checkpoint, finished and committed, but neither marked the run
    // as running nor recorded its end nor removed its checkpoints: the next --resume restored
    // the same checkpoint and ran the job again (repro resume-interval0.sh).
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const died = await run(dir, { failAfterCheckpoints: true });
    expect(String(died.error)).toMatch(/dies/);
    const jobId = died.master!.jobId;
    let marked: boolean | undefined;
    const resumed = await run(dir, {
      resume: true,
      interval: 0,
      onRecord: () => void (marked ??= existsSync(join(dir, jobId, '_running'))),
    });
    expect(resumed.error).toBeUndefined();
    expect(resumed.master!.jobId).toBe(jobId);
    expect(resumed.processed).toBeGreaterThan(0);
    expect(marked).toBe(true);
    expect(readdirSync(join(dir, jobId)).sort()).toEqual(['_committed', '_ended']);
    const again = await run(dir, { resume: true });
    expect(again.error).toBeUndefined();
    expect(again.processed).toBe(0);
    expect(again.log).toEqual([expect.stringMatching(/finished at .*; nothing to resume/)]);
  });

  it('removes the checkpoints a run left when killed after recording its end, once a resume goes on', async () => {
    // A SIGKILL between writing _ended and removing the checkpoints left them (and _running) for
    // good: "finished; nothing to resume" never completed the removal (repro kill-after-ended.sh).
    const killedAfterEnd = async (outcome: 'finished' | 'cancelled') => {
      const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
      const a = await run(dir, { failAfterCheckpoints: true });
      const jobId = a.master!.jobId;
      const left = readdirSync(join(dir, jobId)).filter((n) => n.startsWith('chk-'));
      expect(left.length).toBeGreaterThan(0);
      const endedAt = Date.now();
      writeFileSync(join(dir, jobId, '_ended'), encodeJobEnd({ jobName: 'ends', outcome, endedAt }));
      // The mark of the killed process (this pid, not held: a process that died).
      const mark = { pid: process.pid, host: hostname(), since: 1, token: 'killed' };
      writeFileSync(join(dir, jobId, '_running'), `${JSON.stringify(mark)}\n`);
      const removed = `weir: removed ${left.length} checkpoint folder(s) of job 'ends' (run ${jobId}), which ${outcome === 'finished' ? 'finished' : 'was cancelled'} at ${new Date(endedAt).toISOString()}: its process stopped before removing them`;
      return { dir, jobId, removed };
    };
    const finished = await killedAfterEnd('finished');
    const r = await run(finished.dir, { resume: true });
    expect(r.error).toBeUndefined();
    expect(r.processed).toBe(0);
    expect(r.log).toEqual([finished.removed, expect.stringMatching(/finished at .*; nothing to resume/)]);
    expect(readdirSync(join(finished.dir, finished.jobId)).sort()).toEqual(['_committed', '_ended']);

    // A resume that is refused changes nothing, leftovers included.
    const cancelled = await killedAfterEnd('cancelled');
    const before = fingerprint(cancelled.dir);
    const refused = await run(cancelled.dir, { resume: true });
    expect(refused.error).toBeInstanceOf(RestoreError);
    expect(fingerprint(cancelled.dir)).toEqual(before);
    // One that goes on (a later run died) removes them.
    const b = await run(cancelled.dir, { failAfterCheckpoints: true });
    const resumed = await run(cancelled.dir, { resume: true });
    expect(resumed.error).toBeUndefined();
    expect(resumed.master!.jobId).toBe(b.master!.jobId);
    expect(resumed.log).toContain(cancelled.removed);
    expect(readdirSync(join(cancelled.dir, cancelled.jobId)).sort()).toEqual(['_committed', '_ended']);
  });

  it('refuses, changing nothing, when two runs of the job took checkpoints at the same time', async () => {
    // Two jobs of one name sharing a checkpoint dir: --resume continued whichever died last,
    // into the other's output, counting records twice (black-box review).
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const first = await run(dir, { failAfterCheckpoints: true });
    const second = await run(dir, { failAfterCheckpoints: true });
    const [a, b] = [first.master!.jobId, second.master!.jobId];
    // One after the other, as here: --resume continues the later one (on a copy).
    const copy = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    cpSync(dir, copy, { recursive: true });
    const sequential = await run(copy, { resume: true });
    expect(sequential.error).toBeUndefined();
    expect(
      sequential.log.some((l) => l.startsWith(`weir: resuming job 'ends' (${b}) from checkpoint `)),
    ).toBe(true);
    // As if the second had started while the first ran: its first checkpoint before the first's last.
    await new FsCheckpointStorage(dir).writeJobRecord(
      b,
      JOB_COMMITTED_FILE,
      encodeJobCommit({ jobName: 'ends', checkpoint: 1, at: 1 }),
    );
    const before = fingerprint(dir);
    const r = await run(dir, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toMatch(
      new RegExp(
        `two of its runs took checkpoints in .* at the same time \\(two jobs of one name sharing a checkpoint dir\\), ${b} and ${a}, and --resume cannot tell which of them wrote this output; nothing was changed\\. Continue the right one with -s .*${b}.* or -s .*${a}`,
      ),
    );
    expect(r.processed).toBe(0);
    expect(fingerprint(dir)).toEqual(before);
  });

  it('refuses to fall back to an older run past a newer one whose checkpoints are all unusable', async () => {
    // The newer run committed output after the older one's checkpoints: restoring those would
    // commit it again (a restore removes newer output of its own run only). Was: resumed.
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const first = await run(dir, { failAfterCheckpoints: true });
    const second = await run(dir, { failAfterCheckpoints: true });
    const [a, b] = [first.master!.jobId, second.master!.jobId];
    const storage = new FsCheckpointStorage(dir);
    for (const c of await storage.listCheckpoints(b))
      if (c.complete) writeFileSync(join(dir, b, `chk-${c.id}`, '_metadata'), '{"ver');
    const before = fingerprint(dir);
    const r = await run(dir, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toMatch(
      new RegExp(
        `cannot be resumed without committing output a second time: run ${b}, whose checkpoints are unusable \\(see above\\), committed output after checkpoint \\d+ of run ${a} was taken`,
      ),
    );
    expect(r.processed).toBe(0);
    expect(fingerprint(dir)).toEqual(before);
  });

  it('refuses when a run that committed output but left no checkpoint began while another ran', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const first = await run(dir, { failAfterCheckpoints: true });
    const a = first.master!.jobId;
    const storage = new FsCheckpointStorage(dir);
    const triggered: number[] = [];
    for (const c of await storage.listCheckpoints(a))
      if (c.complete)
        triggered.push(decodeMetadata((await storage.readMetadata(c.location))!, 'm').timestamp);
    const started = decodeJobCommit((await storage.readJobRecord(a, JOB_COMMITTED_FILE))!)!.at;
    const newest = Math.max(...triggered);
    expect(newest).toBeGreaterThan(started + 1);
    // The other run began committing (into its own output) before the first's last checkpoint, and
    // died before its own first checkpoint completed: resuming the first could be into its output.
    const copy = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    cpSync(dir, copy, { recursive: true });
    await new FsCheckpointStorage(copy).writeJobRecord(
      'other-run',
      JOB_COMMITTED_FILE,
      encodeJobCommit({ jobName: 'ends', checkpoint: 1, at: Math.floor((started + newest) / 2) }),
    );
    const before = fingerprint(copy);
    const r = await run(copy, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toMatch(
      /cannot be resumed without committing output a second time: run other-run/,
    );
    expect(fingerprint(copy)).toEqual(before);
  });

  it('names the savepoint of a stopped job instead of starting over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const savepoints = mkdtempSync(join(tmpdir(), 'weir-ended-sp-'));
    const stopped = await run(dir, { during: (m) => void m.stop({ targetDir: savepoints }) });
    expect(stopped.error).toBeUndefined();
    const sp = stopped.result!.savepointPath!;
    expect(sp).toContain(savepoints);
    const r = await run(dir, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toContain(
      `job 'ends' (${stopped.result!.jobId}) was stopped with a savepoint at `,
    );
    expect(String(r.error)).toContain(`continue from it with -s ${sp} (or run without --resume`);
    expect(r.processed).toBe(0);
  });

  it('refuses to start a cancelled job over without being told to', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const cancelled = await run(dir, { during: (m) => m.cancel() });
    expect(cancelled.error).toBeDefined();
    const r = await run(dir, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toMatch(
      /job 'ends' \([0-9a-f-]+\) was cancelled at .* and its checkpoints were removed \(retention\); run without --resume/,
    );
    expect(r.processed).toBe(0);
  });

  it('names the snapshot a cancelled run started from, whose output its sinks committed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const savepoints = mkdtempSync(join(tmpdir(), 'weir-ended-sp-'));
    const stopped = await run(dir, { during: (m) => void m.stop({ targetDir: savepoints }) });
    const sp = stopped.result!.savepointPath!;
    const forked = await run(dir, { restoreFrom: sp, during: (m) => m.cancel() });
    expect(forked.error).toBeDefined();
    const r = await run(dir, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toMatch(
      /job 'ends' \([0-9a-f-]+\) was cancelled at .* and its checkpoints were removed \(retention\); it was started from /,
    );
    expect(String(r.error)).toContain(`: continue from there with -s ${sp} (or run without --resume`);
    expect(r.processed).toBe(0);
    // The same when the run started with -s died after checkpoints, and its --resume was cancelled.
    const died = await run(dir, { restoreFrom: sp, failAfterCheckpoints: true });
    expect(String(died.error)).toMatch(/dies/);
    const resumed = await run(dir, { resume: true, during: (m) => m.cancel() });
    expect(resumed.master!.jobId).toBe(died.master!.jobId);
    const again = await run(dir, { resume: true });
    expect(String(again.error)).toContain(`(${died.master!.jobId}) was cancelled at `);
    expect(String(again.error)).toContain(`: continue from there with -s ${sp} (or run without --resume`);
    // Claimed, the snapshot became the run's own and went with its checkpoints: nothing to name.
    const claimed = await run(dir, { during: (m) => m.cancel(), retention: 'retain-on-cancellation' });
    const chk = readdirSync(join(dir, claimed.master!.jobId)).find((n) => n.startsWith('chk-'))!;
    await run(dir, {
      restoreFrom: join(dir, claimed.master!.jobId, chk),
      claimMode: 'claim',
      during: (m) => m.cancel(),
    });
    const after = await run(dir, { resume: true });
    expect(String(after.error)).toMatch(
      /was cancelled at .*; run without --resume to start from the beginning/,
    );
  });

  it('refuses after a failed job whose checkpoints were removed (retention never)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const failed = await run(dir, { failAfterCheckpoints: true, retention: 'never' });
    expect(String(failed.error)).toMatch(/dies/);
    const r = await run(dir, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toMatch(
      /job 'ends' \([0-9a-f-]+\) failed at .* and its checkpoints were removed/,
    );
    expect(r.processed).toBe(0);
  });

  it('stops at a damaged end record, and at checkpoints older than the newest end', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    // Run A dies, keeping its checkpoints; run B, started afresh, finishes.
    const a = await run(dir, { failAfterCheckpoints: true });
    expect(String(a.error)).toMatch(/dies/);
    const b = await run(dir);
    expect(b.error).toBeUndefined();
    const older = await run(dir, { resume: true });
    expect(older.error).toBeInstanceOf(RestoreError);
    expect(String(older.error)).toContain(`job 'ends' (${b.result!.jobId}) ended (finished) at `);
    expect(String(older.error)).toContain(`but run ${a.master!.jobId} left an older checkpoint`);
    expect(older.processed).toBe(0);

    writeFileSync(join(dir, b.result!.jobId, '_ended'), '{"version":1,"jobName":');
    const damaged = await run(dir, { resume: true });
    expect(damaged.error).toBeInstanceOf(RestoreError);
    expect(String(damaged.error)).toContain(`the end record of run ${b.result!.jobId} in `);
    // B removed its checkpoints when it finished: removing the record would not help.
    expect(String(damaged.error)).toMatch(
      /; nothing was changed: that run kept no checkpoint\. If it is another job's, move .*_ended aside and resume again; if it is this job's and finished, its output is complete; else run without --resume to start from the beginning, which writes its output again$/,
    );
    expect(damaged.processed).toBe(0);
    // A kept its checkpoints: removing a damaged record of it lets them be resumed.
    rmSync(join(dir, b.result!.jobId), { recursive: true });
    writeFileSync(join(dir, a.master!.jobId, '_ended'), '{"version":1,"jobName":');
    const kept = await run(dir, { resume: true });
    expect(String(kept.error)).toContain(`the end record of run ${a.master!.jobId} in `);
    expect(String(kept.error)).toMatch(
      /; nothing was changed: remove it if that run should be resumed, or run without --resume$/,
    );
    expect(kept.processed).toBe(0);
  });

  it('does not start a finished job over when a flipped bit renames the job in its _ended', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const done = await run(dir);
    expect(done.error).toBeUndefined();
    const path = join(dir, done.result!.jobId, '_ended');
    const bytes = readFileSync(path);
    const at = bytes.indexOf('"ends"') + 1; // 'ends' → 'fnds'
    bytes[at]! ^= 0x03;
    expect(bytes.toString()).toContain('"jobName":"fnds"');
    writeFileSync(path, bytes);
    const r = await run(dir, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toContain(`the end record of run ${done.result!.jobId} in `);
    expect(r.processed).toBe(0);
    // The run's _committed still names its job: a damaged _ended of another job is not this one's.
    const other = join(dir, 'other-run');
    mkdirSync(other);
    writeFileSync(join(other, '_ended'), bytes);
    writeFileSync(join(other, '_committed'), encodeJobCommit({ jobName: 'other', checkpoint: 1, at: 1 }));
    rmSync(join(dir, done.result!.jobId), { recursive: true });
    // Nor is a damaged _ended (no _committed: cancelled before committing) that begins as another
    // job's record: one damaged byte cannot turn 'ends' into 'other'.
    const cancelled = Uint8Array.from(encodeJobEnd({ jobName: 'other', outcome: 'cancelled', endedAt: 1 }));
    cancelled[cancelled.length - 20]! ^= 0x01;
    mkdirSync(join(dir, 'other-run-2'));
    writeFileSync(join(dir, 'other-run-2', '_ended'), cancelled);
    const fresh = await run(dir, { resume: true });
    expect(fresh.error).toBeUndefined();
    expect(fresh.log.join('\n')).toMatch(/no checkpoint of job 'ends' .*; starting from the beginning/);
  });

  it("sets aside a checkpoint whose _metadata cannot be read only when its folder is another job's", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-ended-'));
    const unreadable = (jobId: string): void => {
      mkdirSync(join(dir, jobId, 'chk-4'), { recursive: true });
      writeFileSync(join(dir, jobId, 'chk-4', '_metadata'), '{"version":3,"jobN');
    };
    // In the folder of a job named otherwise (its end record says so): not this job's.
    unreadable('other-job');
    writeFileSync(
      join(dir, 'other-job', '_ended'),
      JSON.stringify({ version: 1, jobName: 'other', outcome: 'finished', endedAt: Date.now() }),
    );
    const fresh = await run(dir, { resume: true });
    expect(fresh.error).toBeUndefined();
    expect(fresh.log.join('\n')).toMatch(/no checkpoint of job 'ends' .*; starting from the beginning/);

    // Records this weir cannot read (another version) that name another job: not this job's.
    mkdirSync(join(dir, 'newer-weir-1'));
    writeFileSync(
      join(dir, 'newer-weir-1', '_committed'),
      '{"version":2,"jobName":"other","checkpoint":3,"at":1}\n',
    );
    mkdirSync(join(dir, 'newer-weir-2'));
    writeFileSync(join(dir, 'newer-weir-2', '_ended'), '{"version":2,"jobName":"other","how":"finished"}\n');
    const past = await run(dir, { resume: true });
    expect(past.error).toBeUndefined();
    expect(past.log.join('\n')).toContain(`(${fresh.result!.jobId}) finished at `);

    // In a folder that names no job: it may be this job's newest checkpoint.
    unreadable('unknown-job');
    const blocked = await run(dir, { resume: true });
    expect(blocked.error).toBeInstanceOf(RestoreError);
    expect(String(blocked.error)).toContain("no usable checkpoint of job 'ends'");
    expect(blocked.log.join('\n')).toContain(`${join(dir, 'unknown-job', 'chk-4')}/_metadata`);
    expect(blocked.processed).toBe(0);
  });
});

describe('--resume after a run lost its checkpoints', () => {
  const committedFile = (dir: string, jobId: string): string => join(dir, jobId, '_committed');
  /** Whether each commit happened with `_committed` durable (it must be). */
  const recordBeforeCommits = (dir: string): { seen: boolean[]; onCommit: (m: JobMaster) => void } => {
    const seen: boolean[] = [];
    return { seen, onCommit: (m) => void seen.push(existsSync(committedFile(dir, m.jobId))) };
  };
  // (A run that ended with nothing in its folder leaves none.)
  const completeCheckpoints = (dir: string, jobId: string): string[] =>
    (existsSync(join(dir, jobId)) ? readdirSync(join(dir, jobId)) : []).filter(
      (n) => /^chk-\d+$/.test(n) && existsSync(join(dir, jobId, n, '_metadata')),
    );

  /** Whether `_committed` was there when each attempt counted its first record (after restoring). */
  const recordAtRestore = (dir: string): { seen: Map<number, boolean>; onRecord: (m: JobMaster) => void } => {
    const seen = new Map<number, boolean>();
    const onRecord = (m: JobMaster): void => {
      const attempt = m.restoredCheckpointIds.length;
      if (!seen.has(attempt)) seen.set(attempt, existsSync(committedFile(dir, m.jobId)));
    };
    return { seen, onRecord };
  };

  it('writes the record before a resumed run restores (its sinks commit what the checkpoint left pending)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
    const a = await run(dir, { failAfterCheckpoints: true });
    // As if the process died between a first checkpoint's _metadata and the record.
    rmSync(committedFile(dir, a.master!.jobId));
    const restored = recordAtRestore(dir);
    const r = await run(dir, { resume: true, onRecord: restored.onRecord });
    expect(r.error).toBeUndefined();
    expect([...restored.seen]).toEqual([[0, true]]);
  });

  it('stops instead of starting over when the only complete checkpoint is gone', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
    const commits = recordBeforeCommits(dir);
    const a = await run(dir, { failAfterCheckpoints: true, onCommit: commits.onCommit });
    expect(String(a.error)).toMatch(/dies/);
    expect(commits.seen.length).toBeGreaterThanOrEqual(3);
    expect(commits.seen.every((s) => s)).toBe(true);
    const jobId = a.master!.jobId;
    const record = JSON.parse(readFileSync(committedFile(dir, jobId), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ version: 1, jobName: 'ends', checkpoint: 1 });
    const [only] = completeCheckpoints(dir, jobId); // num-retained 1
    expect(only).toBeDefined();

    const expectRefused = async (): Promise<void> => {
      const before = fingerprint(dir);
      const r = await run(dir, { resume: true });
      expect(r.error).toBeInstanceOf(RestoreError);
      // One line: what was lost, where, and the ways on.
      expect((r.error as Error).message).toMatch(
        new RegExp(
          `^job 'ends' cannot be resumed without committing output a second time: run ${jobId} committed output from checkpoint 1 on \\(${escape(committedFile(dir, jobId))}, written \\d{4}-[\\d-]+T[\\d:.]+Z\\), but none of its checkpoints is complete any more \\(.*\\); nothing was changed\\. To go on, put its newest chk-<n> folder back \\(n ≥ 1\\), continue from a savepoint with -s PATH, or run without --resume to start from the beginning, which commits all of the output again$`,
        ),
      );
      expect(r.log).toEqual([]);
      expect(r.processed).toBe(0);
      expect(fingerprint(dir)).toEqual(before);
    };
    rmSync(join(dir, jobId, only!, '_metadata'));
    await expectRefused();
    rmSync(join(dir, jobId, only!), { recursive: true });
    await expectRefused();

    // A damaged record may still be this job's: refused too, naming the file.
    writeFileSync(committedFile(dir, jobId), '{"version":1,"jobName":"en');
    const damaged = await run(dir, { resume: true });
    expect(damaged.error).toBeInstanceOf(RestoreError);
    expect(String(damaged.error)).toContain(
      `${committedFile(dir, jobId)}, its record of having committed output, cannot be read (damaged, or from another version of weir); nothing was changed. To go on, if that run is another job's or never committed output, move ${committedFile(dir, jobId)} aside, `,
    );
    // So is one that is there but cannot be followed (a link to nothing): was read as no record,
    // and the job started over.
    rmSync(committedFile(dir, jobId));
    symlinkSync(join(dir, 'gone'), committedFile(dir, jobId));
    const dangling = await run(dir, { resume: true });
    expect(dangling.error).toBeInstanceOf(CheckpointStorageUnusableError);
    expect((dangling.error as Error).message).toBe(
      `${committedFile(dir, jobId)}: cannot be read (a symbolic link to ${join(dir, 'gone')}, which does not exist); repair it or move it away`,
    );
    expect(dangling.processed).toBe(0);
    expect(readdirSync(dir).sort()).toEqual([jobId]);
    rmSync(committedFile(dir, jobId));
    writeFileSync(committedFile(dir, jobId), JSON.stringify(record));

    // Started over on purpose (without --resume) and finished: that run is the newest.
    const b = await run(dir);
    expect(b.error).toBeUndefined();
    const after = await run(dir, { resume: true });
    expect(after.error).toBeUndefined();
    expect(after.log.join('\n')).toContain(`(${b.result!.jobId}) finished at `);
    expect(after.processed).toBe(0);
  });

  it('resumes a run that claimed the checkpoints of one it replaced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
    const a = await run(dir, { failAfterCheckpoints: true });
    const [chk] = completeCheckpoints(dir, a.master!.jobId);
    const c = await run(dir, {
      restoreFrom: join(dir, a.master!.jobId, chk!),
      claimMode: 'claim',
      failAfterCheckpoints: true,
    });
    expect(String(c.error)).toMatch(/dies/);
    // Claimed and replaced: the first run's folder has its record but no checkpoint left.
    expect(completeCheckpoints(dir, a.master!.jobId)).toEqual([]);
    expect(existsSync(committedFile(dir, a.master!.jobId))).toBe(true);
    const r = await run(dir, { resume: true });
    expect(r.error).toBeUndefined();
    expect(r.log).toContainEqual(
      expect.stringMatching(`^weir: resuming job 'ends' \\(${c.master!.jobId}\\)`),
    );
  });

  it('records nothing for a checkpoint aborted while its _metadata was written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
    const write = FsCheckpointStorage.prototype.writeMetadata;
    const slow = vi
      .spyOn(FsCheckpointStorage.prototype, 'writeMetadata')
      .mockImplementationOnce(async function (this: FsCheckpointStorage, location, bytes) {
        await new Promise((r) => setTimeout(r, 400)); // past the timeout: the checkpoint expires
        return write.call(this, location, bytes);
      });
    let a: Run;
    try {
      a = await run(dir, { timeoutMs: 150 });
    } finally {
      slow.mockRestore();
    }
    expect(String(a.error)).toMatch(/expired/);
    const jobId = a.master!.jobId;
    expect(existsSync(committedFile(dir, jobId))).toBe(false);
    expect(completeCheckpoints(dir, jobId)).toEqual([]);
    const r = await run(dir, { resume: true });
    expect(r.log.join('\n')).toMatch(/no checkpoint of job 'ends' .*; starting from the beginning/);
  });

  it('commits nothing until the record is written, and fails over when it cannot be', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
    const refused = vi
      .spyOn(FsCheckpointStorage.prototype, 'writeJobRecord')
      .mockRejectedValueOnce(new Error('injected: no space left'));
    const commits = recordBeforeCommits(dir);
    const restored = recordAtRestore(dir);
    let r: Run;
    try {
      r = await run(dir, { restarts: 2, onCommit: commits.onCommit, onRecord: restored.onRecord });
    } finally {
      refused.mockRestore();
    }
    expect(r.error).toBeUndefined();
    expect(r.log).toContainEqual(
      expect.stringMatching(
        /could not record in .* that job [0-9a-f-]+ commits output, so nothing was committed: injected: no space left\); restart 1 in 10 ms from checkpoint \d+$/,
      ),
    );
    expect(commits.seen.length).toBeGreaterThan(0);
    expect(commits.seen.every((s) => s)).toBe(true);
    // The restart restored the checkpoint whose commit failed: the record was written first.
    expect([...restored.seen]).toEqual([
      [0, false],
      [1, true],
    ]);
  });

  it('fails over when the record is not written within the checkpoint timeout, and fails when it never is', async () => {
    for (const stuckFor of [450, Infinity]) {
      const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
      let first = true;
      const slow = routeRecordWrites((w) => {
        if (w.name !== '_committed' || !first) return w.write();
        first = false;
        // A slow mount (later writes wait for this one), or a stuck one.
        if (stuckFor === Infinity) return new Promise<void>(() => undefined);
        return writeAfter(stuckFor, w);
      });
      const commits = recordBeforeCommits(dir);
      let r: Run;
      try {
        r = await run(dir, { restarts: 1, timeoutMs: 300, onCommit: commits.onCommit });
      } finally {
        slow.mockRestore();
      }
      const timedOut =
        /could not record in .* that job [0-9a-f-]+ commits output, so nothing was committed: it was not written within 300 ms \(the checkpoint timeout\)/;
      expect(r.log).toContainEqual(expect.stringMatching(new RegExp(`${timedOut.source}\\); restart 1 `)));
      expect(commits.seen.every((s) => s)).toBe(true);
      if (stuckFor === Infinity) {
        expect(String(r.error)).toMatch(timedOut); // the restart's record waits behind the stuck one
        expect(commits.seen).toEqual([]);
      } else {
        expect(r.error).toBeUndefined();
        expect(commits.seen.length).toBeGreaterThan(0);
      }
    }
  });

  it('tells completions in order while the record is being written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
    const writeMetadata = FsCheckpointStorage.prototype.writeMetadata;
    let releaseRecord: (() => void) | undefined;
    let metadataWrites = 0;
    // `_committed` completes only in the microtask after checkpoint 2's `_metadata`: the moment
    // a completion could overtake the one waiting for the record.
    const record = routeRecordWrites((w) => {
      const written = w.write();
      if (w.name !== '_committed') return written;
      return new Promise<void>((resolve, reject) => {
        releaseRecord = () => void written.then(resolve, reject);
      });
    });
    const metadata = vi.spyOn(FsCheckpointStorage.prototype, 'writeMetadata').mockImplementation(function (
      this: FsCheckpointStorage,
      location,
      bytes,
    ) {
      const written = writeMetadata.call(this, location, bytes);
      if (++metadataWrites !== 2) return written;
      return written.then(async () => {
        await new Promise((r) => setTimeout(r, 20));
        queueMicrotask(() => releaseRecord!());
      });
    });
    const told: number[] = [];
    try {
      const r = await run(dir, { onCommit: (_m, id) => void told.push(id) });
      expect(r.error).toBeUndefined();
    } finally {
      record.mockRestore();
      metadata.mockRestore();
    }
    // Two subtasks, each told every id: the ids in the order they were first told.
    const firsts = told.filter((id, i) => told.indexOf(id) === i);
    expect(firsts.length).toBeGreaterThanOrEqual(3);
    expect(firsts).toEqual([...firsts].sort((a, b) => a - b));
  });

  it('records the end of a stop with a savepoint that keeps its checkpoints (retain-on-cancellation)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
    const savepoints = mkdtempSync(join(tmpdir(), 'weir-lost-sp-'));
    const stopped = await run(dir, {
      retention: 'retain-on-cancellation',
      during: (m) => void m.stop({ targetDir: savepoints }),
    });
    expect(stopped.error).toBeUndefined();
    expect(completeCheckpoints(dir, stopped.result!.jobId).length).toBeGreaterThan(0);
    const r = await run(dir, { resume: true });
    expect(String(r.error)).toMatch(
      new RegExp(
        `was stopped with a savepoint at \\S+: continue from it with -s ${escape(stopped.result!.savepointPath!)} \\(`,
      ),
    );
    expect(r.processed).toBe(0);
  });

  it('reports a stop failed, and fails over, when its record cannot be written', async () => {
    for (const drain of [false, true]) {
      const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
      const savepoints = mkdtempSync(join(tmpdir(), 'weir-lost-sp-'));
      // Only the record naming the savepoint fails: the stop's.
      const refused = routeRecordWrites((w) =>
        w.text.includes('"savepoint"') ? Promise.reject(new Error('injected: no space left')) : w.write(),
      );
      let req: SavepointRequestView | undefined;
      let r: Run;
      try {
        r = await run(dir, {
          restarts: 1,
          during: (m) => void (req = m.stop({ targetDir: savepoints, drain })),
        });
      } finally {
        refused.mockRestore();
      }
      expect(r.error).toBeUndefined();
      expect(r.result!.savepointPath).toBeUndefined(); // it did not stop: it failed over and finished
      const outcome = r.master!.savepointRequest(req!.requestId)!;
      expect(outcome.status).toBe('failed');
      expect(outcome.path).toBeNull();
      expect(outcome.failure).toMatch(
        /^could not record in .* that job [0-9a-f-]+ commits output, so nothing was committed: injected: no space left; the job fails over: restart \d+ in \d+ ms from (checkpoint \d+|the restored snapshot|the beginning)$/,
      );
      expect(r.log).toContainEqual(
        expect.stringMatching(/^weir: stop-with-savepoint failed: could not record/),
      );
    }
  });

  it('says what became of a drained job whose final savepoint failed', async () => {
    for (const restarts of [1, undefined]) {
      const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
      const savepoints = mkdtempSync(join(tmpdir(), 'weir-lost-sp-'));
      const write = FsCheckpointStorage.prototype.writeMetadata;
      const refused = vi.spyOn(FsCheckpointStorage.prototype, 'writeMetadata').mockImplementation(function (
        this: FsCheckpointStorage,
        location,
        bytes,
      ) {
        if (location.uri.startsWith(savepoints)) return Promise.reject(new Error('injected: no space left'));
        return write.call(this, location, bytes);
      });
      let req: SavepointRequestView | undefined;
      let r: Run;
      try {
        r = await run(dir, {
          restarts,
          during: (m) => void (req = m.stop({ targetDir: savepoints, drain: true })),
        });
      } finally {
        refused.mockRestore();
      }
      const outcome = r.master!.savepointRequest(req!.requestId)!;
      expect(outcome.status).toBe('failed');
      expect(outcome.failure).toContain('injected: no space left');
      if (restarts === undefined) {
        expect(String(r.error)).toContain('injected: no space left');
        expect(outcome.failure).toMatch(/; the job failed \(its restart strategy allows no more restarts\)$/);
      } else {
        expect(r.error).toBeUndefined();
        expect(outcome.failure).toMatch(
          /; the job fails over: restart \d+ in \d+ ms from (checkpoint \d+|the restored snapshot|the beginning)$/,
        );
      }
    }
  });

  it('names the savepoint of a stop whose process died before its end was recorded', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
    const savepoints = mkdtempSync(join(tmpdir(), 'weir-lost-sp-'));
    // `_ended` never arrives, as after a kill: the checkpoints stay, and they are older than the stop.
    const noEnd = routeRecordWrites((w) =>
      w.name === '_ended' ? Promise.reject(new Error('killed')) : w.write(),
    );
    let stopped: Run;
    try {
      stopped = await run(dir, { during: (m) => void m.stop({ targetDir: savepoints }) });
    } finally {
      noEnd.mockRestore();
    }
    const jobId = stopped.result!.jobId;
    const sp = stopped.result!.savepointPath!;
    expect(existsSync(join(dir, jobId, '_ended'))).toBe(false);
    expect(completeCheckpoints(dir, jobId).length).toBeGreaterThan(0);
    expect(JSON.parse(readFileSync(committedFile(dir, jobId), 'utf8'))).toMatchObject({ savepoint: sp });

    const r = await run(dir, { resume: true });
    expect(r.error).toBeInstanceOf(RestoreError);
    expect(String(r.error)).toMatch(
      new RegExp(
        `job 'ends' \\(${jobId}\\) was stopped with a savepoint at \\S+: continue from it with -s ${escape(sp)} \\(`,
      ),
    );
    expect(r.processed).toBe(0);
    // With every checkpoint gone too, the same answer rather than a lost run.
    for (const c of completeCheckpoints(dir, jobId)) rmSync(join(dir, jobId, c), { recursive: true });
    const gone = await run(dir, { resume: true });
    expect(String(gone.error)).toContain(`was stopped with a savepoint at `);
    expect(String(gone.error)).toContain(`continue from it with -s ${sp} (`);
  });

  const namesSavepoint = (dir: string, jobId: string): boolean =>
    existsSync(committedFile(dir, jobId)) &&
    readFileSync(committedFile(dir, jobId), 'utf8').includes('"savepoint"');

  /** Holds the write of the `_committed` that names a savepoint for 200 ms, calling `held` first. */
  const holdStopRecord = (held: () => void): { restore(): void } => {
    const spy = routeRecordWrites((w) => {
      if (!w.text.includes('"savepoint"')) return w.write();
      held();
      return writeAfter(200, w);
    });
    return { restore: () => spy.mockRestore() };
  };

  it('fails a stop whose task fails while its record is written; the next attempt never sees the record name it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
    const savepoints = mkdtempSync(join(tmpdir(), 'weir-lost-sp-'));
    let master: JobMaster | undefined;
    const hold = holdStopRecord(() => {
      const tasks = (master as unknown as { tasks: Array<{ enqueueMail(a: () => void): void }> }).tasks;
      tasks[0]!.enqueueMail(() => {
        throw new Error('injected task failure');
      });
    });
    const named: boolean[] = [];
    let req: SavepointRequestView | undefined;
    let r: Run;
    try {
      r = await run(dir, {
        restarts: 1,
        during: (m) => void ((master = m), (req = m.stop({ targetDir: savepoints }))),
        onRecord: (m) =>
          void (m.restoredCheckpointIds.length === 1 && named.push(namesSavepoint(dir, m.jobId))),
      });
    } finally {
      hold.restore();
    }
    expect(r.error).toBeUndefined();
    expect(r.result!.savepointPath).toBeUndefined(); // it ran to its end after the failover
    expect(named.length).toBeGreaterThan(0);
    expect(named.every((n) => !n)).toBe(true);
    const outcome = r.master!.savepointRequest(req!.requestId)!;
    expect(outcome.failure).toMatch(
      /^savepoint .* was written, but a task failed while the job stopped: .*injected task failure.*; the job fails over: restart \d+ in \d+ ms from (checkpoint \d+|the restored snapshot|the beginning)$/,
    );
    const again = await run(dir, { resume: true });
    expect(again.log.join('\n')).toContain(`(${r.result!.jobId}) finished at `);
  });

  it('fails a stop when the job is cancelled while its record is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
    const savepoints = mkdtempSync(join(tmpdir(), 'weir-lost-sp-'));
    let master: JobMaster | undefined;
    const hold = holdStopRecord(() => master!.cancel());
    let req: SavepointRequestView | undefined;
    let r: Run;
    try {
      r = await run(dir, { during: (m) => void ((master = m), (req = m.stop({ targetDir: savepoints }))) });
    } finally {
      hold.restore();
    }
    expect(String(r.error)).toMatch(/was cancelled/);
    const outcome = r.master!.savepointRequest(req!.requestId)!;
    expect(outcome.status).toBe('failed');
    expect(outcome.failure).toMatch(
      /^savepoint .* was written, but the job was cancelled before it stopped there; the job was cancelled$/,
    );
  });

  it('fails the job, rather than over, once the sinks began to commit a stop (the record keeps naming the savepoint)', async () => {
    const cases = [
      { restarts: 1 },
      { restarts: undefined },
      { restarts: undefined, retention: 'never' as const },
    ];
    for (const { restarts, retention } of cases) {
      const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
      const savepoints = mkdtempSync(join(tmpdir(), 'weir-lost-sp-'));
      let thrown = false;
      let req: SavepointRequestView | undefined;
      const r = await run(dir, {
        restarts,
        retention,
        during: (m) => void (req = m.stop({ targetDir: savepoints })),
        // A task fails while the sinks commit the stop's savepoint.
        onCommit: (m) => {
          if (!thrown && namesSavepoint(dir, m.jobId)) {
            thrown = true;
            throw new Error('dies while committing the stop');
          }
        },
      });
      expect(thrown).toBe(true);
      expect(r.log.filter((l) => / restart \d+ in /.test(l))).toEqual([]);
      const outcome = r.master!.savepointRequest(req!.requestId)!;
      expect(outcome.status).toBe('failed');
      const sp = /^savepoint (\S+) was written, but a task failed while the job stopped: /.exec(
        outcome.failure!,
      )![1]!;
      expect(outcome.failure).toContain('dies while committing the stop');
      expect(outcome.failure).toMatch(
        new RegExp(
          `; the job failed rather than restart from a checkpoint older than what its sinks began to commit; continue it from the savepoint with -s ${escape(sp)}$`,
        ),
      );
      expect(String(r.error)).toMatch(
        new RegExp(
          `a task failed while the sinks committed savepoint ${escape(sp)}: .*dies while committing the stop`,
        ),
      );
      expect(namesSavepoint(dir, r.master!.jobId)).toBe(true);
      const again = await run(dir, { resume: true });
      // `_ended` says it failed, and where it continues from (whether or not its checkpoints stay).
      expect(String(again.error)).toMatch(
        new RegExp(
          `failed at \\S+ while its sinks committed the savepoint of a stop: continue from it with -s ${escape(sp)} \\(`,
        ),
      );
      expect(again.processed).toBe(0);
    }
  });

  it('lets no late record write overwrite a newer one (a stop whose record timed out)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-lost-'));
    const savepoints = mkdtempSync(join(tmpdir(), 'weir-lost-sp-'));
    let late: Promise<void> | undefined;
    const spy = routeRecordWrites((w) => {
      if (w.name === '_ended') return Promise.reject(new Error('killed')); // as after a kill
      // The stop's record: a mount slower than the checkpoint timeout, that does finish.
      if (w.text.includes('"savepoint"')) return (late = writeAfter(700, w));
      return w.write();
    });
    let req: SavepointRequestView | undefined;
    let r: Run;
    try {
      // Attempt 1's record times out, so does attempt 2's (it waits behind the slow one); attempt 3's lands after it.
      r = await run(dir, {
        restarts: 3,
        timeoutMs: 300,
        during: (m) => void (req = m.stop({ targetDir: savepoints })),
      });
    } finally {
      spy.mockRestore();
    }
    expect(r.error).toBeUndefined();
    expect(r.result!.savepointPath).toBeUndefined(); // it failed over and ran to its end
    const outcome = r.master!.savepointRequest(req!.requestId)!;
    expect(outcome.failure).toMatch(
      /not written within 300 ms .*; the job fails over: restart \d+ in \d+ ms from (checkpoint \d+|the restored snapshot|the beginning)$/,
    );
    await late; // had it been left behind, it would land now
    expect(namesSavepoint(dir, r.master!.jobId)).toBe(false);
    const again = await run(dir, { resume: true });
    expect(String(again.error ?? '')).not.toMatch(/was stopped with a savepoint/);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
