// The shape every record in a job's checkpoint folder shares (`_ended`, `_committed`): one line of
// JSON, a version, and the job's name; each record checks its own fields on top.

export function encodeJobRecord(version: number, record: { readonly jobName: string }): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify({ version, ...record })}\n`);
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
 * this weir cannot read belongs to another job and is none of its business.
 */
export function recordJobName(bytes: Uint8Array): string | undefined {
  const name = parseObject(bytes)?.jobName;
  return typeof name === 'string' ? name : undefined;
}

function parseObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : undefined;
}
