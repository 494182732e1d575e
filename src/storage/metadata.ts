// The `_metadata` document of a checkpoint or savepoint, format version 3 (ARCHITECTURE.md §8).
// An on-disk contract: change it only with a version bump and a reader for the old version.
// Version 2 (weir after 0.1.0) added per-state `serializer` and `version`, the operator-state
// mode "broadcast" and timers files behind the `timers` handle; version 1 is read as well (its
// documents have none of these, which mean "weir-cbor", 1, and no timers). Version 3 has the
// document of version 2; what changed is its keyed state files, which are of state file version
// 2 (keys, then values: state-serialization.ts). Each data file's header says which layout it
// has, so the reader of every version is the same.
//
// UTF-8 JSON naming, per operator and subtask, the data files that hold its state — relative
// paths only, so a snapshot folder can be moved — with sizes, checksums and section indexes:
//
//   { "format": "weir-snapshot", "version": 1, "weirVersion": "0.1.0", "kind": "checkpoint",
//     "id": 7, "timestamp": 1732400000000, "jobId": "…", "jobName": "word-count",
//     "operators": [ { "operatorId": "<32 hex>", "uid": "count" | null, "name": "Count",
//         "parallelism": 2, "maxParallelism": 128,
//         "subtasks": [ { "index": 0, "keyGroups": [0, 63] | null,
//             "keyed": Handle | null, "operator": Handle | null, "timers": Handle | null, "sink": Handle | null,
//             "states": [ { "name": "count", "kind": "value", "scope": "keyed", "entries": 123,
//                           "serializer": "weir-cbor", "version": 1 } ] } ] } ],
//   (serializer and version are optional on read: snapshots of weir 0.1.0 before schema
//   evolution lack them, meaning "weir-cbor" and 1)
//     "extra": {},
//     "checksum": "crc32:<8 hex digits>" }
//   Handle = { "path": "op-<id8>-<subtask>-keyed.state", "size": 1234, "crc32": 305419896,
//              "sections": [[id, offset, length, crc32], …] }
//
// `checksum` is the crc32 of the document without it, serialized by JSON.stringify with an
// indent of 1 (which is also how it is written), so a damaged digit that still parses is caught.
// Decoding checks every field, so a damaged or foreign file is named, never trusted.
import { crc32 } from './crc32.js';

export const METADATA_FORMAT = 'weir-snapshot';
/** The version this weir writes. */
export const METADATA_VERSION = 3;
/** The versions this weir reads. */
const READABLE_VERSIONS: readonly number[] = [1, 2, 3];

/** [section id, offset, length, crc32] */
export type SectionEntry = [number, number, number, number];

export interface StateHandle {
  /** Relative to the snapshot folder. */
  path: string;
  size: number;
  /** Of the whole file. */
  crc32: number;
  sections: SectionEntry[];
}

export interface SubtaskStateEntry {
  name: string;
  kind: string;
  scope: 'keyed' | 'operator';
  /** How operator list state is redistributed. */
  mode?: 'split' | 'union' | 'broadcast';
  entries: number;
  /** Serializer id of the stored values; absent in older snapshots, meaning "weir-cbor". */
  serializer?: string;
  /** Schema version of the stored values; absent in older snapshots, meaning 1. */
  version?: number;
}

export interface SubtaskMetadata {
  index: number;
  /** [first, last] key group, for keyed operators. */
  keyGroups: [number, number] | null;
  keyed: StateHandle | null;
  operator: StateHandle | null;
  timers: StateHandle | null;
  sink: StateHandle | null;
  states: SubtaskStateEntry[];
}

export interface OperatorMetadata {
  /** 32 lowercase hex digits. */
  operatorId: string;
  uid: string | null;
  name: string;
  parallelism: number;
  maxParallelism: number;
  subtasks: SubtaskMetadata[];
}

export interface SnapshotMetadata {
  format: typeof METADATA_FORMAT;
  version: 1 | 2 | 3;
  weirVersion: string;
  kind: 'checkpoint' | 'savepoint';
  id: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  jobId: string;
  jobName: string;
  operators: OperatorMetadata[];
  extra: Record<string, unknown>;
}

