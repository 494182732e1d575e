// Starts a job the way `weir run` and `env.execute()` do: picks the checkpoint storage, finds the
// snapshot to start from (`-s PATH`, or `--resume`: the newest readable checkpoint of a job with
// the same name), cleans up what a crash left behind, runs the job master, and applies the
// retention policy to the job's checkpoints when it ends (ARCHITECTURE.md §6, §8, §11).
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { CheckpointSettings } from '../api/checkpoint-config.js';
import { loadSnapshot, type RestoredJobState } from '../checkpoint/snapshot-loader.js';
import type { CompletedCheckpoint } from '../checkpoint/completed-checkpoint.js';
import { decodeJobCommit, encodeJobCommit, type JobCommitRecord } from '../checkpoint/job-commit-record.js';
import { mayBelongTo, recordJobName } from '../checkpoint/job-record-json.js';
import { decodeJobEnd, encodeJobEnd, type JobEndRecord } from '../checkpoint/job-end-record.js';
import type { JobGraph } from '../graph/job-graph.js';
import {
  CheckpointStorageUnusableError,
  JOB_COMMITTED_FILE,
  JOB_END_FILE,
  JobRunningError,
  type CheckpointStorage,
  type JobLock,
  type SnapshotLocation,
} from '../storage/checkpoint-storage.js';
import { FsCheckpointStorage } from '../storage/fs-checkpoint-storage.js';
import { decodeMetadata, type SnapshotMetadata } from '../storage/metadata.js';
import { JobMaster } from './job-master.js';
import { weirHome } from './job-registry.js';
import type { ExecutionOptions, JobExecutionResult } from './local-executor.js';
import { defaultRestartStrategy, type RestartStrategy } from './restart-strategy.js';

/** How one run of a job starts; what `weir run` flags set. */
export interface ExecuteOptions {
  /** Start from this savepoint or retained checkpoint (a folder or its `_metadata`). */
  readonly restoreFrom?: string;
  /** Continue from the newest completed checkpoint of a job with the same name, or start fresh. */
  readonly resume?: boolean;
  /** Drop state of operators the job no longer has instead of refusing to start. */
  readonly allowNonRestoredState?: boolean;
  /**
   * Who owns the retained checkpoint given as `restoreFrom`: 'no-claim' (default) never touches
   * it; 'claim' makes it this job's, so retention deletes it once newer checkpoints replace it.
   * Savepoints cannot be claimed: they are always the user's.
   */
  readonly claimMode?: 'no-claim' | 'claim';
  /** Where savepoints go when a request names no folder (default $WEIR_HOME/savepoints). */
  readonly savepointDir?: string;
  /** Lines for the user (stderr in the CLI). */
  readonly log?: (line: string) => void;
  /** Called once the job runs, e.g. to serve its status over REST. */
  readonly onStart?: (master: JobMaster) => void | Promise<void>;
}

/** What a snapshot's files can be found to be when they are read: damaged, not unfit for the job. */
const DAMAGE: ReadonlySet<string> = new Set([
  'CorruptMetadataError',
  'CorruptStateFileError',
  'StateFormatError',
  'ValueCodecError',
]);

/**
 * `e` as a RestoreError saying that nothing was changed, when it says a file of the snapshot to
 * start from is damaged (the restore reads everything before the job starts, so nothing ran);
 * else `e`. A file of a newer weir needs that weir, not another snapshot.
 */
function damaged(e: unknown): unknown {
  if (!(e instanceof Error) || !DAMAGE.has(e.name)) return e;
  const remedy = /newer weir/.test(e.message) ? '' : ': start from another checkpoint or savepoint';
  return new RestoreError(`${e.message}; nothing was changed${remedy}`, { cause: e });
}

/** Nothing usable to restore from, or a snapshot that does not fit: a configuration error (exit 2). */
export class RestoreError extends Error {
  override readonly name = 'RestoreError';
}

export function defaultCheckpointDir(): string {
  return join(weirHome(), 'checkpoints');
}

export function defaultSavepointDir(): string {
  return join(weirHome(), 'savepoints');
}

interface Candidate {
  readonly jobId: string;
  readonly location: SnapshotLocation;
  readonly metadata: SnapshotMetadata;
}

/** A completed checkpoint whose `_metadata` cannot be read, so its job and time are unknown. */
interface DamagedCheckpoint {
  readonly jobId: string;
  readonly id: number;
  /** Names the `_metadata` file. */
  readonly reason: string;
}

