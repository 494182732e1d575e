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
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.version !== version || typeof o.jobName !== 'string') return undefined;
  return o as Record<string, unknown> & { jobName: string };
}

/**
 * The job a record names, whatever its version or other fields: enough to tell that a record
 * this weir cannot read belongs to another job and is none of its business.
 */
export function recordJobName(bytes: Uint8Array): string | undefined {
  try {
    const v: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (typeof v !== 'object' || v === null) return undefined;
    const name = (v as Record<string, unknown>).jobName;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}
