// The contract every checkpoint storage must meet (the filesystem one today, an object store
// next): run it with `checkpointStorageContract(name, make)` from a test file.
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { CheckpointStorage } from '../../src/storage/checkpoint-storage.js';
import { SnapshotNotFoundError } from '../../src/storage/checkpoint-storage.js';
import {
  CorruptStateFileError,
  STATE_FILE_KEYED,
  STATE_FILE_OPERATOR,
  StateFileReader,
} from '../../src/storage/state-file.js';

export interface StorageFixture {
  storage: CheckpointStorage;
  /** Copies a snapshot folder elsewhere (a user moving a savepoint) and returns the new path. */
  copy(uri: string): Promise<string>;
  /** Damages one byte of a file of a snapshot. */
  flipByte(uri: string, relativePath: string, offset: number): Promise<void>;
  cleanup(): Promise<void>;
}

export function checkpointStorageContract(name: string, make: () => Promise<StorageFixture>): void {
  describe(`checkpoint storage contract: ${name}`, () => {
    it('writes sections and reads each back by its own range, verified', async () => {
      const f = await make();
      try {
        const loc = f.storage.checkpointLocation('job-a', 1);
        const w = await f.storage.createStateFile(loc, 'op-1-keyed.state', STATE_FILE_KEYED);
        const payloads = new Map<number, Buffer>();
        for (const id of [0, 3, 7, 127]) {
          const p = Buffer.alloc(id * 1000 + 1, id);
          payloads.set(id, p);
          w.beginSection(id);
          await w.write(p.subarray(0, p.length >> 1));
          await w.write(p.subarray(p.length >> 1));
          w.endSection();
        }
        const info = await w.close();
        expect(info.sections.map((s) => s.id)).toEqual([0, 3, 7, 127]);
        const r = await StateFileReader.open(f.storage, loc, info.path, {
          size: info.size,
          crc32: info.crc32,
          kind: STATE_FILE_KEYED,
        });
        for (const [id, p] of payloads) expect(Buffer.from(await r.readSection(id)).equals(p)).toBe(true);
        await r.verify();
        await expect(
          StateFileReader.open(f.storage, loc, info.path, { kind: STATE_FILE_OPERATOR }),
        ).rejects.toThrow(/kind/);
        const whole = await f.storage.readRange(loc, info.path, 0, info.size);
        expect(crc32(whole)).toBe(info.crc32);
      } finally {
        await f.cleanup();
      }
    });

    it('names the file when a byte of a section is damaged', async () => {
      const f = await make();
      try {
        const loc = f.storage.checkpointLocation('job-a', 2);
        const w = await f.storage.createStateFile(loc, 'x.state', STATE_FILE_OPERATOR);
        w.beginSection(0);
        await w.write(Buffer.from('hello state'));
        w.endSection();
        const info = await w.close();
        await f.flipByte(loc.uri, info.path, info.sections[0]!.offset + 3);
        const r = await StateFileReader.open(f.storage, loc, info.path, { size: info.size });
        await expect(r.readSection(0)).rejects.toThrow(CorruptStateFileError);
        await expect(r.readSection(0)).rejects.toThrow(/x\.state.*checksum mismatch in section 0/);
      } finally {
        await f.cleanup();
      }
    });

    it('lists a checkpoint as complete only once _metadata is written; removes incomplete ones; discards idempotently', async () => {
      const f = await make();
      try {
        const s = f.storage;
        for (const id of [1, 2, 3]) {
          const w = await s.createStateFile(
            s.checkpointLocation('job-b', id),
            'a.state',
            STATE_FILE_OPERATOR,
          );
          await w.close();
        }
        await s.writeMetadata(s.checkpointLocation('job-b', 1), Buffer.from('{}'));
        await s.writeMetadata(s.checkpointLocation('job-b', 3), Buffer.from('{}'));
        expect((await s.listCheckpoints('job-b')).map((c) => [c.id, c.complete])).toEqual([
          [1, true],
          [2, false],
          [3, true],
        ]);
        expect(await s.listJobs()).toContain('job-b');
        expect(await s.removeIncomplete('job-b')).toBe(1);
        expect((await s.listCheckpoints('job-b')).map((c) => c.id)).toEqual([1, 3]);
        await s.discard(s.checkpointLocation('job-b', 1));
        await s.discard(s.checkpointLocation('job-b', 1));
        expect((await s.listCheckpoints('job-b')).map((c) => c.id)).toEqual([3]);
        expect(await s.readMetadata(s.checkpointLocation('job-b', 1))).toBeUndefined();
      } finally {
        await f.cleanup();
      }
    });

    it('resolves a snapshot by its folder or its _metadata, reads a relocated copy the same, and names what is missing', async () => {
      const f = await make();
      try {
        const s = f.storage;
        const loc = s.savepointLocation(s.description, 'abcdef1234');
        expect(loc.uri).toMatch(/savepoint-abcdef-[0-9a-f]{12}$/);
        const w = await s.createStateFile(loc, 'data.state', STATE_FILE_OPERATOR);
        w.beginSection(0);
        await w.write(Buffer.from('portable'));
        w.endSection();
        const info = await w.close();
        await s.writeMetadata(loc, Buffer.from('{"m":1}'));
        expect((await s.resolve(loc.uri)).uri).toBe(loc.uri);
        expect((await s.resolve(`${loc.uri}/_metadata`)).uri).toBe(loc.uri);
        const moved = await s.resolve(await f.copy(loc.uri));
        expect(Buffer.from((await s.readMetadata(moved))!).toString()).toBe('{"m":1}');
        const r = await StateFileReader.open(s, moved, info.path, { size: info.size, crc32: info.crc32 });
        expect(Buffer.from(await r.readSection(0)).toString()).toBe('portable');
        await expect(s.resolve(`${loc.uri}-missing`)).rejects.toThrow(SnapshotNotFoundError);
        await expect(s.resolve(`${loc.uri}/data.state`)).rejects.toThrow(/not a snapshot/);
      } finally {
        await f.cleanup();
      }
    });
  });
}
