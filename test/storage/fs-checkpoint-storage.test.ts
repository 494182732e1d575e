import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  CheckpointStorageUnusableError,
  SnapshotAlreadyCompleteError,
  SnapshotNotFoundError,
  type SnapshotLocation,
} from '../../src/storage/checkpoint-storage.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import { operations as ioOperations } from '../../src/storage/fs-io-worker.js';
import { STATE_FILE_KEYED, STATE_FILE_OPERATOR, type StateFileWriter } from '../../src/storage/state-file.js';
import { checkpointStorageContract } from './checkpoint-storage.contract.js';

checkpointStorageContract('filesystem', async () => {
  const base = mkdtempSync(join(tmpdir(), 'weir-fs-storage-'));
  let copies = 0;
  return {
    storage: new FsCheckpointStorage(join(base, 'checkpoints')),
    savepointDir: join(base, 'savepoints'),
    async copy(uri) {
      const to = join(base, 'moved', `copy-${++copies}`);
      cpSync(uri, to, { recursive: true });
      return to;
    },
    async flipByte(uri, rel, offset) {
      const b = readFileSync(join(uri, rel));
      b[offset] = b[offset]! ^ 0x40;
      writeFileSync(join(uri, rel), b);
    },
    async cleanup() {
      rmSync(base, { recursive: true, force: true });
    },
  };
});