/** `_metadata` that cannot be trusted: not JSON, another format or version, or a bad field. */
export class CorruptMetadataError extends Error {
  override readonly name = 'CorruptMetadataError';
  constructor(
    /** The file (or whatever `where` named). */
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

const HANDLE_KINDS = ['keyed', 'operator', 'timers', 'sink'] as const;
/** Key groups (and so max parallelism) fit in u16 section ids with room; weir allows up to 32768. */
const MAX_PARALLELISM_LIMIT = 32768;
const U32_MAX = 0xffffffff;
/** Every state file begins with a 12-byte header; a section cannot start before it. */
const STATE_FILE_HEADER_BYTES = 12;

/** The document as JSON with its checksum. Checks it first: an unreadable snapshot is never written. */
export function encodeMetadata(m: SnapshotMetadata): Uint8Array {
  const { checksum: _ignored, ...doc } = m as SnapshotMetadata & { checksum?: unknown };
  // One serialization serves the check, the checksum and the file: the file is the checksummed
  // text with `checksum` added as its last member (what JSON.stringify of the whole would write).
  const text = JSON.stringify(doc, null, 1);
  validate(
    JSON.parse(text) as unknown,
    (problem) => new Error(`internal: cannot write _metadata: ${problem}`),
  );
  return Buffer.from(`${text.slice(0, -2)},\n "checksum": "${checksumOfText(text)}"\n}\n`, 'utf8');
}

/** The checksum of a document serialized (without `checksum`) as JSON.stringify(doc, null, 1). */
function checksumOfText(text: string): string {
  return `crc32:${crc32(Buffer.from(text, 'utf8')).toString(16).padStart(8, '0')}`;
}

function checksumOf(doc: object): string {
  return checksumOfText(JSON.stringify(doc, null, 1));
}

/** Parses and checks `_metadata`; `where` (its path) is named in every error. */
export function decodeMetadata(bytes: Uint8Array, where: string): SnapshotMetadata {
  const bad = (problem: string): CorruptMetadataError => new CorruptMetadataError(where, problem);
  if (bytes.length === 0) throw bad('empty file (not a weir snapshot, or its write was cut short)');
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw bad('not valid JSON (damaged, or not a weir snapshot)');
  }
  const o = obj(doc, 'the document', bad);
  // Format and version first: another version may checksum differently, or not at all.
  if (o.format !== METADATA_FORMAT)
    throw bad(`not a weir snapshot (format is ${JSON.stringify(o.format) ?? 'missing'})`);
  if (typeof o.version !== 'number' || !READABLE_VERSIONS.includes(o.version))
    throw bad(
      `unsupported format version ${JSON.stringify(o.version) ?? '(missing)'} (this weir reads versions ${READABLE_VERSIONS.slice(0, -1).join(', ')} and ${READABLE_VERSIONS.at(-1)})`,
    );
  const { checksum, ...rest } = o;
  if (typeof checksum !== 'string') throw bad('no checksum (damaged, or not written by weir)');
  if (checksum !== checksumOf(rest)) throw bad('checksum mismatch (the file is damaged or was edited)');
  return validate(rest, bad);
}

type Bad = (problem: string) => Error;

/** Checks every field of a parsed document (without its checksum) and returns it typed. */
function validate(doc: unknown, bad: Bad): SnapshotMetadata {
  const o = obj(doc, 'the document', bad);
  if (o.format !== METADATA_FORMAT) throw bad(`format must be ${JSON.stringify(METADATA_FORMAT)}`);
  if (typeof o.version !== 'number' || !READABLE_VERSIONS.includes(o.version))
    throw bad(`version must be one of ${READABLE_VERSIONS.join(', ')}`);
  str(o.weirVersion, 'weirVersion', bad);
  if (o.kind !== 'checkpoint' && o.kind !== 'savepoint')
    throw bad('kind must be "checkpoint" or "savepoint"');
  int(o.id, 'id', bad);
  int(o.timestamp, 'timestamp', bad);
  str(o.jobId, 'jobId', bad);
  str(o.jobName, 'jobName', bad);
  obj(o.extra, 'extra', bad);
  const seenOperators = new Set<string>();
  arr(o.operators, 'operators', bad).forEach((opv, i) => {
    const at = `operators[${i}]`;
    const op = obj(opv, at, bad);
    const id = str(op.operatorId, `${at}.operatorId`, bad);
    if (!/^[0-9a-f]{32}$/.test(id)) throw bad(`${at}.operatorId must be 32 lowercase hex digits`);
    if (seenOperators.has(id)) throw bad(`${at}.operatorId ${id} appears twice`);
    seenOperators.add(id);
    if (op.uid !== null) str(op.uid, `${at}.uid`, bad);
    str(op.name, `${at}.name`, bad);
    const p = int(op.parallelism, `${at}.parallelism`, bad);
    const maxP = int(op.maxParallelism, `${at}.maxParallelism`, bad);
    if (p < 1) throw bad(`${at}.parallelism must be at least 1`);
    if (maxP < 1 || maxP > MAX_PARALLELISM_LIMIT)
      throw bad(`${at}.maxParallelism must be between 1 and ${MAX_PARALLELISM_LIMIT}`);
    const seenSubtasks = new Set<number>();
    arr(op.subtasks, `${at}.subtasks`, bad).forEach((sv, j) => {
      const sat = `${at}.subtasks[${j}]`;
      const s = obj(sv, sat, bad);
      const index = int(s.index, `${sat}.index`, bad);
      if (index >= p) throw bad(`${sat}.index ${index} is not below the parallelism ${p}`);
      if (seenSubtasks.has(index)) throw bad(`${sat}.index ${index} appears twice`);
      seenSubtasks.add(index);
      let range: [number, number] | undefined;
      if (s.keyGroups !== null) {
        const kg = arr(s.keyGroups, `${sat}.keyGroups`, bad);
        if (kg.length !== 2) throw bad(`${sat}.keyGroups must be [first, last] or null`);
        const a = int(kg[0], `${sat}.keyGroups[0]`, bad);
        const b = int(kg[1], `${sat}.keyGroups[1]`, bad);
        if (a > b + 1 || b >= maxP)
          throw bad(`${sat}.keyGroups [${a}, ${b}] is not a range within 0..${maxP - 1}`);
        range = [a, b];
      }
      for (const h of HANDLE_KINDS) {
        if (!(h in s)) throw bad(`${sat}.${h} is missing (null when there is no such state)`);
        if (s[h] !== null) handle(s[h], `${sat}.${h}`, bad);
      }
      // Keyed state and timers are stored by key group: every section inside the subtask's range.
      for (const h of ['keyed', 'timers'] as const) {
        if (s[h] === null) continue;
        if (range === undefined)
          throw bad(`${sat} has ${h === 'keyed' ? 'keyed state' : 'timers'} but no keyGroups`);
        for (const [id] of (s[h] as { sections: SectionEntry[] }).sections)
          if (id < range[0] || id > range[1])
            throw bad(
              `${sat}.${h} has a section for key group ${id}, outside its keyGroups [${range[0]}, ${range[1]}]`,
            );
      }
      arr(s.states, `${sat}.states`, bad).forEach((stv, k) => {
        const kat = `${sat}.states[${k}]`;
        const st = obj(stv, kat, bad);
        str(st.name, `${kat}.name`, bad);
        str(st.kind, `${kat}.kind`, bad);
        if (st.scope !== 'keyed' && st.scope !== 'operator')
          throw bad(`${kat}.scope must be "keyed" or "operator"`);
        if (st.mode !== undefined && st.mode !== 'split' && st.mode !== 'union' && st.mode !== 'broadcast')
          throw bad(`${kat}.mode must be "split", "union" or "broadcast" when given`);
        int(st.entries, `${kat}.entries`, bad);
        if (st.serializer !== undefined) str(st.serializer, `${kat}.serializer`, bad);
        if (st.version !== undefined && int(st.version, `${kat}.version`, bad) < 1)
          throw bad(`${kat}.version must be at least 1`);
      });
    });
  });
  return o as unknown as SnapshotMetadata;
}

function obj(v: unknown, at: string, bad: Bad): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(`${at} must be an object`);
  return v as Record<string, unknown>;
}
function arr(v: unknown, at: string, bad: Bad): unknown[] {
  if (!Array.isArray(v)) throw bad(`${at} must be an array`);
  return v;
}
function str(v: unknown, at: string, bad: Bad): string {
  if (typeof v !== 'string' || v.length === 0) throw bad(`${at} must be a non-empty string`);
  return v;
}
function int(v: unknown, at: string, bad: Bad, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max)
    throw bad(`${at} must be an integer from 0 to ${max}`);
  return v;
}

