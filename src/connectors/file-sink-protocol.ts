// The exactly-once file sink's protocol (ARCHITECTURE.md §7), as pure functions: the names of its
// files, the entries of its state, and what a subtask commits and deletes when it starts. The
// writer (file-sink.ts) lists the directory, asks `planStart`, and does the I/O.
//
// A part file goes through three names:
//
//   in-progress  .part-<lineage>-<epoch>-<subtask>-<writer>-<seq>.inprogress
//   pending      .part-<lineage>-<epoch>-<checkpoint>-<subtask>-<writer>-<seq>.pending
//   visible       part-<lineage>-<epoch>-<checkpoint>-<subtask>-<writer>-<seq>
//
// Lines are appended to the in-progress file. The snapshot of checkpoint n closes it: flushed,
// fsynced, renamed to its pending name, directory fsynced. "n complete" (or a later one) renames
// it to its visible name. Readers see only visible names (they begin with neither `.` nor `_`).
//
// A savepoint of a running job commits nothing, and a failover never restores it: the job may
// fail over to an older checkpoint, whose restore deletes the files the savepoint left pending
// as newer output, or restart from its beginning. So a savepoint holds its pending files under
// names of its own, hard links made in its asynchronous part, and lists those:
//
//   held         .part-<lineage>-<epoch>-<checkpoint>-<subtask>-<writer>-<seq>.savepoint-<id>
//   superseded   .part-<lineage>-<epoch>-<checkpoint>-<subtask>-<writer>-<seq>.savepoint-<id>.superseded
//
// and every subtask leaves an empty seal, `.savepoint-<lineage>-<epoch>-<id>-<subtask>-<writer>.seal`,
// listed in its marker entry. A start from the savepoint commits the held files (from either
// name) in the same directory. A failover's restore, of the newest completed checkpoint, keeps
// the visible output up to it, so the savepoint's history is still whole: held files after it
// are only marked superseded (their records are written again here, so a start from the
// savepoint into another directory must not commit them here; one into this directory still
// does, and deletes the newer output). A restore that deletes visible output (a fallback, a
// start from an older point) may delete part of a later savepoint's history: it deletes that
// savepoint's held files and seals, and a start from it then fails (PendingFileLostError)
// instead of missing records.
//
// - <checkpoint> is the checkpoint whose snapshot closed the file, i.e. the state that holds its
//   records. (Not the one that committed it: an aborted n is committed by n+1, and a restore from
//   n must keep it.)
// - <writer> is random per writer instance, so names never collide across restarts, rescales
//   and runs; <seq> counts the writer's files.
// - <lineage> is random, drawn by each subtask of a fresh start; after a restore every subtask
//   names its files with the smallest lineage of the restored state, and the state carries the
//   set of the history's lineages. A restore deletes only files of its own lineages, never those
//   of another job or run writing to the same directory.
// - <epoch> grows with restores: 0 on a fresh start; after a restore, the restored epoch + 1 or
//   the attempt's start time in ms, whichever is larger. Checkpoint ids grow within one attempt
//   but not across restores (a job started from a savepoint numbers its checkpoints from 1 again,
//   and `--resume` may reuse the id of a savepoint the lost process took), so "newer than the
//   restored checkpoint" is decided on the pair (epoch, checkpoint), which grows along the
//   history. The start time makes two attempts that restore the same point (a failover and a
//   later `--resume`, or two starts from one savepoint) write under different epochs, the later
//   one larger: so a start from a savepoint of the earlier one removes the later one's output
//   as newer, instead of taking files of the same epoch and lower ids for its own.
//
// Files of the first version of this sink (state entries without `version`) are still read:
// `.part-<subtask>-<writer>-<seq>.inprogress` (in-progress and pending alike) and visible
// `part-<checkpoint>-<subtask>-<writer>-<seq>`, of the lineage LEGACY_LINEAGE at epoch 0.

/** A file sink error a user can act on; the message names the path. */
export class FileSinkError extends Error {
  override readonly name: string = 'FileSinkError';
}

/**
 * A restore found a file that the restored checkpoint left pending neither pending nor committed
 * (removed from the output directory), or damaged (not its size or checksum, or not a file):
 * that checkpoint cannot give exactly-once output. The job
 * treats the checkpoint as unusable and falls back to an older retained one, whose restore
 * removes the newer output and writes it again; with none, it fails for good.
 */
