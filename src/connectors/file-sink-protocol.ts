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
// - <checkpoint> is the checkpoint whose snapshot closed the file, i.e. the state that holds its
//   records. (Not the one that committed it: an aborted n is committed by n+1, and a restore from
//   n must keep it.)
// - <writer> is random per writer instance, so names never collide across restarts, rescales
//   and runs; <seq> counts the writer's files.
// - <lineage> is random, drawn by each subtask of a fresh start; after a restore every subtask
//   names its files with the smallest lineage of the restored state, and the state carries the
//   set of the history's lineages. A restore deletes only files of its own lineages, never those
//   of another job or run writing to the same directory.
// - <epoch> counts restores: 0 on a fresh start, restored epoch + 1 after a restore. Checkpoint
//   ids grow within one attempt but not across restores (a job started from a savepoint numbers
//   its checkpoints from 1 again), so "newer than the restored checkpoint" is decided on the pair
//   (epoch, checkpoint), which grows along the history.
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
 * (removed from the output directory): that checkpoint cannot give exactly-once output. The job
 * treats the checkpoint as unusable and falls back to an older retained one, whose restore
 * removes the newer output and writes it again; with none, it fails for good.
 */
export class PendingFileLostError extends FileSinkError {
  override readonly name = 'PendingFileLostError';
}

/** The name of the sink's union list state. */
export const STATE_NAME = 'file-sink-pending';
/** The version of the state entries this code writes; it reads this one and the ones before. */
export const STATE_VERSION = 2;
/** The lineage of files written by version 1, whose names have none. */
export const LEGACY_LINEAGE = 'v1';

const HEX8 = '[0-9a-f]{8}';
const N = '(0|[1-9][0-9]*)';
const IN_PROGRESS = new RegExp(`^\\.part-(${HEX8})-${N}-${N}-${HEX8}-${N}\\.inprogress$`);
const PENDING = new RegExp(`^\\.part-(${HEX8})-${N}-${N}-${N}-${HEX8}-${N}\\.pending$`);
const VISIBLE = new RegExp(`^part-(${HEX8})-${N}-${N}-${N}-${HEX8}-${N}$`);
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

/** What a file name says, for the sink's own names; anything else is not the sink's. */
export type PartFile =
  | { readonly kind: 'in-progress'; readonly subtask: number }
  | {
      readonly kind: 'pending' | 'visible';
      readonly lineage: string;
      readonly epoch: number;
      readonly checkpointId: number;
      readonly subtask: number;
    };

