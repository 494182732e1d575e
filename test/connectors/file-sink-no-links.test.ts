// FileSink on a filesystem without hard links (link(2) fails with EPERM on FAT, ENOSYS on FUSE
// mounts that do not implement it): a savepoint holds copies of its pending files instead, and
// stays a start point.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { committedLines, sinkWriter as start, tempDir } from './helpers.js';

const linkFails = vi.hoisted(() => ({ code: 'EPERM' }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const link = (): Promise<never> =>
    Promise.reject(Object.assign(new Error(`${linkFails.code}: link`), { code: linkFails.code }));
  return { ...actual, link, default: { ...actual, link } };
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('FileSink without hard links', () => {
  it.each(['ENOSYS', 'ENOTSUP', 'EMLINK'])('copies when link says %s', async (code) => {
    linkFails.code = code;
    try {
      const dir = tempDir('file-sink-no-links');
      dirs.push(dir);
      const a = await start(dir);
      await a.writer.write(['x']);
      await a.writer.snapshotState!({ checkpointId: 1, timestamp: 1, isSavepoint: true });
      const held = fs.readdirSync(dir).filter((n) => n.endsWith('.savepoint-1'));
      expect(held.map((n) => fs.readFileSync(path.join(dir, n), 'utf8'))).toEqual(['x\n']);
      await a.writer.close!();
    } finally {
      linkFails.code = 'EPERM';
    }
  });

  it('copies a file that an earlier checkpoint commits while the savepoint is being taken', async () => {
    const dir = tempDir('file-sink-no-links');
    dirs.push(dir);
    const s = await start(dir);
    await s.writer.write(['x']);
    await s.writer.snapshotState!({ checkpointId: 1, timestamp: 1 });
    const sp = Promise.resolve(s.writer.snapshotState!({ checkpointId: 2, timestamp: 2, isSavepoint: true }));
    await s.writer.notifyCheckpointComplete!(1); // renames the file the savepoint is copying
    await sp;
    expect(fs.readdirSync(dir).filter((n) => n.endsWith('.savepoint-2'))).toHaveLength(1);
    await s.writer.close!();
  });

  it('holds copies of the files a savepoint lists, and a start from it after a failover commits them', async () => {
    const dir = tempDir('file-sink-no-links');
    dirs.push(dir);
    const a = await start(dir);
    await a.writer.write(['x']);
    await a.writer.snapshotState!({ checkpointId: 1, timestamp: 1 });
    const first = a.store.snapshot();
    await a.writer.notifyCheckpointComplete!(1);
    await a.writer.write(['y']);
    const sp = a.writer.snapshotState!({ checkpointId: 2, timestamp: 2, isSavepoint: true });
    const savepoint = a.store.snapshot();
    await sp;
    const held = fs.readdirSync(dir).filter((n) => n.endsWith('.savepoint-2'));
    expect(held).toHaveLength(1);
    const pending = fs.readdirSync(dir).filter((n) => n.endsWith('.pending'));
    expect(fs.statSync(path.join(dir, held[0]!)).ino).not.toBe(fs.statSync(path.join(dir, pending[0]!)).ino);
    expect(fs.readFileSync(path.join(dir, held[0]!), 'utf8')).toBe('y\n');
    await a.writer.close!();
    // A failover to checkpoint 1 writes y again; the savepoint still holds its copy.
    const b = await start(dir, first);
    await b.writer.write(['y', 'z']);
    await b.writer.snapshotState!({ checkpointId: 3, timestamp: 3 });
    await b.writer.notifyCheckpointComplete!(3);
    await b.writer.close!();
    expect(committedLines(dir)).toEqual(['x', 'y', 'z']);
    await start(dir, savepoint);
    expect(committedLines(dir)).toEqual(['x', 'y']);
  });
});