export class PendingFileLostError extends FileSinkError {
  override readonly name = 'PendingFileLostError';
}

/** The name of the sink's union list state. */
export const STATE_NAME = 'file-sink-pending';
/**
 * The version of the state entries this code writes; it reads this one and the ones before.
 * Version 4 added each pending file's size and CRC-32; 3 held names (a savepoint's pending
 * entries); 2 lineages and epochs.
 */
export const STATE_VERSION = 4;
/** The lineage of files written by version 1, whose names have none. */
export const LEGACY_LINEAGE = 'v1';

const HEX8 = '[0-9a-f]{8}';
const N = '(0|[1-9][0-9]*)';
const IN_PROGRESS = new RegExp(`^\\.part-(${HEX8})-${N}-${N}-${HEX8}-${N}\\.inprogress$`);
const PENDING = new RegExp(`^\\.part-(${HEX8})-${N}-${N}-${N}-${HEX8}-${N}\\.pending$`);
const VISIBLE = new RegExp(`^part-(${HEX8})-${N}-${N}-${N}-${HEX8}-${N}$`);
const HELD = new RegExp(`^\\.part-(${HEX8})-${N}-${N}-${N}-${HEX8}-${N}\\.savepoint-${N}(\\.superseded)?$`);
const SEAL = new RegExp(`^\\.savepoint-(${HEX8})-${N}-${N}-${N}-${HEX8}\\.seal$`);
const V1_IN_PROGRESS = /^\.part-(\d+)-[0-9a-f]+-\d+\.inprogress$/;
const V1_VISIBLE = /^part-(\d+)-(\d+)-[0-9a-f]+-\d+$/;
const LINEAGE = new RegExp(`^${HEX8}$`);

/** Who writes a part file: fixed for one writer instance; `seq` tells its files apart. */
export interface PartOwner {
  readonly lineage: string;
  readonly epoch: number;
  readonly subtask: number;
  readonly writer: string;
}

export function inProgressName(o: PartOwner, seq: number): string {
  return `.part-${o.lineage}-${o.epoch}-${o.subtask}-${o.writer}-${seq}.inprogress`;
}

export function visibleName(o: PartOwner, seq: number, checkpointId: number): string {
  return `part-${o.lineage}-${o.epoch}-${checkpointId}-${o.subtask}-${o.writer}-${seq}`;
}

export function pendingName(o: PartOwner, seq: number, checkpointId: number): string {
  return `.${visibleName(o, seq, checkpointId)}.pending`;
}

/** The name under which savepoint `savepointId` holds the file that becomes `final`. */
export function heldName(final: string, savepointId: number): string {
  return `.${final}.savepoint-${savepointId}`;
}

const SUPERSEDED = '.superseded';

/** The seal subtask `o.subtask` leaves for savepoint `savepointId`. */
export function sealName(o: PartOwner, savepointId: number): string {
  return `.savepoint-${o.lineage}-${o.epoch}-${savepointId}-${o.subtask}-${o.writer}.seal`;
}

/** The name a held file gets when its records are written again (see above). */
export function supersededName(held: string): string {
  return held + SUPERSEDED;
}

/**
 * The names a restored pending entry's file may have before it is committed: its pending (or
 * held) name, and for a held one also its superseded name.
 */
export function uncommittedNames(p: PendingEntry): string[] {
  const f = parsePartName(p.temp);
  return f?.kind === 'held' && !f.superseded ? [p.temp, supersededName(p.temp)] : [p.temp];
}

/** What a file name says, for the sink's own names; anything else is not the sink's. */
export type PartFile =
  | { readonly kind: 'in-progress'; readonly lineage: string; readonly subtask: number }
  | {
      readonly kind: 'pending' | 'visible' | 'held' | 'seal';
      readonly lineage: string;
      readonly epoch: number;
      readonly checkpointId: number;
      readonly subtask: number;
      /** For a held file or a seal: the savepoint that holds it (at the file's epoch). */
      readonly savepointId?: number;
      /** For a held file: marked superseded. */
      readonly superseded?: boolean;
    };

