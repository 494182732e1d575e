// The job records (`_ended`, `_committed`) decide whether `--resume` starts a job over, so damage
// to one must never make it read as a different, valid record.
import { describe, expect, it } from 'vitest';
import {
  decodeJobCommit,
  encodeJobCommit,
  type JobCommitRecord,
} from '../../src/checkpoint/job-commit-record.js';
import { decodeJobEnd, encodeJobEnd, type JobEndRecord } from '../../src/checkpoint/job-end-record.js';
import { mayBelongTo, recordJobName } from '../../src/checkpoint/job-record-json.js';

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

  it('read a line without a checksum only when it holds nothing but the fields of records before it', () => {
    const line = (s: string): Uint8Array => new TextEncoder().encode(s);
    // A checksum field damaged (the line no longer ends as one): not an unchecked record.
    expect(
      decodeJobEnd(line('{"version":1,"jobName":"j","outcome":"finished","endedAt":5,"brc32":"0badf00d"}\n')),
    ).toBeUndefined();
    expect(
      decodeJobEnd(line('{"version":1,"jobName":"j","outcome":"finished","endedAt":5,"crc32":"0BADF00D"}\n')),
    ).toBeUndefined();
    expect(
      recordJobName(line('{"version":1,"jobName":"j","outcome":"finished","endedAt":5,"crc32":"0BADF00D"}')),
    ).toBeUndefined();
  });

  it.each([
    ['_ended', encodeJobEnd(END), decodeJobEnd, END],
    ['_committed', encodeJobCommit(COMMIT), decodeJobCommit, COMMIT],
  ] as const)(
    'never read a %s damaged in its name and its checksum field as another record',
    (_n, bytes, decode, original) => {
      const text = new TextDecoder().decode(bytes);
      const nameAt = new TextEncoder().encode(text.slice(0, text.indexOf('"jobName":') + 11)).length;
      const sumAt = new TextEncoder().encode(text.slice(0, text.indexOf(',"crc32"'))).length;
      let tried = 0;
      for (let i = nameAt; i < nameAt + 4; i++)
        for (let j = sumAt; j < bytes.length; j++)
          for (const [a, b] of [
            [0x01, 0x01],
            [0x20, 0x20],
            [0x02, 0x40],
            [0x10, 0x80],
          ] as const) {
            const d = Uint8Array.from(bytes);
            d[i]! ^= a;
            d[j]! ^= b;
            const r = decode(d);
            if (r !== undefined) expect(r).toEqual(original);
            const name = recordJobName(d);
            if (name !== undefined) expect(name).toBe(original.jobName);
            tried++;
          }
      expect(tried).toBeGreaterThan(300);
    },
  );

  it("tell whether a damaged record could be a given job's", () => {
    const own = encodeJobEnd({ jobName: 'ends', outcome: 'finished', endedAt: 1 });
    for (let i = 0; i < own.length; i++) {
      const d = Uint8Array.from(own);
      d[i]! ^= 0x04;
      expect(mayBelongTo(d, 'ends')).toBe(true);
    }
    const other = Uint8Array.from(encodeJobEnd({ jobName: 'other', outcome: 'cancelled', endedAt: 1 }));
    other[other.length - 5]! ^= 0x01;
    expect(recordJobName(other)).toBeUndefined();
    expect(mayBelongTo(other, 'ends')).toBe(false);
    expect(mayBelongTo(other, 'other')).toBe(true);
    // One byte apart: could be either's.
    expect(mayBelongTo(other, 'otter')).toBe(true);
    expect(mayBelongTo(new TextEncoder().encode('{"version":1,"jo'), 'other')).toBe(true);
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
