// The job records (`_ended`, `_committed`) decide whether `--resume` starts a job over, so damage
// to one must never make it read as a different, valid record.
import { describe, expect, it } from 'vitest';
import {
  decodeJobCommit,
  encodeJobCommit,
  type JobCommitRecord,
} from '../../src/checkpoint/job-commit-record.js';
import { decodeJobEnd, encodeJobEnd, type JobEndRecord } from '../../src/checkpoint/job-end-record.js';
import { recordJobName } from '../../src/checkpoint/job-record-json.js';

const END: JobEndRecord = {
  jobName: 'word-count',
  outcome: 'finished',
  endedAt: 1_764_400_000_123,
  from: '/sp/savepoint-1',
};
const COMMIT: JobCommitRecord = {
  jobName: 'wörd-count ✓',
  checkpoint: 12,
  at: 1_764_400_000_456,
  savepoint: '/sp/savepoint-2',
};

describe('job records', () => {
  it('round-trip, with their checksum last on one line', () => {
    const end = encodeJobEnd(END);
    expect(decodeJobEnd(end)).toEqual(END);
    expect(new TextDecoder().decode(end)).toMatch(
      /^\{"version":1,"jobName":"word-count",.*,"crc32":"[0-9a-f]{8}"\}\n$/,
    );
    expect(decodeJobCommit(encodeJobCommit(COMMIT))).toEqual(COMMIT);
    expect(recordJobName(encodeJobCommit(COMMIT))).toBe(COMMIT.jobName);
  });

  it('read records written without a checksum, as before it existed', () => {
    const old = new TextEncoder().encode(
      '{"version":1,"jobName":"j","outcome":"stopped","endedAt":5,"savepoint":"/s"}\n',
    );
    expect(decodeJobEnd(old)).toEqual({ jobName: 'j', outcome: 'stopped', endedAt: 5, savepoint: '/s' });
    const commit = new TextEncoder().encode('{"version":1,"jobName":"j","checkpoint":3,"at":7}');
    expect(decodeJobCommit(commit)).toEqual({ jobName: 'j', checkpoint: 3, at: 7 });
  });

  it.each([
    ['_ended', encodeJobEnd(END), decodeJobEnd, END],
    ['_committed', encodeJobCommit(COMMIT), decodeJobCommit, COMMIT],
  ] as const)('never read a damaged %s as another record', (_name, bytes, decode, original) => {
    let damaged = 0;
    for (let i = 0; i < bytes.length; i++)
      for (const bit of [0x01, 0x02, 0x10, 0x20, 0x40, 0x80]) {
        const b = Uint8Array.from(bytes);
        b[i]! ^= bit;
        const r = decode(b);
        const name = recordJobName(b);
        // Either the content survived (the flip hit the checksum field itself) or nothing is read.
        if (r !== undefined) expect(r).toEqual(original);
        if (name !== undefined) expect(name).toBe(original.jobName);
        if (r === undefined && name === undefined) damaged++;
      }
    expect(damaged).toBeGreaterThan(bytes.length * 4);
  });
});