export function parsePartName(name: string): PartFile | undefined {
  let m = IN_PROGRESS.exec(name);
  if (m !== null) return { kind: 'in-progress', lineage: m[1]!, subtask: Number(m[3]) };
  m = V1_IN_PROGRESS.exec(name);
  if (m !== null) return { kind: 'in-progress', lineage: LEGACY_LINEAGE, subtask: Number(m[1]) };
  m = HELD.exec(name);
  if (m !== null)
    return { kind: 'held', ...placeOf(m), savepointId: Number(m[6]), superseded: m[7] !== undefined };
  m = SEAL.exec(name);
  if (m !== null) return { kind: 'seal', ...placeOf(m), savepointId: Number(m[3]) };
  m = PENDING.exec(name) ?? VISIBLE.exec(name);
  if (m !== null) return { kind: name.startsWith('.') ? 'pending' : 'visible', ...placeOf(m) };
  m = V1_VISIBLE.exec(name);
  if (m !== null)
    return {
      kind: 'visible',
      lineage: LEGACY_LINEAGE,
      epoch: 0,
      checkpointId: Number(m[1]),
      subtask: Number(m[2]),
    };
  return undefined;
}

/** Lineage, epoch, checkpoint and subtask: the first four groups of each of the sink's own names. */
function placeOf(m: RegExpExecArray): {
  lineage: string;
  epoch: number;
  checkpointId: number;
  subtask: number;
} {
  return { lineage: m[1]!, epoch: Number(m[2]), checkpointId: Number(m[3]), subtask: Number(m[4]) };
}

/** A file closed by a snapshot and not yet committed: rename `temp` to `final`. */
export interface PendingEntry {
  readonly kind: 'pending';
  readonly temp: string;
  readonly final: string;
  readonly checkpointId: number;
  /** The subtask that wrote it, which decides who commits it after a restore. */
  readonly subtask: number;
  /**
   * Its length in bytes and CRC-32 (version 4): a restore checks the file before it commits it,
   * so a damaged one makes the checkpoint unusable instead of being committed as output.
   */
  readonly size?: number;
  readonly crc32?: number;
}

/**
 * Written by every subtask at every snapshot: which snapshot wrote the state (the restored
 * checkpoint, on restore) and where in the history it is. Version 1 had only `kind` and `id`.
 */
export interface MarkerEntry {
  readonly kind: 'checkpoint';
  readonly version: number;
  readonly id: number;
  readonly epoch: number;
  readonly lineages: readonly string[];
  /**
   * The absolute directory the pending files are in (absent in state written before it was
   * recorded: then the same directory as now). A job restored with another output directory (a
   * fork, a move) leaves the snapshot's pending files to that directory.
   */
  readonly dir?: string;
  /** A savepoint's: the seal this subtask left in `dir` (version 3). */
  readonly seal?: string;
}

export type SinkStateEntry = PendingEntry | MarkerEntry;

/** The sink's state as restored: the same at every subtask (union list state). */
export interface RestoredSinkState {
  /** The checkpoint (or savepoint) the state was written by. */
  readonly checkpointId: number;
  readonly epoch: number;
  /** Every lineage of this history, sorted. */
  readonly lineages: readonly string[];
  readonly pending: readonly PendingEntry[];
  /** Where the pending files are; undefined for state that did not record it. */
  readonly dir?: string | undefined;
  /** A savepoint's seals: the directory holds its history only while they are there. */
  readonly seals: readonly string[];
}

/**
 * Reads restored state entries. Undefined when there are none: the sink was not part of the
 * snapshot (added to the job since), which is a fresh start for it.
 */