/**
 * A job folder that may be this job's, whose run committed output (`_committed`,
 * job-commit-record.ts) but has no complete checkpoint left: a `_metadata` or `chk-<n>` folder
 * was deleted or lost. Starting over would commit that output again.
 */
interface LostRun {
  readonly jobId: string;
  /** When `_committed` was written; undefined when it cannot be read (then taken as the newest). */
  readonly at: number | undefined;
  /** What is wrong. */
  readonly what: string;
  /** The first way out, before the ones every lost run shares. */
  readonly remedy: string;
  /** The whole message instead, when the run names its one way out. */
  readonly message?: string;
  /** The snapshot the run was started from (`-s`), when its record names one. */
  readonly from?: string;
}

/**
 * Completed checkpoints of jobs named `jobName`, newest first; those whose `_metadata` cannot be
 * read but may be this job's: no readable checkpoint or record in the same job folder names
 * another job (such a checkpoint may be this job's newest, so it is never taken for "no
 * checkpoint": resuming falls back past it, or stops); and the lost runs.
 */
async function resumeCandidates(
  storage: CheckpointStorage,
  jobName: string,
): Promise<{ candidates: Candidate[]; damaged: DamagedCheckpoint[]; lost: LostRun[] }> {
  const candidates: Candidate[] = [];
  const damaged: DamagedCheckpoint[] = [];
  const lost: LostRun[] = [];
  for (const jobId of await storage.listJobs()) {
    const names = new Set<string>();
    const unreadable: DamagedCheckpoint[] = [];
    let complete = 0;
    for (const c of await storage.listCheckpoints(jobId)) {
      if (!c.complete) continue;
      complete++;
      let metadata: SnapshotMetadata;
      try {
        // One that cannot even be read (a symbolic link loop) is as unusable as a damaged one.
        const bytes = await storage.readMetadata(c.location);
        if (bytes === undefined) continue;
        metadata = decodeMetadata(bytes, `${c.location.uri}/_metadata`);
      } catch (e) {
        // Only a name that can never be read (a folder, a link loop) is as bad as damage; a
        // read that failed (EIO, EACCES) may work next time: stop rather than fall back.
        if (e instanceof CheckpointStorageUnusableError && !neverReadable(e.cause)) throw e;
        unreadable.push({
          jobId,
          id: c.id,
          reason: e instanceof Error ? e.message : String(e),
        });
        continue;
      }
      names.add(metadata.jobName);
      if (metadata.jobName === jobName) candidates.push({ jobId, location: c.location, metadata });
    }
    if (complete > 0 && unreadable.length === 0) continue;
    // A record this weir cannot read still names its job, most of the time.
    const end = await storage.readJobRecord(jobId, JOB_END_FILE);
    const endName = end === undefined ? undefined : (decodeJobEnd(end)?.jobName ?? nameIn(end, jobName));
    if (endName !== undefined) names.add(endName);
    const commitBytes = await storage.readJobRecord(jobId, JOB_COMMITTED_FILE);
    const commit = commitBytes === undefined ? undefined : decodeJobCommit(commitBytes);
    const commitName =
      commit?.jobName ?? (commitBytes === undefined ? undefined : nameIn(commitBytes, jobName));
    if (commitName !== undefined) names.add(commitName);
    if (names.size > 0 && !names.has(jobName)) continue;
    if (complete > 0) {
      damaged.push(...unreadable);
      continue;
    }
    if (commitBytes === undefined) continue; // none completed, or none that committed anything
    const file = `${storage.description}/${jobId}/${JOB_COMMITTED_FILE}`;
    lost.push(
      commit === undefined
        ? {
            jobId,
            at: undefined,
            what: `run ${jobId} has no complete checkpoint, and ${file}, its record of having committed output, cannot be read (damaged, or from another version of weir)`,
            remedy: `if that run is another job's or never committed output, move ${file} aside`,
          }
        : commit.from !== undefined
          ? {
              jobId,
              at: commit.at,
              what: `run ${jobId} was started from ${commit.from}`,
              remedy: `continue from it with -s ${commit.from}`,
              from: commit.from,
              message: `job '${jobName}' (run ${jobId}) was started from ${commit.from} at ${new Date(commit.at).toISOString()} (its sinks may have committed the output that snapshot held) and completed no checkpoint (${file}): continue from it with -s ${commit.from} (or run without --resume to start from the beginning, which commits all of the output again); nothing was changed`,
            }
          : {
              jobId,
              at: commit.at,
              what: `run ${jobId} committed output from checkpoint ${commit.checkpoint} on (${file}, written ${new Date(commit.at).toISOString()}), but none of its checkpoints is complete any more (a _metadata file or chk-<n> folder in ${storage.description}/${jobId} was deleted or lost)`,
              remedy: `put its newest chk-<n> folder back (n ≥ ${commit.checkpoint})`,
            },
    );
  }
  candidates.sort((a, b) => b.metadata.timestamp - a.metadata.timestamp || b.metadata.id - a.metadata.id);
  return { candidates, damaged, lost };
}

