// That a job completed a checkpoint, kept in its checkpoint folder from its first completed
// checkpoint on. Checkpoint folders alone cannot tell a checkpoint whose `_metadata` was deleted
// or lost from one that never completed (a crash before `_metadata`): without this record, a
// `--resume` after losing the only complete checkpoint would find none and start from the
// beginning, committing output the lost checkpoint had committed a second time.

export interface JobCheckpointedRecord {
  readonly jobName: string;
  /** The first checkpoint this run of the job completed. */
  readonly checkpoint: number;
  /** Milliseconds since the epoch. */
  readonly at: number;
}

const VERSION = 1;

export function encodeJobCheckpointed(r: JobCheckpointedRecord): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify({ version: VERSION, ...r })}\n`);
}

/** The record, or undefined when the bytes are not one this version of weir wrote. */
export function decodeJobCheckpointed(bytes: Uint8Array): JobCheckpointedRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (o.version !== VERSION || typeof o.jobName !== 'string') return undefined;
  if (!Number.isSafeInteger(o.checkpoint) || typeof o.at !== 'number') return undefined;
  return { jobName: o.jobName, checkpoint: o.checkpoint as number, at: o.at };
}