/** A path relative to the snapshot folder that stays inside it, the same on every platform. */
export function isPortableRelativePath(path: string): boolean {
  if (path.length === 0 || path.includes('\\') || path.includes('\0') || path.startsWith('/')) return false;
  const parts = path.split('/');
  if (parts[0]!.includes(':')) return false; // a drive letter (C:) or a URL (s3://…)
  return parts.every((p) => p !== '' && p !== '.' && p !== '..');
}

function handle(v: unknown, at: string, bad: Bad): void {
  const h = obj(v, at, bad);
  const path = str(h.path, `${at}.path`, bad);
  if (!isPortableRelativePath(path))
    throw bad(`${at}.path is not a relative path inside the snapshot folder (${JSON.stringify(path)})`);
  const size = int(h.size, `${at}.size`, bad);
  int(h.crc32, `${at}.crc32`, bad, U32_MAX);
  let prev = -1;
  arr(h.sections, `${at}.sections`, bad).forEach((sv, i) => {
    const sat = `${at}.sections[${i}]`;
    const s = arr(sv, sat, bad);
    if (s.length !== 4) throw bad(`${sat} must be [id, offset, length, crc32]`);
    const id = int(s[0], `${sat}[0] (id)`, bad, U32_MAX);
    const offset = int(s[1], `${sat}[1] (offset)`, bad);
    const length = int(s[2], `${sat}[2] (length)`, bad, U32_MAX);
    int(s[3], `${sat}[3] (crc32)`, bad, U32_MAX);
    if (id <= prev) throw bad(`${sat}: section ids must increase (${id} after ${prev})`);
    prev = id;
    if (offset < STATE_FILE_HEADER_BYTES || offset + length > size)
      throw bad(`${sat}: bytes ${offset}..${offset + length} are not inside the file of ${size} bytes`);
  });
}