/**
 * The runs a launch marks as running (CheckpointStorage.lockJob), so that a second `--resume` of
 * a run that still runs is refused; released when the launch ends, however it ends.
 */
class RunLocks {
  private readonly locks = new Map<string, JobLock>();

  constructor(
    private readonly storage: CheckpointStorage,
    private readonly jobName: string,
  ) {}

  /** Marks run `jobId` as running in this process (taking over the mark of a process that died). */
  async hold(jobId: string): Promise<void> {
    if (this.locks.has(jobId)) return;
    await this.refusing(jobId, async () => {
      this.locks.set(jobId, await this.storage.lockJob(jobId));
    });
  }

  /**
   * Refuses run `jobId` while another live process runs it, changing nothing: a resume that then
   * finds nothing usable must leave the folder as it was, even a dead process's mark.
   */
  check(jobId: string): Promise<void> {
    return this.refusing(jobId, () => this.storage.checkNotRunning(jobId));
  }

  private async refusing(jobId: string, action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (e) {
      if (!(e instanceof JobRunningError)) throw e;
      throw new RestoreError(`job '${this.jobName}' (run ${jobId}) is already ${e.message}`, { cause: e });
    }
  }

  async releaseAll(): Promise<void> {
    for (const lock of this.locks.values()) await lock.release().catch(() => undefined);
    this.locks.clear();
  }
}

export async function launchJob(
  graph: JobGraph,
  settings: CheckpointSettings & { readonly dir?: string | undefined },
  execution: ExecutionOptions,
  restartStrategy: RestartStrategy | undefined,
  options: ExecuteOptions = {},
): Promise<JobExecutionResult> {
  // Creating it touches nothing on disk: savepoints are possible whether or not checkpoints are on.
  const storage: CheckpointStorage = new FsCheckpointStorage(settings.dir ?? defaultCheckpointDir());
  const locks = new RunLocks(storage, graph.jobName);
  try {
    return await launch(graph, settings, execution, restartStrategy, options, storage, locks);
  } finally {
    await locks.releaseAll();
  }
}