export function decodeRestoredState(entries: readonly unknown[]): RestoredSinkState | undefined {
  const pending: PendingEntry[] = [];
  const lineages = new Set<string>();
  let checkpointId = -1;
  let epoch = 0;
  let dir: string | undefined;
  const seals = new Set<string>();
  // Versions first: a newer weir's entries may not parse here, and that is the error to give.
  for (const e of entries)
    if (isRecord(e) && e.kind === 'checkpoint' && isCount(e.version) && e.version > STATE_VERSION)
      throw newerState(e.version);
  for (const e of entries) {
    if (isPendingEntry(e)) {
      pending.push(e);
      continue;
    }
    if (!isRecord(e) || e.kind !== 'checkpoint' || !isCount(e.id)) throw badState(e);
    const version = e.version ?? 1;
    if (!isCount(version) || version < 1) throw badState(e);
    checkpointId = Math.max(checkpointId, e.id);
    if (version === 1) {
      lineages.add(LEGACY_LINEAGE);
      continue;
    }
    if (!isCount(e.epoch) || !Array.isArray(e.lineages) || !e.lineages.every(isLineage)) throw badState(e);
    epoch = Math.max(epoch, e.epoch);
    for (const l of e.lineages as string[]) lineages.add(l);
    if (e.dir !== undefined) {
      if (typeof e.dir !== 'string' || e.dir.length === 0) throw badState(e);
      dir ??= e.dir;
    }
    if (e.seal !== undefined) {
      if (typeof e.seal !== 'string' || parsePartName(e.seal)?.kind !== 'seal') throw badState(e);
      seals.add(e.seal);
    }
  }
  if (checkpointId < 0) {
    if (pending.length > 0)
      throw new FileSinkError(
        'file sink state has pending files but no checkpoint entry; the state is damaged',
      );
    return undefined;
  }
  // Each file is listed by the one subtask that closed it; a duplicate would do no harm either.
  const unique = new Map(pending.map((p) => [p.temp, p]));
  return {
    checkpointId,
    epoch,
    lineages: [...lineages].sort(),
    pending: [...unique.values()],
    dir,
    seals: [...seals],
  };
}

/** The names and the state a writer uses from its start on. */
export interface WriterHistory {
  readonly lineage: string;
  readonly epoch: number;
  /** Recorded at every snapshot, so that a later restore knows all of them. */
  readonly lineages: readonly string[];
}

/**
 * A fresh start begins a lineage (`fresh`, random); a restore continues the restored one at the
 * next epoch (see above; `attemptStartTime` is the same at every subtask of an attempt).
 */
export function startHistory(
  restored: RestoredSinkState | undefined,
  fresh: string,
  attemptStartTime = 0,
): WriterHistory {
  if (restored === undefined) return { lineage: fresh, epoch: 0, lineages: [fresh] };
  const own = restored.lineages.find((l) => l !== LEGACY_LINEAGE) ?? fresh;
  const lineages = restored.lineages.includes(own) ? restored.lineages : [...restored.lineages, own].sort();
  return { lineage: own, epoch: nextEpoch(restored.epoch, attemptStartTime), lineages };
}

/** The epoch of an attempt that continues a history at `epoch`. */
export function nextEpoch(epoch: number, attemptStartTime = 0): number {
  return Math.max(epoch + 1, Number.isSafeInteger(attemptStartTime) ? attemptStartTime : 0);
}

export interface StartPlan {
  /** Pending files of the restored checkpoint to commit (rename; idempotent). */
  readonly commit: readonly PendingEntry[];
  /** Names to delete. */
  readonly remove: readonly string[];
  /** Held files to rename to their superseded names. */
  readonly supersede: readonly string[];
  /**
   * Held files and seals of savepoints whose history this start deletes or changes: to delete
   * first, before anything else changes (a crash in between would hide from a retried start
   * why they must go).
   */
  readonly discard: readonly string[];
}

/**
 * What subtask `subtask` of `parallelism` commits, deletes and marks superseded before it writes
 * anything.
 *
 * The rule that keeps concurrently starting subtasks from racing: every file name carries the
 * index of the subtask that wrote it, and new subtask i deals only with files (and restored
 * pending entries) of old indexes s with s mod parallelism = i. Files of the current attempt
 * carry index i < parallelism, so only subtask i itself deals with them, and it does so before
 * it creates any; no subtask can delete a file of another subtask of its own attempt.
 *
 * Fresh start (nothing restored): delete nothing. An in-progress file of another lineage may be
 * written by another job or run now (one left by a run that died before its first checkpoint is
 * hidden garbage, as in Flink); a pending or held file may belong to a retained checkpoint or a
 * savepoint of another run; a visible one is output.
 *
 * Restore from checkpoint r at epoch e, with lineages L:
 * - commit the pending files of r;
 * - delete in-progress and pending files of L that r does not list (those of other lineages
 *   are other jobs' or runs', maybe being written);
 * - delete visible files of L whose (epoch, checkpoint) is after (e, r): their records come
 *   after r and will be written again (weir falls back to an older checkpoint when the newest is
 *   damaged). Visible files of other lineages are never touched;
 * - held files and seals of L of savepoints after (e, r): a savepoint holds every file its
 *   history has not committed, so while the directory keeps the visible output up to r, it still
 *   holds that savepoint's whole history, and its held files are only marked superseded. A
 *   restore of the newest completed checkpoint (a failover) deletes no visible file. One that
 *   does (a fallback, a start from an older savepoint) may delete part of a later savepoint's
 *   history: then the subtask that deletes one discards the held files and seals of every later
 *   savepoint at or after the earliest file it deletes (of every subtask index: no attempt takes
 *   a savepoint before every subtask has started), so that a start from it fails with
 *   PendingFileLostError instead of missing records; a savepoint before every deleted file keeps
 *   its whole history. One that commits a superseded file (a start from a savepoint after a
 *   failover to a point before it) discards every later savepoint's: that file's records were
 *   written again by a later attempt, whose savepoints would take it for their own history.
 */
