// The `_metadata` document of a checkpoint or savepoint, format version 1 (ARCHITECTURE.md §8,
// docs/savepoint-format.md): small JSON naming, per operator and subtask, the data files that
// hold its state — relative paths only, so a snapshot folder can be moved — with sizes and
// checksums. Decoding checks every field, so a damaged or foreign file is named, not trusted.

import { crc32 } from 'node:zlib';

export const METADATA_FORMAT = 'weir-snapshot';
export const METADATA_VERSION = 1;

/** [section id, offset, length, crc32] */
export type SectionEntry = [number, number, number, number];

export interface StateHandle {
  /** Relative to the snapshot folder. */
  path: string;
  size: number;
  crc32: number;
  sections: SectionEntry[];
}

export interface SubtaskStateEntry {
  name: string;
  kind: string;
  scope: 'keyed' | 'operator';
  mode?: 'split' | 'union';
  entries: number;
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
  operatorId: string;
  uid: string | null;
  name: string;
  parallelism: number;
  maxParallelism: number;
  subtasks: SubtaskMetadata[];
}

export interface SnapshotMetadata {
  format: typeof METADATA_FORMAT;
  version: typeof METADATA_VERSION;
  weirVersion: string;
  kind: 'checkpoint' | 'savepoint';
  id: number;
  timestamp: number;
  jobId: string;
  jobName: string;
  operators: OperatorMetadata[];
  extra: Record<string, unknown>;
}

export class CorruptMetadataError extends Error {
  override readonly name = 'CorruptMetadataError';
}

/**
 * The document as JSON, with a last field `checksum`: "crc32:<8 hex digits>" of the document
 * serialized without that field (JSON.stringify with an indent of 1), so that a damaged digit
 * that still parses is caught too.
 */
export function encodeMetadata(m: SnapshotMetadata): Uint8Array {
  const { checksum: _ignored, ...doc } = m as SnapshotMetadata & { checksum?: unknown };
  return Buffer.from(JSON.stringify({ ...doc, checksum: checksumOf(doc) }, null, 1) + '\n', 'utf8');
}

function checksumOf(doc: object): string {
  return `crc32:${crc32(JSON.stringify(doc, null, 1))
    .toString(16)
    .padStart(8, '0')}`;
}

/** Parses and checks `_metadata`; `where` (its path) is named in every error. */
export function decodeMetadata(bytes: Uint8Array, where: string): SnapshotMetadata {
  const bad = (what: string): CorruptMetadataError => new CorruptMetadataError(`${where}: ${what}`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw bad('not valid JSON (damaged or not a weir snapshot)');
  }
  const o = obj(doc, 'the document', bad);
  const { checksum, ...rest } = o;
  if (typeof checksum !== 'string') throw bad('no checksum (damaged or not a weir snapshot)');
  if (checksum !== checksumOf(rest)) throw bad('checksum mismatch (the file is damaged)');
  doc = rest;
  if (o.format !== METADATA_FORMAT) throw bad(`not a weir snapshot (format is ${JSON.stringify(o.format)})`);
  if (o.version !== METADATA_VERSION)
    throw bad(
      `unsupported format version ${JSON.stringify(o.version)} (this weir reads version ${METADATA_VERSION})`,
    );
  str(o.weirVersion, 'weirVersion', bad);
  if (o.kind !== 'checkpoint' && o.kind !== 'savepoint') throw bad('kind must be checkpoint or savepoint');
  int(o.id, 'id', bad);
  int(o.timestamp, 'timestamp', bad);
  str(o.jobId, 'jobId', bad);
  str(o.jobName, 'jobName', bad);
  obj(o.extra, 'extra', bad);
  const ops = arr(o.operators, 'operators', bad);
  ops.forEach((opv, i) => {
    const at = `operators[${i}]`;
    const op = obj(opv, at, bad);
    str(op.operatorId, `${at}.operatorId`, bad);
    if (op.uid !== null) str(op.uid, `${at}.uid`, bad);
    str(op.name, `${at}.name`, bad);
    const p = int(op.parallelism, `${at}.parallelism`, bad);
    const maxP = int(op.maxParallelism, `${at}.maxParallelism`, bad);
    if (p < 1 || maxP < 1) throw bad(`${at}: parallelism and max parallelism must be positive`);
    arr(op.subtasks, `${at}.subtasks`, bad).forEach((sv, j) => {
      const sat = `${at}.subtasks[${j}]`;
      const s = obj(sv, sat, bad);
      const index = int(s.index, `${sat}.index`, bad);
      if (index >= p) throw bad(`${sat}.index ${index} is not below the parallelism ${p}`);
      if (s.keyGroups !== null) {
        const kg = arr(s.keyGroups, `${sat}.keyGroups`, bad);
        if (kg.length !== 2) throw bad(`${sat}.keyGroups must be [first, last]`);
        const a = int(kg[0], `${sat}.keyGroups[0]`, bad);
        const b = int(kg[1], `${sat}.keyGroups[1]`, bad);
        if (b < a - 1 || b >= maxP) throw bad(`${sat}.keyGroups [${a}, ${b}] is outside 0..${maxP - 1}`);
      }
      for (const h of ['keyed', 'operator', 'timers', 'sink'] as const)
        if (s[h] !== null) handle(s[h], `${sat}.${h}`, bad);
      arr(s.states, `${sat}.states`, bad).forEach((stv, k) => {
        const st = obj(stv, `${sat}.states[${k}]`, bad);
        str(st.name, `${sat}.states[${k}].name`, bad);
        str(st.kind, `${sat}.states[${k}].kind`, bad);
        if (st.scope !== 'keyed' && st.scope !== 'operator')
          throw bad(`${sat}.states[${k}].scope must be keyed or operator`);
        int(st.entries, `${sat}.states[${k}].entries`, bad);
      });
    });
  });
  return doc as SnapshotMetadata;
}

type Bad = (what: string) => CorruptMetadataError;

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
function int(v: unknown, at: string, bad: Bad): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw bad(`${at} must be a non-negative integer`);
  return v;
}
function handle(v: unknown, at: string, bad: Bad): void {
  const h = obj(v, at, bad);
  const path = str(h.path, `${at}.path`, bad);
  if (
    path.startsWith('/') ||
    path.startsWith('\\') ||
    /^[a-zA-Z]:/.test(path) ||
    path.split(/[\\/]/).includes('..')
  )
    throw bad(`${at}.path is not a relative path inside the snapshot folder`);
  int(h.size, `${at}.size`, bad);
  int(h.crc32, `${at}.crc32`, bad);
  arr(h.sections, `${at}.sections`, bad).forEach((sv, i) => {
    const s = arr(sv, `${at}.sections[${i}]`, bad);
    if (s.length !== 4) throw bad(`${at}.sections[${i}] must be [id, offset, length, crc32]`);
    s.forEach((x, k) => int(x, `${at}.sections[${i}][${k}]`, bad));
  });
}