async function launch(
  graph: JobGraph,
  settings: CheckpointSettings & { readonly dir?: string | undefined },
  execution: ExecutionOptions,
  restartStrategy: RestartStrategy | undefined,
  options: ExecuteOptions,
  storage: CheckpointStorage,
  locks: RunLocks,
): Promise<JobExecutionResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const enabled = settings.intervalMs > 0;
  const allowNonRestoredState = options.allowNonRestoredState === true;
  // A folder that cannot be written would decline every checkpoint, and the restarts that follow
  // would never end: found here, it is one error before the job starts.
  if (enabled || options.resume === true) await storage.checkUsable();

  let restore: RestoredJobState | undefined;
  let jobId: string | undefined;
  /** A checkpoint this job owns from the start (claimed, or resumed): retention may delete it. */
  let claimed: CompletedCheckpoint | undefined;
  /** The resumed job's older completed checkpoints, which it owns as well. */
  let retained: CompletedCheckpoint[] = [];
  /** The snapshot this run (or the run it resumes) started from, when it stays the user's (not claimed). */
  let startedFrom: string | undefined;
  /** With `--resume`: how earlier runs of the job ended (their leftovers are removed once it goes on). */
  let ended: ReadonlyMap<string, JobEndRecord> | undefined;
  if (options.restoreFrom !== undefined) {
    const location = await storage.resolve(options.restoreFrom);
    const bytes = await storage.readMetadata(location);
    if (bytes === undefined)
      throw new RestoreError(
        `${options.restoreFrom}: no _metadata there; not a savepoint or completed checkpoint`,
      );
    let metadata: SnapshotMetadata;
    try {
      metadata = decodeMetadata(bytes, `${location.uri}/_metadata`);
    } catch (e) {
      throw damaged(e);
    }
    if (options.claimMode === 'claim' && metadata.kind === 'savepoint')
      throw new RestoreError(
        `${options.restoreFrom} is a savepoint, which always stays yours; --claim-mode claim takes over retained checkpoints only (drop the flag)`,
      );
    restore = await loadSnapshot(storage, location, metadata, graph, { allowNonRestoredState }).catch(
      (e: unknown) => {
        throw damaged(e);
      },
    );
    if (enabled && options.claimMode !== 'claim') {
      // Before anything runs: the sinks commit what the snapshot holds when they restore, so a
      // run that dies before its first checkpoint completes has committed it, and `--resume` must
      // send the user back to the snapshot instead of starting from the beginning
      // (job-commit-record.ts). After the snapshot was read, so that a snapshot that cannot be
      // restored leaves nothing behind.
      jobId = randomUUID();
      await locks.hold(jobId);
      await storage.writeJobRecord(
        jobId,
        JOB_COMMITTED_FILE,
        encodeJobCommit({
          jobName: graph.jobName,
          checkpoint: metadata.id,
          at: Date.now(),
          from: location.uri,
        }),
      );
    }
    log(`weir: restoring job '${graph.jobName}' from ${metadata.kind} ${metadata.id} at ${location.uri}`);
    if (options.claimMode !== 'claim') startedFrom = location.uri;
    if (options.claimMode === 'claim') {
      if (!enabled)
        throw new RestoreError(
          '--claim-mode claim needs checkpoints (--checkpoint-interval): the claimed checkpoint is replaced by newer ones',
        );
      claimed = completedFrom(location, metadata);
    }
  } else if (options.resume === true) {
    const ends = await jobEnds(storage, graph.jobName);
    ended = ends;
    const last = [...ends].sort((a, b) => b[1].endedAt - a[1].endedAt)[0];
    // Checkpoints of a job that ended are not for resuming (their removal stopped halfway), and
    // neither are checkpoints older than the newest end: resuming them would repeat that run.
    const found = await resumeCandidates(storage, graph.jobName);
    // A lost run stops the resume unless another run of the job checkpointed or ended after it
    // recorded committing output (it started over, say, without --resume) — not one that was
    // already running then (two jobs of one name sharing the folder).
    // Nor does a run started from a checkpoint of the job that is still here to resume: that
    // checkpoint is what it restored (and committed).
    const starts = await runStarts(storage, found.candidates);
    const lost = found.lost.filter(
      (l) =>
        !ends.has(l.jobId) &&
        !(l.from !== undefined && found.candidates.some((c) => c.location.uri === l.from)) &&
        (l.at === undefined ||
          !(
            found.candidates.some(
              (c) =>
                c.jobId !== l.jobId &&
                c.metadata.timestamp > l.at! &&
                !((starts.get(c.jobId) ?? l.at!) < l.at!),
            ) || [...ends.values()].some((e) => e.endedAt > l.at!)
          )),
    );
    if (lost.length > 0) {
      // One line for the newest (an unreadable record first: it may be newest); any others before it.
      const [first, ...others] = [...lost].sort((a, b) => (b.at ?? Infinity) - (a.at ?? Infinity));
      for (const l of others) log(`weir: also: ${l.what}`);
      // A run that still runs has lost nothing: that is the answer, not its record.
      await locks.check(first!.jobId);
      if (first!.message !== undefined) throw new RestoreError(first!.message);
      throw new RestoreError(
        `job '${graph.jobName}' cannot be resumed without committing output a second time: ${first!.what}; nothing was changed. To go on, ${first!.remedy}, continue from a savepoint with -s PATH, or run without --resume to start from the beginning, which commits all of the output again`,
      );
    }
    const all = found.candidates.filter((c) => !ends.has(c.jobId));
    const candidates = all.filter((c) => last === undefined || c.metadata.timestamp > last[1].endedAt);
    // Of unknown time, so taken as the newest: tried (and failed) first.
    const damaged = found.damaged.filter((d) => !ends.has(d.jobId));
    if (last !== undefined && candidates.length === 0 && damaged.length === 0) {
      const older = all[0];
      // Checkpoints of a run that never recorded an end, older than the end of another: which
      // came last is a matter of clocks, so the user decides.
      if (older !== undefined)
        throw new RestoreError(
          `job '${graph.jobName}' (${last[0]}) ended (${last[1].outcome}) at ${new Date(last[1].endedAt).toISOString()}, but run ${older.jobId} left an older checkpoint: continue from it with -s ${older.location.uri} (or run without --resume to start from the beginning)`,
        );
      if (last[1].outcome === 'finished') await removeEndedLeftovers(storage, ends, log);
      return resumeEndedJob(last[0], last[1], log);
    }
    const overlap = overlappingRuns(candidates, starts);
    if (overlap !== undefined) {
      const [newest, other] = overlap;
      throw new RestoreError(
        `job '${graph.jobName}' cannot be resumed: two of its runs took checkpoints in ${storage.description} at the same time (two jobs of one name sharing a checkpoint dir), ${newest.jobId} and ${other.jobId}, and --resume cannot tell which of them wrote this output; nothing was changed. Continue the right one with -s ${newest.location.uri} or -s ${other.location.uri}, and give each job its own --checkpoint-dir`,
      );
    }
    for (const d of damaged) {
      // Its time is unknown, but a later checkpoint of its run is newer: nothing to fall back from.
      const newer = candidates.some((c) => c.jobId === d.jobId && c.metadata.id > d.id);
      log(
        `weir: checkpoint ${d.id} of job '${graph.jobName}' (run ${d.jobId}) is unusable: ${d.reason}` +
          (newer
            ? '; not the newest of its run'
            : candidates.length > 0
              ? '; falling back to an older checkpoint'
              : ''),
      );
    }
    const unusable = new Set<Candidate>();
    /** Runs with a checkpoint found unusable: falling back past them to another run's must not repeat their output. */
    const passedOver = new Set(damaged.map((d) => d.jobId));
    for (const c of candidates) {
      // Before its files are read: a run that still runs would be changing them. (Marked as
      // this process's only once one is chosen, below.)
      await locks.check(c.jobId);
      const repeated = await committedSince(storage, [...passedOver], c);
      if (repeated !== undefined)
        throw new RestoreError(
          `job '${graph.jobName}' cannot be resumed without committing output a second time: run ${repeated}, whose checkpoints are unusable (see above), committed output after checkpoint ${c.metadata.id} of run ${c.jobId} was taken, the next one to fall back to; nothing was changed. To go on, repair or put back that run's checkpoint, continue from a savepoint with -s PATH, or run without --resume to start from the beginning, which commits all of the output again`,
        );
      try {
        restore = await loadSnapshot(storage, c.location, c.metadata, graph, { allowNonRestoredState });
        jobId = c.jobId;
        claimed = completedFrom(c.location, c.metadata);
        // Tried newest first by time, so with a clock that went back, one that failed could
        // have a smaller id: those stay where they are, like every checkpoint that failed.
        retained = candidates
          .filter((o) => o.jobId === c.jobId && o.metadata.id < c.metadata.id && !unusable.has(o))
          .map((o) => completedFrom(o.location, o.metadata));
        break;
      } catch (e) {
        if (e instanceof Error && e.name === 'SnapshotMismatchError') throw new RestoreError(e.message);
        unusable.add(c);
        passedOver.add(c.jobId);
        log(
          `weir: checkpoint ${c.metadata.id} of job '${graph.jobName}' (run ${c.jobId}) is unusable: ${e instanceof Error ? e.message : String(e)}` +
            (candidates.indexOf(c) < candidates.length - 1 ? '; falling back to an older checkpoint' : ''),
        );
      }
    }
    const tried = damaged.length + candidates.length;
    if (restore === undefined && tried > 0) {
      throw new RestoreError(
        `no usable checkpoint of job '${graph.jobName}' in ${storage.description}: all ${tried} failed verification (see above); nothing was changed. Run without --resume to start from the beginning, or with -s PATH from a savepoint`,
      );
    }
    if (restore === undefined)
      log(
        `weir: no checkpoint of job '${graph.jobName}' in ${storage.description}; starting from the beginning`,
      );
    else {
      // A run first started from a snapshot stays so when resumed (for its `_ended`).
      const commit = (await readCommit(storage, jobId!))?.record;
      startedFrom = commit?.origin ?? commit?.from;
      // A newer folder without `_metadata` never completed (the process died while writing it),
      // or lost its `_metadata`: either way it is unusable, and removed below; say so.
      const newer = (await storage.listCheckpoints(jobId!))
        .filter((c) => !c.complete && c.id > restore!.metadata.id)
        .map((c) => c.location.uri);
      const skipped =
        newer.length === 0
          ? ''
          : `; skipped, as they have no _metadata (never completed, or it was lost): ${newer.join(', ')}`;
      log(
        `weir: resuming job '${graph.jobName}' (${jobId}) from checkpoint ${restore.metadata.id}${skipped}`,
      );
    }
  }
  for (const d of restore?.dropped ?? [])
    log(`weir: warning: dropped the state of ${d} (--allow-non-restored-state)`);

  // A run that resumed another's checkpoint owns that run whether or not it checkpoints itself:
  // it holds the run's mark and, when it ends, records the end and applies retention, or the
  // next `--resume` would restore the same checkpoint and run the job again.
  const owns = enabled || (options.resume === true && jobId !== undefined);
  if (owns) {
    jobId ??= randomUUID();
    await locks.hold(jobId);
  }
  // Only now that the resume goes on: one that is refused changes nothing.
  if (ended !== undefined) await removeEndedLeftovers(storage, ended, log);
  let firstCheckpointId = 1;
  if (jobId !== undefined) {
    // Continue the resumed job's numbering; remove the folders of checkpoints that never completed.
    const existing = await storage.listCheckpoints(jobId);
    firstCheckpointId = existing.reduce((n, c) => Math.max(n, c.id + 1), 1);
    await storage.removeIncomplete(jobId);
  }
  const master = new JobMaster(graph, {
    jobId,
    checkpointing: settings,
    storage: enabled ? storage : undefined,
    savepointStorage: storage,
    defaultSavepointDir: options.savepointDir ?? defaultSavepointDir(),
    restartStrategy: restartStrategy ?? defaultRestartStrategy(enabled),
    restore,
    claimed: enabled ? claimed : undefined,
    retained: enabled ? retained : undefined,
    firstCheckpointId,
    origin: startedFrom,
    allowNonRestoredState,
    execution,
    log,
  });
  await options.onStart?.(master);
  let outcome: 'finished' | 'failed' | 'cancelled' = 'failed';
  let result: JobExecutionResult | undefined;
  try {
    result = await master.run();
    outcome = 'finished';
    return result;
  } catch (e) {
    outcome = master.status().state === 'cancelled' ? 'cancelled' : 'failed';
    throw e;
  } finally {
    const stoppedAt = result?.savepointPath;
    // A job that failed while its sinks committed a stop's savepoint continues from there too.
    const savepoint = stoppedAt ?? (outcome === 'failed' ? master.failedCommitting : undefined);
    const discard = owns && shouldDiscard(settings.retention, outcome);
    // A stop with a savepoint is recorded even when its checkpoints stay (retain-on-cancellation),
    // and so is a job that failed while its sinks committed one: their sinks committed the
    // savepoint's output, so `--resume` must point to the savepoint.
    if (discard || (owns && savepoint !== undefined)) {
      // Recorded before the checkpoints go, so that no moment exists when a `--resume` would
      // find neither; when it cannot be recorded, the checkpoints stay.
      const recorded = await recordJobEnd(
        storage,
        master.jobId,
        {
          jobName: graph.jobName,
          outcome: stoppedAt !== undefined ? 'stopped' : outcome,
          endedAt: Date.now(),
          ...(savepoint !== undefined ? { savepoint } : {}),
          ...(startedFrom !== undefined ? { from: startedFrom } : {}),
        },
        log,
      );
      if (recorded && discard)
        for (const c of await storage.listCheckpoints(master.jobId)) await storage.discard(c.location);
    }
  }
}