export function parsePartName(name: string): PartFile | undefined {
  let m = IN_PROGRESS.exec(name);
  if (m !== null) return { kind: 'in-progress', subtask: Number(m[3]) };
  m = V1_IN_PROGRESS.exec(name);
  if (m !== null) return { kind: 'in-progress', subtask: Number(m[1]) };
  m = PENDING.exec(name) ?? VISIBLE.exec(name);
  if (m !== null)
    return {
      kind: name.startsWith('.') ? 'pending' : 'visible',
      lineage: m[1]!,
      epoch: Number(m[2]),
      checkpointId: Number(m[3]),
      subtask: Number(m[4]),
    };
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

/** A file closed by a snapshot and not yet committed: rename `temp` to `final`. */
export interface PendingEntry {
  readonly kind: 'pending';
  readonly temp: string;
  readonly final: string;
  readonly checkpointId: number;
  /** The subtask that wrote it, which decides who commits it after a restore. */
  readonly subtask: number;
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
  for (const e of entries) {
    if (isPendingEntry(e)) {
      pending.push(e);
      continue;
    }
    if (!isRecord(e) || e.kind !== 'checkpoint' || !isCount(e.id)) throw badState(e);
    const version = e.version ?? 1;
    if (!isCount(version) || version < 1) throw badState(e);
    if (version > STATE_VERSION)
      throw new FileSinkError(
        `file sink state was written by a newer weir (format version ${version}; this one reads versions up to ${STATE_VERSION}); restore it with that version`,
      );
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
  return { checkpointId, epoch, lineages: [...lineages].sort(), pending: [...unique.values()], dir };
}

/** The names and the state a writer uses from its start on. */
export interface WriterHistory {
  readonly lineage: string;
  readonly epoch: number;
  /** Recorded at every snapshot, so that a later restore knows all of them. */
  readonly lineages: readonly string[];
}

/** A fresh start begins a lineage (`fresh`, random); a restore continues the restored one. */
export function startHistory(restored: RestoredSinkState | undefined, fresh: string): WriterHistory {
  if (restored === undefined) return { lineage: fresh, epoch: 0, lineages: [fresh] };
  const own = restored.lineages.find((l) => l !== LEGACY_LINEAGE) ?? fresh;
  const lineages = restored.lineages.includes(own) ? restored.lineages : [...restored.lineages, own].sort();
  return { lineage: own, epoch: restored.epoch + 1, lineages };
}

export interface StartPlan {
  /** Pending files of the restored checkpoint to commit (rename; idempotent). */
  readonly commit: readonly PendingEntry[];
  /** Names to delete. */
  readonly remove: readonly string[];
}

/**
 * What subtask `subtask` of `parallelism` commits and deletes before it writes anything.
 *
 * The rule that keeps concurrently starting subtasks from racing: every file name carries the
 * index of the subtask that wrote it, and new subtask i deals only with files (and restored
 * pending entries) of old indexes s with s mod parallelism = i. Files of the current attempt
 * carry index i < parallelism, so only subtask i itself deals with them, and it does so before
 * it creates any; no subtask can delete a file of another subtask of its own attempt.
 *
 * Fresh start (nothing restored): delete in-progress files (of any lineage and version; no
 * checkpoint ever refers to one). Pending and visible files are left alone: a pending file may
 * belong to a retained checkpoint of another run, a visible one is output.
 *
 * Restore from checkpoint r at epoch e, with lineages L:
 * - commit the pending files of r;
 * - delete in-progress files, and pending files of L, that r does not list;
 * - delete visible files of L whose (epoch, checkpoint) is after (e, r): their records come
 *   after r and will be written again (weir falls back to an older checkpoint when the newest is
 *   damaged). Visible files of other lineages are never touched.
 */
export function planStart(
  subtask: number,
  parallelism: number,
  restored: RestoredSinkState | undefined,
  names: readonly string[],
): StartPlan {
  const mine = (s: number): boolean => s % parallelism === subtask;
  const commit = restored?.pending.filter((p) => mine(p.subtask)) ?? [];
  const listed = new Set(restored?.pending.map((p) => p.temp));
  const ours = new Set(restored?.lineages);
  const remove: string[] = [];
  for (const name of names) {
    const f = parsePartName(name);
    if (f === undefined || !mine(f.subtask) || listed.has(name)) continue;
    if (f.kind === 'in-progress') remove.push(name);
    else if (restored === undefined || !ours.has(f.lineage)) continue;
    else if (f.kind === 'pending') remove.push(name);
    else if (
      f.epoch > restored.epoch ||
      (f.epoch === restored.epoch && f.checkpointId > restored.checkpointId)
    )
      remove.push(name);
  }
  return { commit, remove };
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
): SinkStateEntry[] {
  const out: SinkStateEntry[] = pending.map((p) => ({
    kind: 'pending',
    temp: p.temp,
    final: p.final,
    checkpointId: p.checkpointId,
    subtask: p.subtask,
  }));
  out.push({
    kind: 'checkpoint',
    version: STATE_VERSION,
    id: checkpointId,
    epoch: history.epoch,
    lineages: [...history.lineages],
    ...(dir === undefined ? {} : { dir }),
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
  const { temp, final, checkpointId, subtask } = v;
  if (typeof temp !== 'string' || typeof final !== 'string' || !isCount(checkpointId) || !isCount(subtask))
    throw badState(v);
  const t = parsePartName(temp);
  const f = parsePartName(final);
  if (t === undefined || t.kind === 'visible' || f?.kind !== 'visible' || t.subtask !== subtask)
    throw badState(v);
  return true;
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
