// The shape every record in a job's checkpoint folder shares (`_ended`, `_committed`): one line of
// JSON, a version, and the job's name; each record checks its own fields on top.
//
// The line ends in the CRC-32 of the rest (`"crc32":"<8 hex digits>"`, the last field). These
// records decide whether `--resume` starts a job over: a bit flipped inside the job name would
// otherwise make a finished job's `_ended` look like another job's, and the job would run again,
// writing its output twice. A record without the field (written before it existed) is read as it
// was; one whose checksum does not match is damaged, and names no job.
import { crc32 } from '../storage/crc32.js';

const CHECKSUM = /,"crc32":"([0-9a-f]{8})"\}\s*$/;

export function encodeJobRecord(version: number, record: { readonly jobName: string }): Uint8Array {
  const body = JSON.stringify({ version, ...record });
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
 * damaged record, which could be anyone's.
 */
export function recordJobName(bytes: Uint8Array): string | undefined {
  const name = parseObject(bytes)?.jobName;
  return typeof name === 'string' ? name : undefined;
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
  delete o.crc32;
  return o;
}

function checksum(body: string): number {
  return crc32(new TextEncoder().encode(body));
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