/**
 * Of `runs` other than `c`'s, one that committed output after `c` was taken (its `_committed`
 * names a later time, or cannot be read): another run's output that restoring `c` would repeat,
 * since a restore removes only its own run's newer output. Within one run, falling back is safe.
 */
async function committedSince(
  storage: CheckpointStorage,
  runs: readonly string[],
  c: Candidate,
): Promise<string | undefined> {
  for (const jobId of runs) {
    if (jobId === c.jobId) continue;
    const commit = await readCommit(storage, jobId);
    if (commit === undefined) continue; // never committed anything
    const at = commit.record?.at;
    if (at === undefined || at > c.metadata.timestamp) return jobId;
  }
  return undefined;
}

/** A run's `_committed`: undefined when it has none, else its record (undefined when it cannot be read). */
async function readCommit(
  storage: CheckpointStorage,
  jobId: string,
): Promise<{ readonly record: JobCommitRecord | undefined } | undefined> {
  const bytes = await storage.readJobRecord(jobId, JOB_COMMITTED_FILE);
  return bytes === undefined ? undefined : { record: decodeJobCommit(bytes) };
}

/**
 * When each run with candidates began committing in its last process (its `_committed`, written
 * at its first checkpoint); absent where unknown.
 */
async function runStarts(
  storage: CheckpointStorage,
  candidates: readonly Candidate[],
): Promise<Map<string, number>> {
  const starts = new Map<string, number>();
  for (const jobId of new Set(candidates.map((c) => c.jobId))) {
    const at = (await readCommit(storage, jobId))?.record?.at;
    if (at !== undefined) starts.set(jobId, at);
  }
  return starts;
}

