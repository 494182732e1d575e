// The shape every record in a job's checkpoint folder shares (`_ended`, `_committed`): one line of
// JSON, a version, and the job's name; each record checks its own fields on top.
//
// The line ends in the CRC-32 of the rest (`"crc32":"<8 hex digits>"`, the last field), so damage
// is found instead of read as some other record. A line without the field was written by a weir
// from before it (read as it was) — but only when it holds nothing that weir did not write: a
// damaged checksum field must not turn a damaged line into an unchecked one. A damaged record
// names no job for sure; `mayBelongTo` tells whether it could be a given job's.
import { crc32 } from '../storage/crc32.js';

const CHECKSUM = /,"crc32":"([0-9a-f]{8})"\}\s*$/;
/** The fields of every record written before records had a checksum. */
const UNCHECKED_FIELDS = new Set([
  'version',
  'jobName',
  'outcome',
  'endedAt',
  'savepoint',
  'checkpoint',
  'at',
  'from',
]);

export function encodeJobRecord(version: number, record: { readonly jobName: string }): Uint8Array {
  // The job's name right after the version: see mayBelongTo.
  const { jobName, ...rest } = record;
  const body = JSON.stringify({ version, jobName, ...rest });
  return new TextEncoder().encode(`${body.slice(0, -1)},"crc32":"${hex(checksum(body))}"}\n`);
}

/** The record's fields, or undefined when the bytes are not a record of `version` naming a job. */
export function parseJobRecord(
  bytes: Uint8Array,
  version: number,
): (Record<string, unknown> & { jobName: string }) | undefined {
  const o = parseObject(bytes);
  if (o === undefined || o.version !== version || typeof o.jobName !== 'string') return undefined;
  return o as Record<string, unknown> & { jobName: string };
}

/**
 * The job a record names, whatever its version or other fields: enough to tell that a record
 * this weir cannot read belongs to another job and is none of its business. Undefined for a
 * damaged record, which could be anyone's (but see mayBelongTo).
 */
export function recordJobName(bytes: Uint8Array): string | undefined {
  const name = parseObject(bytes)?.jobName;
  return typeof name === 'string' ? name : undefined;
}

/**
 * Whether a record that cannot be read could be one of job `jobName`'s: whether it begins, but
 * for at most one byte, as a record of that job begins (`{"version":1,"jobName":"<name>",`).
 * Damage to one byte cannot make a record of one job begin as another's whose name differs in
 * two bytes or in length, so such a damaged record is another job's business; one too short to
 * tell could be anyone's.
 */
export function mayBelongTo(bytes: Uint8Array, jobName: string): boolean {
  const head = new TextEncoder().encode(`{"version":1,"jobName":${JSON.stringify(jobName)},`);
  if (bytes.length < head.length) return true;
  let differ = 0;
  for (let i = 0; i < head.length; i++) if (bytes[i] !== head[i]) differ++;
  return differ <= 1;
}

function parseObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  const text = new TextDecoder().decode(bytes);
  const sum = CHECKSUM.exec(text);
  // Bytes that are not UTF-8 decode to replacement characters, which encode differently: a mismatch.
  if (sum !== null && hex(checksum(`${text.slice(0, sum.index)}}`)) !== sum[1]) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  if (sum === null && Object.keys(o).some((k) => !UNCHECKED_FIELDS.has(k))) return undefined;
  delete o.crc32;
  return o;
}

function checksum(body: string): number {
  return crc32(new TextEncoder().encode(body));
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