describe('filesystem checkpoint storage', () => {
  let root: string;
  let s: FsCheckpointStorage;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'weir-fs-storage-'));
    s = new FsCheckpointStorage(root);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const ls = (...parts: string[]): string[] => readdirSync(join(root, ...parts)).sort();
  /** An operator state file of one section holding `text`, written but not closed. */
  const oneSection = async (loc: SnapshotLocation, name: string, text: string): Promise<StateFileWriter> => {
    const w = s.createStateFile(loc, name, STATE_FILE_OPERATOR);
    w.beginSection(0);
    await w.write(Buffer.from(text));
    w.endSection();
    return w;
  };

  it("resolve of a job's folder names its completed checkpoints, newest first", async () => {
    for (const id of [1, 2]) await s.writeMetadata(s.checkpointLocation('job-a', id), Buffer.from('m'));
    mkdirSync(join(root, 'job-a', 'chk-3'));
    const jobDir = join(root, 'job-a');
    await expect(s.resolve(jobDir)).rejects.toThrow(
      `${jobDir}: no _metadata in this folder; it is not a savepoint or a completed checkpoint; it holds completed checkpoints (chk-2, chk-1): give one of them, e.g. ${join(jobDir, 'chk-2')}`,
    );
    await expect(s.resolve(join(jobDir, 'chk-3'))).rejects.toThrow(/a completed checkpoint$/);
  });

  it('checkUsable makes the missing folders of its root and leaves only them', async () => {
    const deep = new FsCheckpointStorage(join(root, 'a', 'b', 'c'));
    await deep.checkUsable();
    expect(ls('a', 'b', 'c')).toEqual([]);
  });

  it('checkUsable refuses a root that is a file, or under one, naming it; nothing is made', async () => {
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    for (const [dir, why] of [
      [file, `${file} is not a folder`],
      [join(file, 'sub'), `${file} is not a folder`],
    ] as const) {
      const e = await new FsCheckpointStorage(dir).checkUsable().then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(CheckpointStorageUnusableError);
      expect((e as Error).message).toContain(`checkpoint directory ${dir} cannot be used: ${why}`);
    }
    expect(ls()).toEqual(['file']);
  });

  it('writes a state file under a hidden temporary name and leaves only the final name', async () => {
    const loc = s.checkpointLocation('j', 1);
    const w = s.createStateFile(loc, 'op-1-keyed.state', STATE_FILE_KEYED);
    w.beginSection(3);
    await w.write(Buffer.alloc(5 << 20, 1));
    w.endSection();
    const during = ls('j', 'chk-1');
    expect(during).toHaveLength(1);
    expect(during[0]).toMatch(/^\.op-1-keyed\.state\.[0-9a-f]{12}[0-9a-z]+\.tmp$/);
    await w.close();
    expect(ls('j', 'chk-1')).toEqual(['op-1-keyed.state']);
    await s.writeMetadata(loc, Buffer.from('{}'));
    expect(ls('j', 'chk-1')).toEqual(['_metadata', 'op-1-keyed.state']);
  });

  it('writes a file larger than its background-sync step byte for byte', async () => {
    const loc = s.checkpointLocation('j', 1);
    const w = s.createStateFile(loc, 'big.state', STATE_FILE_KEYED);
    const chunk = Buffer.allocUnsafe(3 << 20);
    // 45 MiB in sections of 3 MiB, each chunk distinct: syncs start while later chunks are written.
    for (let i = 0; i < 15; i++) {
      chunk.fill(i + 1);
      chunk.writeUInt32BE(i, 12345);
      w.beginSection(i);
      const pending = w.write(chunk);
      if (pending !== undefined) await pending;
      w.endSection();
    }
    const info = await w.close();
    const bytes = readFileSync(join(root, 'j', 'chk-1', 'big.state'));
    expect(bytes.length).toBe(info.size);
    expect(crc32(bytes)).toBe(info.crc32);
    for (const sec of info.sections) {
      expect(bytes[sec.offset]).toBe(sec.id + 1);
      expect(bytes.readUInt32BE(sec.offset + 12345)).toBe(sec.id);
    }
  });

  it('fails the file, and leaves nothing, when a background sync of it failed', async () => {
    // Linux reports a write-back error to one fsync only: a failed background sync must not be
    // forgotten because the final fsync then succeeds; and the file stops taking bytes. The
    // storage's I/O thread runs these operations; here they run in this thread, where the
    // FileHandle can be made to fail.
    const probe = await open(join(root, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { datasync(): Promise<void> };
    await probe.close();
    const spy = vi
      .spyOn(proto, 'datasync')
      .mockRejectedValueOnce(Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }));
    try {
      const dir = join(root, 'j', 'chk-1');
      const file = { file: 1, dir, temp: '.bad.state.tmp', name: 'bad.state' };
      await ioOperations.open!(file);
      let written = 0;
      const writeAll = async (): Promise<void> => {
        for (let i = 0; i < 80; i++) {
          await ioOperations.write!({ ...file, chunk: Buffer.alloc(1 << 20, i) });
          written++;
        }
        await ioOperations.commit!(file);
      };
      await expect(writeAll()).rejects.toThrow(/EIO/);
      await ioOperations.abort!(file);
      expect(spy).toHaveBeenCalled();
      expect(written).toBeLessThan(80); // refused at a write, not only at the commit
      expect(ls('j', 'chk-1')).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });

  it('does not make a discarded checkpoint folder again for a task that snapshots it late', async () => {
    const loc = s.checkpointLocation('j', 4);
    await (await oneSection(loc, 'a.state', 'a')).close();
    await s.discard(loc); // expired, say
    const late = await oneSection(loc, 'b.state', 'b');
    await expect(late.close()).rejects.toMatchObject({ code: 'ENOENT' });
    await late.abort();
    expect(ls('j')).toEqual([]);
  });

  it('leaves no temporary file after an abort, a failed _metadata write, or a refused one', async () => {
    const loc = s.checkpointLocation('j', 1);
    const w = s.createStateFile(loc, 'gone.state', STATE_FILE_OPERATOR);
    w.beginSection(0);
    await w.write(Buffer.alloc(3 << 20, 1));
    await w.abort();
    expect(ls('j', 'chk-1')).toEqual([]);
    await s.writeMetadata(loc, Buffer.from('{"first":true}'));
    const refused = s.writeMetadata(loc, Buffer.from('{}'));
    await expect(refused).rejects.toThrow(SnapshotAlreadyCompleteError);
    // The system error behind the refusal stays attached, for whoever has to find out why.
    await expect(refused).rejects.toMatchObject({ cause: { code: 'EEXIST', syscall: 'link' } });
    expect(ls('j', 'chk-1')).toEqual(['_metadata']);
    expect(readFileSync(join(root, 'j', 'chk-1', '_metadata'), 'utf8')).toBe('{"first":true}');
  });

  it('shows a crash before _metadata as an incomplete checkpoint, and removes it on the next start', async () => {
    // Checkpoint 1 completed; the process died during checkpoint 2: one file closed, one half written.
    const done = s.checkpointLocation('j', 1);
    await (await oneSection(done, 'a.state', 'one')).close();
    await s.writeMetadata(done, Buffer.from('{}'));
    const crashed = s.checkpointLocation('j', 2);
    const w2 = s.createStateFile(crashed, 'a.state', STATE_FILE_OPERATOR);
    w2.beginSection(0);
    await w2.write(Buffer.from('two'));
    w2.endSection();
    await w2.close();
    const w3 = s.createStateFile(crashed, 'b.state', STATE_FILE_KEYED);
    w3.beginSection(0);
    await w3.write(Buffer.alloc(3 << 20, 3)); // never closed: the process is gone
    expect((await s.listCheckpoints('j')).map((c) => [c.id, c.complete])).toEqual([
      [1, true],
      [2, false],
    ]);
    await expect(s.resolve(crashed.uri)).rejects.toThrow(SnapshotNotFoundError);
    // The next start (a new storage object, as after a restart).
    const next = new FsCheckpointStorage(root);
    expect(await next.removeIncomplete('j')).toBe(1);
    expect(ls('j')).toEqual(['chk-1']);
    await w3.abort();
  });

  it('lists only chk-<n> folders and job folders, ignoring other entries', async () => {
    mkdirSync(join(root, 'j', 'chk-3'), { recursive: true });
    mkdirSync(join(root, 'j', 'chk-03'));
    mkdirSync(join(root, 'j', 'chk-x'));
    mkdirSync(join(root, 'j', 'shared'));
    writeFileSync(join(root, 'j', 'chk-4'), 'a file, not a folder');
    mkdirSync(join(root, '.hidden'));
    writeFileSync(join(root, 'stray-file'), '');
    expect(await s.listJobs()).toEqual(['j']);
    expect((await s.listCheckpoints('j')).map((c) => c.id)).toEqual([3]);
    expect(await s.removeIncomplete('j')).toBe(1);
    expect(ls('j')).toEqual(['chk-03', 'chk-4', 'chk-x', 'shared']);
  });

  it('has no checkpoints and no jobs when its root does not exist yet', async () => {
    const none = new FsCheckpointStorage(join(root, 'not', 'there'));
    expect(await none.listJobs()).toEqual([]);
    expect(await none.listCheckpoints('j')).toEqual([]);
    expect(await none.removeIncomplete('j')).toBe(0);
    // and creates the folders it needs on the first write
    const w = none.createStateFile(none.checkpointLocation('j', 1), 'a.state', STATE_FILE_OPERATOR);
    await w.close();
    expect(await none.listCheckpoints('j')).toEqual([expect.objectContaining({ id: 1, complete: false })]);
  });

  it('refuses names and job ids that would leave their folder', async () => {
    const loc = s.checkpointLocation('j', 1);
    for (const bad of ['../x.state', 'a/b.state', '.hidden', '_metadata', '', '/abs.state'])
      expect(() => s.createStateFile(loc, bad, STATE_FILE_OPERATOR), bad).toThrow(/internal/);
    for (const bad of ['..', '.', 'a/b', '', '../../etc'])
      expect(() => s.checkpointLocation(bad, 1), bad).toThrow(/internal/);
    expect(() => s.checkpointLocation('j', -1)).toThrow(/internal/);
    for (const bad of ['../a.state', '/etc/passwd', 'a/../../b'])
      await expect(s.readRange(loc, bad, 0, 1), bad).rejects.toThrow(/internal/);
  });

  it('resolves file:// URLs and explains that other URLs need another storage', async () => {
    const loc = s.savepointLocation(join(root, 'sp'), 'abcdef');
    await s.createStateFile(loc, 'a.state', STATE_FILE_OPERATOR).close();
    await s.writeMetadata(loc, Buffer.from('{}'));
    expect((await s.resolve(pathToFileURL(loc.uri).href)).uri).toBe(loc.uri);
    expect((await s.resolve(pathToFileURL(loc.uri).href.replace('file:', 'FILE:'))).uri).toBe(loc.uri);
    await expect(s.resolve('s3://bucket/savepoints/x')).rejects.toThrow(/not a filesystem path/);
    for (const [url, why] of [
      [
        'file://host/x',
        'is not a file URL of this machine (File URL host must be "localhost" or empty on linux)',
      ],
      ['file:///a%2Fb', 'is not a usable file URL (File URL path must not include encoded / characters)'],
      ['file:///tmp/a%00b', 'is not a usable file URL (its path holds a NUL byte (%00))'],
    ])
      await expect(s.resolve(url!), url).rejects.toThrow(
        new SnapshotNotFoundError(`'${url}' ${why}; write file:///absolute/path, or a plain path`),
      );
  });

  it('names a record, run mark or _metadata that is there but cannot be read, instead of failing inside', async () => {
    mkdirSync(join(root, 'j', 'chk-3'), { recursive: true });
    mkdirSync(join(root, 'j', '_committed')); // a folder where the record should be
    symlinkSync('_ended', join(root, 'j', '_ended')); // a link to itself
    mkdirSync(join(root, 'j', '_running'));
    symlinkSync('_metadata', join(root, 'j', 'chk-3', '_metadata'));
    await expect(s.readJobRecord('j', '_committed')).rejects.toThrow(
      new RegExp(
        `^${join(root, 'j', '_committed')}: cannot be read \\(EISDIR: .*\\); repair it or move it away$`,
      ),
    );
    await expect(s.readJobRecord('j', '_ended')).rejects.toThrow(CheckpointStorageUnusableError);
    await expect(s.readJobRecord('j', '_ended')).rejects.toThrow(/ELOOP/);
    // A link to nothing is there too: read as "no record", --resume started over (repro
    // committed-dangling.sh).
    mkdirSync(join(root, 'k'));
    symlinkSync('gone', join(root, 'k', '_committed'));
    symlinkSync(join(root, 'k', 'gone'), join(root, 'k', '_ended'));
    await expect(s.readJobRecord('k', '_committed')).rejects.toThrow(
      new RegExp(
        `^${join(root, 'k', '_committed')}: cannot be read \\(a symbolic link to gone, which does not exist\\); repair it or move it away$`,
      ),
    );
    await expect(s.readJobRecord('k', '_ended')).rejects.toThrow(CheckpointStorageUnusableError);
    expect(await s.readJobRecord('m', '_ended')).toBeUndefined();
    await expect(s.checkNotRunning('j')).rejects.toThrow(
      new RegExp(
        `^${join(root, 'j', '_running')}: the run mark cannot be read \\(EISDIR: .*\\); remove it if no process runs this job$`,
      ),
    );
    // Listed as complete (something named _metadata is there); reading it says what is wrong.
    const [listed] = await s.listCheckpoints('j');
    expect(listed).toMatchObject({ id: 3, complete: true });
    await expect(s.readMetadata(listed!.location)).rejects.toThrow(CheckpointStorageUnusableError);
  });

  it('discards a folder with subfolders, _metadata first', async () => {
    const loc = s.checkpointLocation('j', 1);
    await s.createStateFile(loc, 'a.state', STATE_FILE_OPERATOR).close();
    await s.writeMetadata(loc, Buffer.from('{}'));
    mkdirSync(join(loc.uri, 'nested'));
    writeFileSync(join(loc.uri, 'nested', 'x'), 'x');
    await s.discard(loc);
    expect(ls('j')).toEqual([]);
  });
});