/**
 * The newest checkpoint of the run that took the newest one and the newest of another run that
 * took one after the first run's process began committing (`starts`): two runs of one name at
 * the same time. A run started after another died is not one, and resuming it is right.
 * Undefined when there are none such, or that start is unknown.
 */
function overlappingRuns(
  candidates: readonly Candidate[],
  starts: ReadonlyMap<string, number>,
): [Candidate, Candidate] | undefined {
  const newestOf = new Map<string, Candidate>();
  for (const c of candidates) {
    const kept = newestOf.get(c.jobId);
    if (kept === undefined || c.metadata.timestamp > kept.metadata.timestamp) newestOf.set(c.jobId, c);
  }
  const [newest, ...others] = [...newestOf.values()].sort(
    (a, b) => b.metadata.timestamp - a.metadata.timestamp,
  );
  const started = newest === undefined ? undefined : starts.get(newest.jobId);
  if (started === undefined) return undefined;
  const other = others.find((o) => o.metadata.timestamp > started);
  return other === undefined ? undefined : [newest!, other];
}

/**
 * The job a record names, or undefined when it could be `jobName`'s: a damaged record names no
 * job for sure, but one that cannot be this job's (job-record-json.ts, mayBelongTo) is another's.
 */
function nameIn(bytes: Uint8Array, jobName: string): string | undefined {
  const name = recordJobName(bytes);
  if (name !== undefined) return name;
  return mayBelongTo(bytes, jobName) ? undefined : '(another job)';
}

