// FileSink restores that stop half-way (the process dies, an unlink fails) and are started again:
// a savepoint whose history the first start deleted must stay refused after the retry, although
// the retried start no longer sees the output it deleted.
import * as fs from 'node:fs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PendingFileLostError } from '../../src/connectors/file-sink.js';
import type { OperatorStateSnapshot } from '../../src/state/snapshot.js';
import { committedLines, sinkWriter as start, tempDir } from './helpers.js';

/**
 * The next unlink of a path `failOn` accepts fails (once), before or (`done`) after it removed
 * the file: the start stops there, as if the process died.
 */
const inject = vi.hoisted(() => ({
  failOn: undefined as undefined | ((path: string) => boolean),
  done: false,
}));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const unlink = async (p: Parameters<typeof actual.unlink>[0]): Promise<void> => {
    if (inject.failOn?.(String(p)) === true) {
      inject.failOn = undefined;
      if (inject.done) await actual.unlink(p);
      throw Object.assign(new Error(`EIO: i/o error (injected), unlink '${String(p)}'`), { code: 'EIO' });
    }
    return actual.unlink(p);
  };
  return { ...actual, unlink, default: { ...actual, unlink } };
});

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function snapshot(
  s: Awaited<ReturnType<typeof start>>,
  id: number,
  isSavepoint = false,
): Promise<OperatorStateSnapshot> {
  const done = s.writer.snapshotState!({ checkpointId: id, timestamp: id, isSavepoint });
  const state = s.store.snapshot();
  await done;
  return state;
}

/** Starts from `sp`: its lines, or 'refused' (PendingFileLostError). */
async function startFrom(dir: string, sp: OperatorStateSnapshot, at: number): Promise<string[] | 'refused'> {
  try {
    await start(dir, sp, at);
  } catch (e) {
    if (e instanceof PendingFileLostError) return 'refused';
    throw e;
  }
  return committedLines(dir);
}

/** Checkpoints 1 (x) and 2 (y) committed, then savepoint 3 (history x, y; holds z). */
async function committedThenSavepoint(): Promise<{
  dir: string;
  first: OperatorStateSnapshot;
  sp: OperatorStateSnapshot;
}> {
  const dir = tempDir('file-sink-crash');
  dirs.push(dir);
  const a = await start(dir, undefined, 1000);
  await a.writer.write(['x']);
  const first = await snapshot(a, 1);
  await a.writer.notifyCheckpointComplete!(1);
  await a.writer.write(['y']);
  await snapshot(a, 2);
  await a.writer.notifyCheckpointComplete!(2);
  await a.writer.write(['z']);
  return { dir, first, sp: await snapshot(a, 3, true) };
}

describe('FileSink start that stops half-way', () => {
  it('a fallback that deleted output, then died: a savepoint after that output stays refused', async () => {
    const { dir, first, sp } = await committedThenSavepoint();
    // The fallback to checkpoint 1 dies right after it deleted y's file.
    const yFile = fs
      .readdirSync(dir)
      .find((n) => n.startsWith('part-') && fs.readFileSync(`${dir}/${n}`, 'utf8') === 'y\n')!;
    inject.failOn = (p) => p.endsWith(`/${yFile}`);
    inject.done = true;
    await expect(start(dir, first, 2000)).rejects.toThrow(/injected/);
    inject.done = false;
    expect(committedLines(dir)).toEqual(['x']);
    const b = await start(dir, first, 3000); // retried: no output left to delete
    await b.writer.close!();
    expect(await startFrom(dir, sp, 4000)).toBe('refused');
  });

  it('a fallback that died before it could discard the savepoint deletes nothing, and a retry discards it', async () => {
    const { dir, first, sp } = await committedThenSavepoint();
    inject.failOn = (p) => p.endsWith('.seal');
    await expect(start(dir, first, 2000)).rejects.toThrow(/injected/);
    expect(committedLines(dir)).toEqual(['x', 'y']);
    const b = await start(dir, first, 3000);
    await b.writer.close!();
    expect(await startFrom(dir, sp, 4000)).toBe('refused');
  });

  it('a start from a savepoint that revived a superseded file, then died: later savepoints stay refused', async () => {
    const dir = tempDir('file-sink-crash');
    dirs.push(dir);
    const a = await start(dir, undefined, 1000);
    await a.writer.write(['x']);
    const first = await snapshot(a, 1);
    await a.writer.notifyCheckpointComplete!(1);
    await a.writer.write(['y']);
    const sp2 = await snapshot(a, 2, true); // x; holds y
    const b = await start(dir, first, 2000); // a failover to checkpoint 1: sp2's y superseded
    await b.writer.write(['y', 'z']);
    const sp3 = await snapshot(b, 3, true); // x; holds y, z (written again)
    // The start dies at its first unlink after it committed y again (its other unlinks are of
    // sp3's files, which must go first).
    let unlinks = 0;
    inject.failOn = (p) => !p.includes('.savepoint') && !p.endsWith('.seal') && ++unlinks === 1;
    await expect(start(dir, sp2, 3000)).rejects.toThrow(/injected/);
    expect(committedLines(dir)).toEqual(['x', 'y']);
    const c = await start(dir, sp2, 4000); // the new job's restart restores sp2 again
    await c.writer.close!();
    expect(committedLines(dir)).toEqual(['x', 'y']);
    expect(await startFrom(dir, sp3, 5000)).toBe('refused');
  });
});
