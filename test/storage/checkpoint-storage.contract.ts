// The contract every checkpoint storage must meet (the filesystem one today, an object store
// next): call `checkpointStorageContract(name, make)` from a test file. Each test gets a fresh,
// empty storage from `make` and calls `cleanup` at its end.
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  JOB_COMMITTED_FILE,
  JOB_END_FILE,
  JobRunningError,
  SnapshotAlreadyCompleteError,
  SnapshotNotFoundError,
  type CheckpointStorage,
  type SnapshotLocation,
} from '../../src/storage/checkpoint-storage.js';
import {
  CorruptStateFileError,
  STATE_FILE_KEYED,
  STATE_FILE_OPERATOR,
  StateFileReader,
  type StateFileInfo,
} from '../../src/storage/state-file.js';

export interface StorageFixture {
  /** A storage over an empty root. */
  storage: CheckpointStorage;
  /** Where savepoints may be written (a folder, or a URL prefix). */
  savepointDir: string;
  /** Copies a snapshot folder elsewhere, as a user moving a savepoint would; returns its new path. */
  copy(uri: string): Promise<string>;
  /** Damages one byte of a file of a snapshot, out of band. */
  flipByte(uri: string, relativePath: string, offset: number): Promise<void>;
  cleanup(): Promise<void>;
}

/** Writes a state file with the given sections (id → payload) and returns its handle. */
async function writeFile(
  storage: CheckpointStorage,
  loc: SnapshotLocation,
  name: string,
  sections: ReadonlyArray<[number, Uint8Array]>,
  kind = STATE_FILE_OPERATOR,
): Promise<StateFileInfo> {
  const w = storage.createStateFile(loc, name, kind);
  for (const [id, payload] of sections) {
    w.beginSection(id);
    const half = payload.length >> 1;
    await w.write(payload.subarray(0, half));
    await w.write(payload.subarray(half));
    w.endSection();
  }
  return w.close();
}

const text = (b: Uint8Array | undefined): string | undefined =>
  b === undefined ? undefined : Buffer.from(b).toString('utf8');