/** How each job named `jobName` ended, by job id, for those that recorded it. */
async function jobEnds(storage: CheckpointStorage, jobName: string): Promise<Map<string, JobEndRecord>> {
  const out = new Map<string, JobEndRecord>();
  for (const jobId of await storage.listJobs()) {
    const bytes = await storage.readJobRecord(jobId, JOB_END_FILE);
    if (bytes === undefined) {
      const stop = await unendedStop(storage, jobId);
      if (stop?.jobName === jobName) out.set(jobId, stop);
      continue;
    }
    const record = decodeJobEnd(bytes);
    if (record === undefined) {
      const name = nameIn(bytes, jobName);
      if (name !== undefined && name !== jobName) continue;
      // A damaged record names no job; the run's other record may (one that ended after
      // committing output has both), and a damaged record of another job is none of this one's.
      const commit = await storage.readJobRecord(jobId, JOB_COMMITTED_FILE);
      const commitName = commit === undefined ? undefined : recordJobName(commit);
      if (name === undefined && commitName !== undefined && commitName !== jobName) continue;
      // Not knowing how a job ended could start it over: stop rather than guess. Removing the
      // record only helps a run that kept checkpoints; a finished one removed its own.
      const kept = (await storage.listCheckpoints(jobId)).some((c) => c.complete);
      const file = `${storage.description}/${jobId}/${JOB_END_FILE}`;
      throw new RestoreError(
        `the end record of run ${jobId} in ${storage.description} (_ended) is damaged or from another version of weir; nothing was changed: ` +
          (kept
            ? 'remove it if that run should be resumed, or run without --resume'
            : `that run kept no checkpoint. If it is another job's, move ${file} aside and resume again; if it is this job's and finished, its output is complete; else run without --resume to start from the beginning, which writes its output again`),
      );
    }
    if (record.jobName === jobName) out.set(jobId, record);
  }
  return out;
}

/**
 * A stop-with-savepoint whose process died after its sinks began committing the savepoint and
 * before `_ended` was written: `_committed` names the savepoint (job-commit-record.ts), and it
 * ended there as surely as if `_ended` said so.
 */
async function unendedStop(storage: CheckpointStorage, jobId: string): Promise<JobEndRecord | undefined> {
  const bytes = await storage.readJobRecord(jobId, JOB_COMMITTED_FILE);
  const commit = bytes === undefined ? undefined : decodeJobCommit(bytes);
  if (commit?.savepoint === undefined) return undefined;
  return { jobName: commit.jobName, outcome: 'stopped', endedAt: commit.at, savepoint: commit.savepoint };
}

/**
 * Removes the checkpoint folders (and run mark) that runs in `ends` left behind after recording
 * an end whose retention removes them (`_ended` without a savepoint, written only then: see
 * launch()), when their process died before it removed them (killed between the two). A run
 * whose `_ended` names a savepoint keeps its checkpoints (retention may have said so), and one
 * whose process still runs is left to finish the removal itself.
 */
