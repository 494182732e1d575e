// Tests that delay, refuse or hold a job record (`_committed`, `_ended`) route its write through
// here: `route` sees the record's name and text, and calls `write()` to let it through.
import { vi } from 'vitest';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import type { JobRecordName } from '../../src/storage/checkpoint-storage.js';

export interface RecordWrite {
  readonly name: JobRecordName;
  readonly text: string;
  /** Writes the record as the storage would. */
  write(): Promise<void>;
}

/** Until `mockRestore()`, every FsCheckpointStorage.writeJobRecord goes through `route`. */
export function routeRecordWrites(route: (w: RecordWrite) => Promise<void>): { mockRestore(): void } {
  const original = FsCheckpointStorage.prototype.writeJobRecord;
  return vi.spyOn(FsCheckpointStorage.prototype, 'writeJobRecord').mockImplementation(function (
    this: FsCheckpointStorage,
    jobId,
    name,
    bytes,
  ) {
    return route({
      name,
      text: new TextDecoder().decode(bytes),
      write: () => original.call(this, jobId, name, bytes),
    });
  });
}

/** `write()` after `ms`. */
export function writeAfter(ms: number, w: RecordWrite): Promise<void> {
  return new Promise((r) => setTimeout(r, ms)).then(() => w.write());
}