export function planStart(
  subtask: number,
  parallelism: number,
  restored: RestoredSinkState | undefined,
  names: readonly string[],
  { keepPending = false }: { keepPending?: boolean } = {},
): StartPlan {
  const mine = (s: number): boolean => s % parallelism === subtask;
  const commit = restored?.pending.filter((p) => mine(p.subtask)) ?? [];
  const listed = new Set([
    ...(restored?.pending.flatMap(uncommittedNames) ?? []),
    ...(restored?.seals ?? []),
  ]);
  const ours = new Set(restored?.lineages);
  const after = (epoch: number, id: number): boolean =>
    restored !== undefined &&
    (epoch > restored.epoch || (epoch === restored.epoch && id > restored.checkpointId));
  const remove: string[] = [];
  /** Held files and seals of L of savepoints after the restored point, of any subtask index. */
  const later: { name: string; f: Exclude<PartFile, { kind: 'in-progress' }> }[] = [];
  /** The earliest visible file this subtask deletes, as [epoch, checkpoint]. */
  let earliest: [number, number] | undefined;
  for (const name of names) {
    const f = parsePartName(name);
    if (f === undefined || listed.has(name)) continue;
    if (f.kind === 'held' || f.kind === 'seal') {
      // Version 1 files carry no lineage: a savepoint of any lineage may hold them in its history.
      const related = ours.has(f.lineage) || ours.has(LEGACY_LINEAGE);
      if (related && after(f.epoch, f.savepointId!)) later.push({ name, f });
      continue;
    }
    // Files of other lineages are other runs' or jobs' (an in-progress one may be being written
    // now), and a fresh start has none of its own yet.
    if (!mine(f.subtask) || restored === undefined || !ours.has(f.lineage)) continue;
    if (f.kind === 'in-progress') remove.push(name);
    else if (f.kind === 'pending') {
      if (!keepPending) remove.push(name);
    } else if (after(f.epoch, f.checkpointId)) {
      remove.push(name);
      if (earliest === undefined || before(f.epoch, f.checkpointId, earliest))
        earliest = [f.epoch, f.checkpointId];
    }
  }
  // Committing a superseded file makes output of a branch visible again after a later branch
  // began before it: that branch's savepoints no longer fit this directory either.
  const present = new Set(names);
  const revives = commit.some(
    (p) =>
      !present.has(p.final) &&
      uncommittedNames(p)
        .slice(1)
        .some((n) => present.has(n)),
  );
  const supersede: string[] = [];
  const discard: string[] = [];
  for (const { name, f } of later) {
    // A savepoint's history holds every file up to its point.
    const broken = revives || (earliest !== undefined && !before(f.epoch, f.savepointId!, earliest));
    if (!broken) {
      if (f.kind === 'held' && ours.has(f.lineage) && mine(f.subtask) && f.superseded !== true)
        supersede.push(name);
      continue;
    }
    // Both names of a held file: another subtask may be marking it superseded meanwhile.
    discard.push(name);
    if (f.kind === 'held' && f.superseded !== true) discard.push(supersededName(name));
  }
  return { commit, remove, supersede, discard };
}

/** True when (epoch, id) comes before `point` in a history. */
function before(epoch: number, id: number, [e, c]: readonly [number, number]): boolean {
  return epoch < e || (epoch === e && id < c);
}

