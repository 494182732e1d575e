// Which failures `weir run` reports as an unusable snapshot (exit 2, one line naming the file)
// rather than as a job that failed (exit 1). Restored state that passed the restore's checks but
// does not decode once the job runs fails the job for good when there is nothing to fall back to
// (test/cluster/undecodable-restore.test.ts); it is still the snapshot's fault, not the job's.
import { describe, expect, it } from 'vitest';
import { RestoredStateError, StateFormatError } from '../../src/checkpoint/state-serialization.js';
import { describeError } from '../../src/cli/errors.js';
import { isRestoreProblem } from '../../src/cli/run-command.js';
import { FileSinkError, PendingFileLostError } from '../../src/connectors/file-sink.js';
import { CheckpointStorageUnusableError } from '../../src/storage/checkpoint-storage.js';

describe('restore problems', () => {
  it('counts restored state that does not decode as one, and says it in one line without the class name', () => {
    const e = new RestoredStateError(
      'file:///sp',
      'sp (uid x), op-1-0-keyed.state: key group 3: malformed value',
    );
    expect(isRestoreProblem(e)).toBe(true);
    expect(describeError(e)).toBe(
      'sp (uid x), op-1-0-keyed.state: key group 3: malformed value; these bytes match their checksums, so the snapshot was written with them (a fault of the weir that wrote it): start from another checkpoint or savepoint',
    );
    expect(isRestoreProblem(new StateFormatError('k.state: key group 3 has a malformed state header'))).toBe(
      true,
    );
    expect(isRestoreProblem(new Error('a user function threw'))).toBe(false);
  });

  it('counts output a restored checkpoint left pending and lost as one, in one line; other sink failures not', () => {
    const e = new PendingFileLostError(
      'file sink: /out/.part-x.pending, pending for checkpoint 3, is missing',
    );
    expect(isRestoreProblem(e)).toBe(true);
    expect(describeError(e)).toBe('file sink: /out/.part-x.pending, pending for checkpoint 3, is missing');
    expect(isRestoreProblem(new FileSinkError('file sink: cannot write /out/x'))).toBe(false);
    expect(describeError(new CheckpointStorageUnusableError('checkpoint directory /x cannot be used'))).toBe(
      'checkpoint directory /x cannot be used',
    );
  });
});
