// A folder's fsync makes the names in it durable, not its own name, which is an entry of its
// parent: every folder weir makes to hold something durable must have its parent synced too, or
// a power loss could take away a new job folder (its checkpoints, its `_committed`) after its
// sinks committed output, and `--resume` would start over. Which folders get synced is seen here
// through node:fs/promises' open().
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const synced: string[] = [];
/** Folders that cannot be opened for reading (mode -wx, as for a user who is not root). */
const unreadable = new Set<string>();

vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (
    ...args: Parameters<typeof actual.open>
  ): Promise<Awaited<ReturnType<typeof actual.open>>> => {
    const path = String(args[0]);
    if (unreadable.has(path))
      throw Object.assign(new Error(`EACCES: permission denied, open '${path}'`), { code: 'EACCES' });
    const h = await actual.open(...args);
    const sync = h.sync.bind(h);
    h.sync = async () => {
      if ((await h.stat()).isDirectory()) synced.push(path);
      return sync();
    };
    return h;
  };
  return { ...actual, open, default: { ...actual, open } };
});

const { operations } = await import('../../src/storage/fs-io-worker.js');
const { makeFolder } = await import('../../src/storage/writable-folder.js');
const { lockJob } = await import('../../src/storage/fs-job-lock.js');

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'weir-durable-'));
  synced.length = 0;
  unreadable.clear();
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('folders made to hold durable files', () => {
  it('a job record in a new job folder: the folder and its new parents synced up to one that existed', async () => {
    await operations.whole!({
      dir: join(root, 'a', 'job'),
      name: '_committed',
      temp: '.c.tmp',
      bytes: Uint8Array.of(1),
    });
    expect(new Set(synced)).toEqual(new Set([root, join(root, 'a'), join(root, 'a', 'job')]));
  });

  it("a snapshot's files and _metadata in a new job folder: the job folder's name synced as well", async () => {
    const dir = join(root, 'job', 'chk-1');
    await operations.open!({ file: 1, dir, name: 'f', temp: '.f.tmp' });
    await operations.commit!({ file: 1 });
    await operations.metadata!({ dir, temp: '._metadata.tmp', bytes: Uint8Array.of(1) });
    expect(new Set(synced)).toEqual(new Set([root, join(root, 'job'), dir]));
  });

  it('a job folder made by the run lock, and folders made by makeFolder', async () => {
    const lock = await lockJob(join(root, 'job'));
    expect(synced).toContain(root);
    await lock.release();
    synced.length = 0;
    mkdirSync(join(root, 'x'));
    await makeFolder(join(root, 'x', 'y', 'z'));
    expect(synced).toEqual([join(root, 'x'), join(root, 'x', 'y')]);
  });

  it('fails at once where no folder can be made (/proc), instead of spinning for good', async () => {
    const within = <T>(p: Promise<T>): Promise<T | 'hung'> =>
      Promise.race([p, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000).unref())]);
    const made = operations.metadata!({
      dir: '/proc/weir-never/sp-1',
      temp: '._metadata.tmp',
      bytes: Uint8Array.of(1),
    });
    expect(
      await within(
        made.then(
          () => 'made',
          (e: NodeJS.ErrnoException) => e.code,
        ),
      ),
    ).toBe('ENOENT');
  });

  it('goes on where a parent cannot be opened to sync it (writable, not readable), as before', async () => {
    unreadable.add(root);
    await operations.whole!({
      dir: join(root, 'job'),
      name: '_committed',
      temp: '.c.tmp',
      bytes: Uint8Array.of(1),
    });
    const lock = await lockJob(join(root, 'job2'));
    await lock.release();
    await makeFolder(join(root, 'x'));
    expect(synced).toEqual([join(root, 'job')]); // only what could be synced: the record's own folder
  });
});