/**
 * The point a restart with nothing to restore starts from when the run's earlier attempts began
 * `earlier` (a run's attempts restart from the beginning only while none of its checkpoints has
 * completed): before every file of its lineages. Planned as a restore of that point, with
 * `keepPending` (a checkpoint completing while the job failed may still be restored after a
 * crash, and list them), it supersedes the held files of the earlier attempts' savepoints, whose
 * records the restart writes again; the restart continues the lineage at the next epoch.
 */
export function restartPoint(earlier: WriterHistory): RestoredSinkState {
  return { checkpointId: 0, epoch: -1, lineages: earlier.lineages, pending: [], seals: [] };
}

/**
 * True when `names` include a part file of the snapshot's lineages written at or before it (its
 * (epoch, checkpoint) not after the snapshot's): output of the history the snapshot ends. Files of
 * a later epoch are excluded: a job started from a savepoint into a new directory writes there
 * under the savepoint's lineage, and its restarts restore the savepoint again.
 */
export function holdsHistoryOf(restored: RestoredSinkState, names: readonly string[]): boolean {
  // Version 1 had no lineages: all its jobs share 'v1', so another v1 job's files count too. That
  // refuses some forks of a v1 history into a folder with v1 output (loudly), where ignoring them
  // would let a copy that lost the snapshot's files lose newer output (silently).
  const lineages = new Set(restored.lineages);
  return names.some((name) => {
    const f = parsePartName(name);
    return (
      f !== undefined &&
      f.kind !== 'in-progress' &&
      lineages.has(f.lineage) &&
      (f.epoch < restored.epoch || (f.epoch === restored.epoch && f.checkpointId <= restored.checkpointId))
    );
  });
}

/** The state entries of a snapshot: the files still pending and the marker. */
export function snapshotEntries(
  pending: readonly Omit<PendingEntry, 'kind'>[],
  checkpointId: number,
  history: WriterHistory,
  dir?: string,
  seal?: string,
): SinkStateEntry[] {
  const out: SinkStateEntry[] = pending.map((p) => ({
    kind: 'pending',
    temp: p.temp,
    final: p.final,
    checkpointId: p.checkpointId,
    subtask: p.subtask,
    ...(p.size === undefined ? {} : { size: p.size }),
    ...(p.crc32 === undefined ? {} : { crc32: p.crc32 }),
  }));
  out.push({
    kind: 'checkpoint',
    version: STATE_VERSION,
    id: checkpointId,
    epoch: history.epoch,
    lineages: [...history.lineages],
    ...(dir === undefined ? {} : { dir }),
    ...(seal === undefined ? {} : { seal }),
  });
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isLineage(v: unknown): boolean {
  return typeof v === 'string' && (v === LEGACY_LINEAGE || LINEAGE.test(v));
}

/** A pending entry whose names are the sink's own: state never makes the sink rename other files. */
function isPendingEntry(v: unknown): v is PendingEntry {
  if (!isRecord(v) || v.kind !== 'pending') return false;
  const { temp, final, checkpointId, subtask, size, crc32 } = v;
  if (typeof temp !== 'string' || typeof final !== 'string' || !isCount(checkpointId) || !isCount(subtask))
    throw badState(v);
  if ((size === undefined) !== (crc32 === undefined)) throw badState(v);
  if (size !== undefined && (!isCount(size) || !isCount(crc32) || (crc32 as number) > 0xffffffff))
    throw badState(v);
  const t = parsePartName(temp);
  const f = parsePartName(final);
  if (t === undefined || t.kind === 'visible' || f?.kind !== 'visible' || t.subtask !== subtask)
    throw badState(v);
  if (t.kind === 'held' && (t.superseded === true || !temp.startsWith(`.${final}.savepoint-`)))
    throw badState(v);
  return true;
}

function newerState(version: number): FileSinkError {
  return new FileSinkError(
    `file sink state was written by a newer weir (format version ${version}; this one reads versions up to ${STATE_VERSION}); restore it with that version`,
  );
}

function badState(entry: unknown): FileSinkError {
  let text: string;
  try {
    text = JSON.stringify(entry) ?? String(entry);
  } catch {
    text = String(entry);
  }
  return new FileSinkError(`file sink state has an entry it cannot read: ${text.slice(0, 200)}`);
}
