import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import { STATE_FILE_OPERATOR } from '../../src/storage/state-file.js';
import { checkpointStorageContract } from './checkpoint-storage.contract.js';

checkpointStorageContract('filesystem', async () => {
  const root = mkdtempSync(join(tmpdir(), 'weir-fs-storage-'));
  return {
    storage: new FsCheckpointStorage(root),
    async copy(uri) {
      const to = join(mkdtempSync(join(tmpdir(), 'weir-moved-')), 'copy');
      cpSync(uri, to, { recursive: true });
      return to;
    },
    async flipByte(uri, rel, offset) {
      const b = readFileSync(join(uri, rel));
      b[offset] = b[offset]! ^ 0x40;
      writeFileSync(join(uri, rel), b);
    },
    async cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
});

describe('filesystem checkpoint storage', () => {
  it('leaves no temporary files behind _metadata, and none after an aborted state file', async () => {
    const root = mkdtempSync(join(tmpdir(), 'weir-fs-storage-'));
    const s = new FsCheckpointStorage(root);
    const loc = s.checkpointLocation('j', 1);
    const w = await s.createStateFile(loc, 'gone.state', STATE_FILE_OPERATOR);
    w.beginSection(0);
    await w.write(Buffer.from('x'));
    await w.abort();
    await s.writeMetadata(loc, Buffer.from('{}'));
    expect(readdirSync(join(root, 'j', 'chk-1'))).toEqual(['_metadata']);
    rmSync(root, { recursive: true, force: true });
  });
});