export function checkpointStorageContract(name: string, make: () => Promise<StorageFixture>): void {
  describe(`checkpoint storage contract: ${name}`, () => {
    async function withStorage(test: (f: StorageFixture) => Promise<void>): Promise<void> {
      const f = await make();
      try {
        await test(f);
      } finally {
        await f.cleanup();
      }
    }

    it('names checkpoint folders <job-id>/chk-<n> and creates nothing before a write', () =>
      withStorage(async ({ storage: s }) => {
        const a = s.checkpointLocation('job-a', 7);
        expect(a.uri).toMatch(/job-a\/chk-7$/);
        expect(s.checkpointLocation('job-a', 7).uri).toBe(a.uri);
        expect(s.checkpointLocation('job-a', 8).uri).not.toBe(a.uri);
        expect(s.description.length).toBeGreaterThan(0);
        expect(await s.listJobs()).toEqual([]);
        expect(await s.listCheckpoints('job-a')).toEqual([]);
        expect(await s.readMetadata(a)).toBeUndefined();
      }));

    it('passes checkUsable on a fresh root, which leaves nothing behind and stays usable', () =>
      withStorage(async ({ storage: s }) => {
        await s.checkUsable();
        await s.checkUsable();
        expect(await s.listJobs()).toEqual([]);
        const loc = s.checkpointLocation('job-a', 1);
        const info = await writeFile(s, loc, 'op-1-operator.state', [[0, Buffer.from('state')]]);
        await s.writeMetadata(loc, Buffer.from('meta'));
        expect(await s.listJobs()).toEqual(['job-a']);
        expect((await s.readRange(loc, info.path, 0, info.size)).length).toBe(info.size);
      }));

    it('marks a run as running until released, refusing a second mark meanwhile', () =>
      withStorage(async ({ storage: s }) => {
        await s.checkNotRunning('job-a');
        const lock = await s.lockJob('job-a');
        await expect(s.lockJob('job-a')).rejects.toBeInstanceOf(JobRunningError);
        await expect(s.checkNotRunning('job-a')).rejects.toBeInstanceOf(JobRunningError);
        const other = await s.lockJob('job-b');
        await lock.release();
        await s.checkNotRunning('job-a');
        const again = await s.lockJob('job-a');
        await again.release();
        await other.release();
        expect(await s.listCheckpoints('job-a')).toEqual([]);
      }));

    it('writes sections and reads each back by its own range, verified, with the whole-file checksum', () =>
      withStorage(async ({ storage: s }) => {
        const loc = s.checkpointLocation('job-a', 1);
        const payloads: Array<[number, Buffer]> = [0, 3, 7, 127].map((id) => [
          id,
          Buffer.alloc(id * 1000, id),
        ]);
        const info = await writeFile(s, loc, 'op-1-keyed.state', payloads, STATE_FILE_KEYED);
        expect(info.path).toBe('op-1-keyed.state');
        expect(info.kind).toBe(STATE_FILE_KEYED);
        expect(info.sections.map((x) => x.id)).toEqual([0, 3, 7, 127]);
        expect(await s.statFile(loc, info.path)).toEqual({ size: info.size });
        const whole = await s.readRange(loc, info.path, 0, info.size);
        expect(whole.length).toBe(info.size);
        expect(crc32(whole)).toBe(info.crc32);
        const r = await StateFileReader.open(s, loc, info.path, {
          size: info.size,
          crc32: info.crc32,
          kind: STATE_FILE_KEYED,
        });
        for (const [id, p] of payloads) expect(Buffer.from(await r.readSection(id)).equals(p)).toBe(true);
        await r.verify();
        await expect(StateFileReader.open(s, loc, info.path, { kind: STATE_FILE_OPERATOR })).rejects.toThrow(
          /holds keyed state where operator state was expected/,
        );
      }));

    it('reads a range short only where the file ends, into a given buffer, and rejects a missing file', () =>
      withStorage(async ({ storage: s }) => {
        const loc = s.checkpointLocation('job-a', 1);
        const info = await writeFile(s, loc, 'a.state', [[0, Buffer.from('0123456789')]]);
        const all = Buffer.from(await s.readRange(loc, info.path, 0, info.size));
        expect(Buffer.from(await s.readRange(loc, info.path, 12, 10)).toString()).toBe('0123456789');
        expect(
          Buffer.from(await s.readRange(loc, info.path, info.size - 4, 100)).equals(all.subarray(-4)),
        ).toBe(true);
        expect((await s.readRange(loc, info.path, info.size, 10)).length).toBe(0);
        const into = Buffer.alloc(64, 0xee);
        const view = await s.readRange(loc, info.path, 14, 5, into);
        expect(Buffer.from(view).toString()).toBe('23456');
        expect(view.buffer).toBe(into.buffer);
        expect(into.subarray(0, 5).toString()).toBe('23456');
        expect(await s.statFile(loc, 'nope.state')).toBeUndefined();
        await expect(s.readRange(loc, 'nope.state', 0, 1)).rejects.toThrow();
      }));

    it('shows a state file only once it is closed, and nothing of an aborted one', () =>
      withStorage(async ({ storage: s }) => {
        const loc = s.checkpointLocation('job-a', 1);
        const w = s.createStateFile(loc, 'slow.state', STATE_FILE_OPERATOR);
        w.beginSection(0);
        await w.write(Buffer.alloc(3 << 20, 1)); // more than the writer buffers
        w.endSection();
        expect(await s.statFile(loc, 'slow.state')).toBeUndefined();
        const info = await w.close();
        expect(await s.statFile(loc, 'slow.state')).toEqual({ size: info.size });

        const gone = s.createStateFile(loc, 'gone.state', STATE_FILE_OPERATOR);
        gone.beginSection(0);
        await gone.write(Buffer.alloc(3 << 20, 2));
        await gone.abort();
        await gone.abort();
        expect(await s.statFile(loc, 'gone.state')).toBeUndefined();
      }));

    it('makes a checkpoint complete exactly when _metadata is written, and never overwrites it', () =>
      withStorage(async ({ storage: s }) => {
        const loc = s.checkpointLocation('job-b', 4);
        await writeFile(s, loc, 'a.state', [[0, Buffer.from('a')]]);
        await writeFile(s, loc, 'b.state', [[0, Buffer.from('b')]]);
        // Data files without _metadata: what a crash before the last step leaves.
        expect(await s.listCheckpoints('job-b')).toEqual([
          expect.objectContaining({ id: 4, complete: false }),
        ]);
        expect(await s.readMetadata(loc)).toBeUndefined();
        await expect(s.resolve(loc.uri)).rejects.toThrow(SnapshotNotFoundError);

        await s.writeMetadata(loc, Buffer.from('{"n":4}'));
        expect(await s.listCheckpoints('job-b')).toEqual([
          expect.objectContaining({ id: 4, complete: true }),
        ]);
        expect(text(await s.readMetadata(loc))).toBe('{"n":4}');
        expect((await s.resolve(loc.uri)).uri).toBe(loc.uri);

        await expect(s.writeMetadata(loc, Buffer.from('{"n":5}'))).rejects.toThrow(
          SnapshotAlreadyCompleteError,
        );
        // Creating the writer does no I/O; its close() finds the snapshot complete.
        const late = s.createStateFile(loc, 'late.state', STATE_FILE_OPERATOR);
        late.beginSection(0);
        await late.write(Buffer.from('late'));
        late.endSection();
        await expect(late.close()).rejects.toThrow(SnapshotAlreadyCompleteError);
        await late.abort();
        expect(text(await s.readMetadata(loc))).toBe('{"n":4}');
      }));

    it('lists jobs and checkpoints in order, complete or not', () =>
      withStorage(async ({ storage: s }) => {
        for (const [job, id, complete] of [
          ['job-b', 10, true],
          ['job-b', 2, false],
          ['job-b', 1, true],
          ['job-a', 3, true],
        ] as const) {
          const loc = s.checkpointLocation(job, id);
          await writeFile(s, loc, 'x.state', [[0, Buffer.from(`${job}/${id}`)]]);
          if (complete) await s.writeMetadata(loc, Buffer.from(`${id}`));
        }
        expect(await s.listJobs()).toEqual(['job-a', 'job-b']);
        const listed = await s.listCheckpoints('job-b');
        expect(listed.map((c) => [c.id, c.complete])).toEqual([
          [1, true],
          [2, false],
          [10, true],
        ]);
        for (const c of listed) expect(c.location.uri).toBe(s.checkpointLocation('job-b', c.id).uri);
        expect(text(await s.readMetadata(listed[2]!.location))).toBe('10');
        expect(await s.listCheckpoints('job-c')).toEqual([]);
      }));

    it('removes only incomplete checkpoints and says how many', () =>
      withStorage(async ({ storage: s }) => {
        for (const id of [1, 2, 3, 4]) {
          const loc = s.checkpointLocation('job-b', id);
          await writeFile(s, loc, 'a.state', [[0, Buffer.from('a')]]);
          if (id % 2 === 1) await s.writeMetadata(loc, Buffer.from('{}'));
        }
        expect(await s.removeIncomplete('job-b')).toBe(2);
        expect((await s.listCheckpoints('job-b')).map((c) => [c.id, c.complete])).toEqual([
          [1, true],
          [3, true],
        ]);
        expect(await s.statFile(s.checkpointLocation('job-b', 1), 'a.state')).toBeDefined();
        expect(await s.statFile(s.checkpointLocation('job-b', 2), 'a.state')).toBeUndefined();
        expect(await s.removeIncomplete('job-b')).toBe(0);
        expect(await s.removeIncomplete('no-such-job')).toBe(0);
      }));

    it('keeps job records beside the checkpoints, each replacing its earlier one, apart from them', () =>
      withStorage(async ({ storage: s }) => {
        expect(await s.readJobRecord('job-e', JOB_END_FILE)).toBeUndefined();
        const loc = s.checkpointLocation('job-e', 1);
        await writeFile(s, loc, 'a.state', [[0, Buffer.from('a')]]);
        await s.writeMetadata(loc, Buffer.from('{}'));
        await s.writeJobRecord('job-e', JOB_COMMITTED_FILE, Buffer.from('committed'));
        await s.writeJobRecord('job-e', JOB_END_FILE, Buffer.from('first'));
        await s.writeJobRecord('job-e', JOB_END_FILE, Buffer.from('second'));
        expect(text(await s.readJobRecord('job-e', JOB_END_FILE))).toBe('second');
        expect(text(await s.readJobRecord('job-e', JOB_COMMITTED_FILE))).toBe('committed');
        // Not checkpoints, and they outlive them: the job stays listed.
        expect((await s.listCheckpoints('job-e')).map((c) => c.id)).toEqual([1]);
        await s.discard(loc);
        expect(await s.listCheckpoints('job-e')).toEqual([]);
        expect(await s.listJobs()).toEqual(['job-e']);
        expect(text(await s.readJobRecord('job-e', JOB_END_FILE))).toBe('second');
        expect(text(await s.readJobRecord('job-e', JOB_COMMITTED_FILE))).toBe('committed');
        // A job that never wrote a checkpoint can still record its end.
        await s.writeJobRecord('job-f', JOB_END_FILE, Buffer.from('only'));
        expect(text(await s.readJobRecord('job-f', JOB_END_FILE))).toBe('only');
        expect(await s.readJobRecord('job-f', JOB_COMMITTED_FILE)).toBeUndefined();
        expect(await s.listJobs()).toEqual(['job-e', 'job-f']);
      }));

    it('discards a snapshot and everything in it, idempotently', () =>
      withStorage(async ({ storage: s }) => {
        const keep = s.checkpointLocation('job-b', 1);
        const drop = s.checkpointLocation('job-b', 2);
        for (const loc of [keep, drop]) {
          await writeFile(s, loc, 'a.state', [[0, Buffer.from('a')]]);
          await writeFile(s, loc, 'b.state', [[0, Buffer.from('b')]]);
          await s.writeMetadata(loc, Buffer.from('{}'));
        }
        await s.discard(drop);
        await s.discard(drop);
        await s.discard(s.checkpointLocation('job-b', 99)); // never written
        expect(await s.readMetadata(drop)).toBeUndefined();
        expect(await s.statFile(drop, 'a.state')).toBeUndefined();
        expect(await s.statFile(drop, 'b.state')).toBeUndefined();
        expect((await s.listCheckpoints('job-b')).map((c) => c.id)).toEqual([1]);
        expect(await s.statFile(keep, 'a.state')).toBeDefined();
        await expect(s.resolve(drop.uri)).rejects.toThrow(SnapshotNotFoundError);
      }));

    it('names savepoint folders savepoint-<job id prefix>-<12 hex digits>, a new one each time', () =>
      withStorage(async ({ storage: s, savepointDir }) => {
        const a = s.savepointLocation(savepointDir, 'abcdef12-3456-7890-abcd-ef1234567890');
        const b = s.savepointLocation(savepointDir, 'abcdef12-3456-7890-abcd-ef1234567890');
        expect(a.uri).toMatch(/\/savepoint-abcdef-[0-9a-f]{12}$/);
        expect(a.uri.startsWith(savepointDir.replace(/\/$/, ''))).toBe(true);
        expect(b.uri).not.toBe(a.uri);
        await writeFile(s, a, 'op.state', [[0, Buffer.from('sp')]]);
        await s.writeMetadata(a, Buffer.from('{"savepoint":true}'));
        expect(text(await s.readMetadata(a))).toBe('{"savepoint":true}');
        expect(await s.listJobs()).toEqual([]); // not a checkpoint of any job
      }));

    it('resolves a snapshot by its folder or its _metadata, and names what is not one', () =>
      withStorage(async ({ storage: s, savepointDir }) => {
        const loc = s.savepointLocation(savepointDir, 'abcdef1234');
        const info = await writeFile(s, loc, 'data.state', [[0, Buffer.from('x')]]);
        await expect(s.resolve(loc.uri)).rejects.toThrow(/no _metadata/);
        await s.writeMetadata(loc, Buffer.from('{"m":1}'));
        expect((await s.resolve(loc.uri)).uri).toBe(loc.uri);
        expect((await s.resolve(`${loc.uri}/`)).uri).toBe(loc.uri);
        expect((await s.resolve(`${loc.uri}/_metadata`)).uri).toBe(loc.uri);
        await expect(s.resolve(`${loc.uri}-missing`)).rejects.toThrow(SnapshotNotFoundError);
        await expect(s.resolve(`${loc.uri}-missing`)).rejects.toThrow(/does not exist/);
        await expect(s.resolve(`${loc.uri}/${info.path}`)).rejects.toThrow(SnapshotNotFoundError);
        await expect(s.resolve(`${loc.uri}/${info.path}`)).rejects.toThrow(/not a snapshot/);
      }));

    it('reads a relocated copy of a snapshot the same as the original', () =>
      withStorage(async ({ storage: s, savepointDir, copy }) => {
        const loc = s.savepointLocation(savepointDir, 'abcdef1234');
        const payloads: Array<[number, Buffer]> = [
          [0, Buffer.from('portable')],
          [1, Buffer.alloc(0)],
          [2, Buffer.alloc(100_000, 7)],
        ];
        const info = await writeFile(s, loc, 'data.state', payloads);
        await s.writeMetadata(loc, Buffer.from('{"m":1}'));
        const moved = await s.resolve(await copy(loc.uri));
        expect(moved.uri).not.toBe(loc.uri);
        expect(text(await s.readMetadata(moved))).toBe('{"m":1}');
        expect(Buffer.from(await s.readRange(moved, info.path, 0, info.size))).toEqual(
          Buffer.from(await s.readRange(loc, info.path, 0, info.size)),
        );
        const r = await StateFileReader.open(s, moved, info.path, { size: info.size, crc32: info.crc32 });
        for (const [id, p] of payloads) expect(Buffer.from(await r.readSection(id))).toEqual(p);
        await r.verify();
        // The copy is independent: discarding the original leaves it readable.
        await s.discard(loc);
        expect(text(await s.readMetadata(moved))).toBe('{"m":1}');
      }));

    it('names the file and the section when a byte of a section is damaged', () =>
      withStorage(async ({ storage: s, flipByte }) => {
        const loc = s.checkpointLocation('job-a', 2);
        const info = await writeFile(
          s,
          loc,
          'x.state',
          [
            [5, Buffer.from('fine')],
            [17, Buffer.from('hello state')],
          ],
          STATE_FILE_KEYED,
        );
        await flipByte(loc.uri, info.path, info.sections[1]!.offset + 3);
        const r = await StateFileReader.open(s, loc, info.path, { size: info.size, crc32: info.crc32 });
        expect(Buffer.from(await r.readSection(5)).toString()).toBe('fine');
        await expect(r.readSection(17)).rejects.toThrow(CorruptStateFileError);
        await expect(r.readSection(17)).rejects.toThrow(
          /x\.state: checksum mismatch in section for key group 17/,
        );
        await expect(r.verify()).rejects.toThrow(/x\.state: checksum mismatch in section for key group 17/);
      }));
  });
}