async function removeEndedLeftovers(
  storage: CheckpointStorage,
  ends: ReadonlyMap<string, JobEndRecord>,
  log: (line: string) => void,
): Promise<void> {
  for (const [jobId, r] of ends) {
    if (r.savepoint !== undefined || r.outcome === 'stopped') continue;
    if ((await storage.listCheckpoints(jobId)).length === 0) continue;
    let lock: JobLock;
    try {
      // Taking over the dead process's mark: no other process removes them at the same time.
      lock = await storage.lockJob(jobId);
    } catch (e) {
      if (e instanceof JobRunningError) continue;
      throw e;
    }
    try {
      const left = await storage.listCheckpoints(jobId);
      for (const c of left) await storage.discard(c.location);
      if (left.length > 0)
        log(
          `weir: removed ${left.length} checkpoint folder(s) of job '${r.jobName}' (run ${jobId}), which ${r.outcome === 'cancelled' ? 'was cancelled' : r.outcome} at ${new Date(r.endedAt).toISOString()}: its process stopped before removing them`,
        );
    } finally {
      await lock.release();
    }
  }
}

async function recordJobEnd(
  storage: CheckpointStorage,
  jobId: string,
  record: JobEndRecord,
  log: (line: string) => void,
): Promise<boolean> {
  try {
    await storage.writeJobRecord(jobId, JOB_END_FILE, encodeJobEnd(record));
    return true;
  } catch (e) {
    log(
      `weir: could not record in ${storage.description} that job '${record.jobName}' ended (${e instanceof Error ? e.message : String(e)}); its checkpoints are kept`,
    );
    return false;
  }
}

/**
 * `--resume` when the newest run of the job ended rather than died: its checkpoints are gone, and
 * starting from the beginning would write its output again. Finished: nothing to do. Stopped
 * with a savepoint, cancelled, or failed (retention removed its checkpoints): the user chooses
 * (exit 2).
 */
function resumeEndedJob(jobId: string, r: JobEndRecord, log: (line: string) => void): JobExecutionResult {
  const at = new Date(r.endedAt).toISOString();
  const job = `job '${r.jobName}' (${jobId})`;
  switch (r.outcome) {
    case 'finished':
      log(`weir: ${job} finished at ${at}; nothing to resume (run without --resume to run it again)`);
      return { jobId, jobName: r.jobName, durationMs: 0 };
    case 'stopped':
      throw new RestoreError(
        `${job} was stopped with a savepoint at ${at}: continue from it with -s ${r.savepoint ?? 'PATH'} (or run without --resume to start from the beginning)`,
      );
    case 'cancelled':
    case 'failed':
      if (r.outcome === 'failed' && r.savepoint !== undefined)
        throw new RestoreError(
          `${job} failed at ${at} while its sinks committed the savepoint of a stop: continue from it with -s ${r.savepoint} (or run without --resume to start from the beginning)`,
        );
      // Its sinks committed the output of the snapshot it started from (and maybe of checkpoints
      // after it): from the beginning, that output would be committed again.
      if (r.from !== undefined)
        throw new RestoreError(
          `${job} ${r.outcome === 'failed' ? 'failed' : 'was cancelled'} at ${at} and its checkpoints were removed (retention); it was started from ${r.from}: continue from there with -s ${r.from} (or run without --resume to start from the beginning, which commits all of the output again)`,
        );
      throw new RestoreError(
        `${job} ${r.outcome === 'failed' ? 'failed' : 'was cancelled'} at ${at} and its checkpoints were removed (retention); run without --resume to start from the beginning, or with -s PATH from a savepoint`,
      );
  }
}

/** Flink's rules: retain-on-cancellation keeps everything; the default keeps checkpoints only when the job failed; never keeps none. */
function shouldDiscard(
  retention: CheckpointSettings['retention'],
  outcome: 'finished' | 'failed' | 'cancelled',
): boolean {
  switch (retention) {
    case 'retain-on-cancellation':
      return false;
    case 'delete-on-cancellation':
      return outcome !== 'failed';
    case 'never':
      return true;
  }
}

function completedFrom(location: SnapshotLocation, metadata: SnapshotMetadata): CompletedCheckpoint {
  return {
    id: metadata.id,
    kind: metadata.kind,
    timestamp: metadata.timestamp,
    location,
    metadata,
    sizeBytes: 0,
    durationMs: 0,
  };
}

function neverReadable(cause: unknown): boolean {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ELOOP' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'ERR_FS_FILE_TOO_LARGE';
}
