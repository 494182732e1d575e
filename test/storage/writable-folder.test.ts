import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FolderUnusableError, makeWritableFolder } from '../../src/storage/writable-folder.js';

const root = mkdtempSync(join(tmpdir(), 'weir-writable-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function problem(folder: string): Promise<FolderUnusableError> {
  const e = await makeWritableFolder(folder, '.probe').catch((x: unknown) => x);
  expect(e).toBeInstanceOf(FolderUnusableError);
  return e as FolderUnusableError;
}

describe('makeWritableFolder', () => {
  it('makes a folder several levels deep and leaves only the folders', async () => {
    const folder = join(root, 'a', 'b', 'c');
    await makeWritableFolder(folder, '.probe');
    expect(readdirSync(folder)).toEqual([]);
    await makeWritableFolder(folder, '.probe'); // again: it is there
  });

  it('names a file that stands where a folder, or one of its parents, should be', async () => {
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    expect((await problem(file)).why).toBe(`${file} is not a folder`);
    const under = await problem(join(file, 'x', 'y'));
    expect(under.why).toBe(`${file} is not a folder`);
    expect(under.message).toBe(`${join(file, 'x', 'y')} cannot be used: ${file} is not a folder`);
  });

  it('says which folder it cannot make, at once, where no folder can be made (/proc)', async () => {
    expect(existsSync('/proc/self')).toBe(true); // Linux, where weir runs and CI tests
    const t0 = performance.now();
    const e = await problem('/proc/weir-no-such/x');
    expect(e.why).toMatch(/^\/proc\/weir-no-such cannot be made \(ENOENT/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('reports a folder in which no file can be written', async () => {
    const folder = join(root, 'probe-taken');
    mkdirSync(join(folder, '.probe'), { recursive: true }); // the probe's name is taken by a folder
    expect((await problem(folder)).why).toMatch(/^a file cannot be written in it \(EEXIST/);
  });
});
