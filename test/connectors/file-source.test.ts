import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CollectSink,
  FileSource,
  InputPathError,
  JobFailedError,
  StreamExecutionEnvironment,
  type FileSourceOptions,
  type SourceReader,
} from '../../src/index.js';
import { redistributeOperatorState } from '../../src/checkpoint/redistribution.js';
import { listInputFiles } from '../../src/connectors/file-splits.js';
import { OperatorStateStore } from '../../src/state/operator-state-store.js';
import type { OperatorStateSnapshot } from '../../src/state/snapshot.js';
import { drain, fakeContext, linesOf, openFdCount, tempDir, writeFiles } from './helpers.js';

const dirs: string[] = [];
function newDir(): string {
  const d = tempDir('file-source');
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

async function readWithJob(
  input: string,
  parallelism: number,
  options?: FileSourceOptions,
): Promise<string[]> {
  const env = new StreamExecutionEnvironment({ parallelism });
  const sink = new CollectSink<string>();
  env.fromSource(new FileSource(input, options), 'files').sinkTo(sink);
  await env.execute('read files');
  return sink.results;
}

const sorted = (a: readonly string[]): string[] => [...a].sort();

/** Unique lines of mixed length (some longer than many splits), with 2-, 3- and 4-byte characters. */
function makeLines(name: string, n: number, seed: number): string[] {
  const pieces = ['a', 'bb', 'héllo', '€uro', '😀', 'ünïcödé text', 'x'.repeat(40)];
  let x = seed;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const k = x % 5;
    const body = Array.from({ length: k }, (_, j) => pieces[(x >>> (j * 3)) % pieces.length]).join(' ');
    lines.push(`${name}#${i} ${body}`);
  }
  return lines;
}

/** A directory of visible files in several shapes, plus hidden ones that must not be read. */
function makeCorpus(): { dir: string; expected: string[] } {
  const dir = newDir();
  const visible: Record<string, string> = {
    'a.txt': makeLines('a', 40, 1).join('\n') + '\n',
    'b/c.txt': makeLines('c', 25, 2).join('\r\n') + '\r\n',
    'b/d/e.txt': makeLines('e', 30, 3).join('\n'), // no final newline
    'empty.txt': '',
    'm.log': makeLines('m', 1, 4).join('\n'),
    'nl.txt': '\n\n',
    'z.txt': makeLines('z', 60, 5).join('\n') + '\n',
  };
  const hidden: Record<string, string> = {
    '.hidden.txt': 'HIDDEN dot file\n',
    _SUCCESS: 'HIDDEN underscore file\n',
    '_tmp/x.txt': 'HIDDEN under an underscore directory\n',
    '.git/y.txt': 'HIDDEN under a dot directory\n',
    'b/.part-0-0.inprogress': 'HIDDEN in-progress file\n',
  };
  writeFiles(dir, { ...visible, ...hidden });
  const expected = Object.keys(visible)
    .sort()
    .flatMap((k) => linesOf(visible[k]!));
  return { dir, expected };
}

describe('FileSource', () => {
  const corpus = makeCorpus();

  it('reads a directory in order of relative path at p=1, skipping hidden files', async () => {
    const lines = await readWithJob(corpus.dir, 1);
    expect(lines).toEqual(corpus.expected);
    expect(lines.filter((l) => l.includes('HIDDEN'))).toEqual([]);
  });

  for (const p of [1, 2, 3, 4]) {
    it(`reads every line exactly once at p=${p} with lines straddling 7-byte splits`, async () => {
      const lines = await readWithJob(corpus.dir, p, { splitSize: 7, readBufferSize: 16 });
      expect(sorted(lines)).toEqual(sorted(corpus.expected));
    });
  }

  it('reads every line exactly once whatever the split and read buffer sizes', async () => {
    for (const splitSize of [5, 13, 64, 100_000]) {
      for (const readBufferSize of [1, 2, 64]) {
        const lines = await readWithJob(corpus.dir, 2, { splitSize, readBufferSize });
        expect(sorted(lines), `splitSize ${splitSize}, readBufferSize ${readBufferSize}`).toEqual(
          sorted(corpus.expected),
        );
      }
    }
  });

  it('removes \\r before \\n, keeps empty lines, reads a last line without newline, and nothing from an empty file', async () => {
    const dir = newDir();
    writeFiles(dir, {
      '1.txt': 'a\r\nb\r\n\r\nc\rd\r\nlast',
      '2.txt': '',
      '3.txt': '\n',
      '4.txt': 'only\r',
    });
    const expected = ['a', 'b', '', 'c\rd', 'last', '', 'only'];
    expect(await readWithJob(dir, 1)).toEqual(expected);
    expect(await readWithJob(dir, 1, { splitSize: 2, readBufferSize: 1 })).toEqual(expected);
  });

  it('reads a single file given by its path', async () => {
    const dir = newDir();
    const lines = makeLines('single', 50, 9);
    writeFiles(dir, { 'one.txt': lines.join('\n') + '\n', 'other.txt': 'not me\n' });
    expect(await readWithJob(path.join(dir, 'one.txt'), 1, { splitSize: 11, readBufferSize: 3 })).toEqual(
      lines,
    );
    expect(sorted(await readWithJob(path.join(dir, 'one.txt'), 3, { splitSize: 11 }))).toEqual(sorted(lines));
  });

  it('ends at once for a directory with nothing visible in it, and on subtasks without splits', async () => {
    const dir = newDir();
    writeFiles(dir, { '.only-hidden': 'x\n', '_also/hidden.txt': 'y\n', 'sub/empty.txt': '' });
    expect(await readWithJob(dir, 2)).toEqual([]);
    writeFiles(dir, { 'one.txt': 'just one line' });
    expect(await readWithJob(dir, 4)).toEqual(['just one line']);
  });

  it('never splits a multi-byte character across read chunks', async () => {
    const dir = newDir();
    // Characters of 1, 2, 3 and 4 bytes so that every chunk size cuts some of them.
    const lines = ['é€😀a', '😀😀😀', 'aé', '€', 'ü'.repeat(30), '😀'.repeat(17) + 'z'];
    writeFiles(dir, { 'utf8.txt': lines.join('\n') + '\n' });
    for (let readBufferSize = 1; readBufferSize <= 9; readBufferSize++) {
      for (const splitSize of [1, 3, 4, 7, 1024]) {
        expect(
          await readWithJob(dir, 1, { splitSize, readBufferSize }),
          `read ${readBufferSize}, split ${splitSize}`,
        ).toEqual(lines);
      }
    }
  });

  it('refuses a missing input path when it is made, naming it', () => {
    const missing = path.join(newDir(), 'no-such-dir');
    expect(() => new FileSource(missing)).toThrow(InputPathError);
    expect(() => new FileSource(missing)).toThrow(
      `input path not found: ${missing}; give an existing file or directory`,
    );
    // Below a file, or a link that points to itself: not found either.
    const file = path.join(newDir(), 'file.txt');
    fs.writeFileSync(file, 'a\n');
    expect(() => new FileSource(path.join(file, 'x'))).toThrow(
      `input path not found: ${path.join(file, 'x')};`,
    );
    const loop = path.join(newDir(), 'loop');
    fs.symlinkSync(loop, loop);
    expect(() => new FileSource(loop)).toThrow(InputPathError);
  });

  it('fails the job with a one-line error naming an input path gone before it runs', async () => {
    const gone = path.join(newDir(), 'gone');
    fs.mkdirSync(gone);
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    env.fromSource(new FileSource(gone), 'files').sinkTo(new CollectSink<string>());
    fs.rmdirSync(gone);
    const err = await env.execute('read files').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobFailedError);
    expect((err as Error).message).toContain(`input path not found: ${gone}`);
    expect((err as Error).message.split('\n')).toHaveLength(1);
  });

  describe('the subtasks of one attempt deal the splits from one listing', () => {
    /** Starts subtask `i` of `p` of the attempt deployed at `attempt` and reads all it was dealt. */
    async function readSubtask(source: FileSource, i: number, p: number, attempt: number): Promise<string[]> {
      const reader = source.createReader(fakeContext(i, p, 3));
      await reader.initializeState!({
        isRestored: false,
        operatorStateStore: new OperatorStateStore(),
        subtaskIndex: i,
        parallelism: p,
        attemptStartTime: attempt,
      });
      await reader.start?.();
      const lines: string[] = [];
      await drain(reader, lines);
      await reader.close?.();
      return lines;
    }

    /** A folder of twelve one-line files (`m00`…`m11`), a source over it, and their lines, sorted. */
    function twelveFiles(): { dir: string; source: FileSource; lines: string[] } {
      const dir = newDir();
      const files: Record<string, string> = {};
      for (let i = 0; i < 12; i++) files[`m${String(i).padStart(2, '0')}`] = `m${i}\n`;
      writeFiles(dir, files);
      return {
        dir,
        source: new FileSource(dir),
        lines: sorted(Array.from({ length: 12 }, (_, i) => `m${i}`)),
      };
    }

    it('also when files are added between their starts', async () => {
      const { dir, source, lines } = twelveFiles();
      const read: string[] = [];
      for (let i = 0; i < 3; i++) {
        // Between two subtasks' starts, a file sorting first comes.
        if (i > 0) writeFiles(dir, { [`a${i}`]: `a${i}\n` });
        read.push(...(await readSubtask(source, i, 3, 1000)));
      }
      // Each split once: the files as the first subtask listed them.
      expect(sorted(read)).toEqual(lines);
      // A later attempt (a restart from the beginning) lists again.
      const again: string[] = [];
      for (let i = 0; i < 2; i++) again.push(...(await readSubtask(source, i, 2, 2000)));
      expect(sorted(again)).toEqual(sorted(['a1', 'a2', ...lines]));
    });

    it('also when another job starts with the same source meanwhile', async () => {
      const { dir, source, lines } = twelveFiles();
      const read = await readSubtask(source, 0, 3, 1000);
      const other = await readSubtask(source, 0, 3, 1001); // another attempt (or job) lists too
      expect(other.length).toBeGreaterThan(0);
      writeFiles(dir, { a0: 'a0\n' });
      for (let i = 1; i < 3; i++) read.push(...(await readSubtask(source, i, 3, 1000)));
      expect(sorted(read)).toEqual(lines);
    });

    it('also when a folder is reached by two paths (a link to it)', async () => {
      const dir = newDir();
      fs.mkdirSync(path.join(dir, 'a'));
      writeFiles(dir, { 'a/x': 'x\n', a0: 'a0\n' });
      for (let i = 0; i < 20; i++) writeFiles(dir, { [`f${i}`]: `f${i}\n` });
      fs.symlinkSync(path.join(dir, 'a'), path.join(dir, 'b'));
      // Listed under its first path in code-unit order, whichever stat answers first (before, under
      // the other in ~4 % of listings, and the subtasks' lists could differ).
      for (let run = 0; run < 150; run++) {
        const listed = await listInputFiles(dir);
        expect(listed.map((f) => f.path).filter((p) => p.endsWith('x'))).toEqual(['a/x']);
      }
      expect(sorted(await readWithJob(dir, 2))).toEqual(
        sorted(['x', 'a0', ...Array.from({ length: 20 }, (_, i) => `f${i}`)]),
      );
    });
  });

  it('rejects a split size or read buffer that is not a positive integer', () => {
    expect(() => new FileSource('x', { splitSize: 0 })).toThrow(/splitSize must be a positive integer/);
    expect(() => new FileSource('x', { splitSize: 1.5 })).toThrow(/splitSize/);
    expect(() => new FileSource('x', { readBufferSize: -1 })).toThrow(/readBufferSize/);
  });

  it('does not block: reports nothing-available while opening, then emits at most batchSize lines per poll', async () => {
    const dir = newDir();
    const lines = makeLines('nb', 100, 11);
    writeFiles(dir, { 'f.txt': lines.join('\n') });
    const reader = new FileSource(dir).createReader(fakeContext(0, 1, 7));
    await reader.initializeState!({
      isRestored: false,
      operatorStateStore: new OperatorStateStore(),
      subtaskIndex: 0,
      parallelism: 1,
    });
    await reader.start?.();
    const got: string[] = [];
    const out = { collect: (l: string) => got.push(l) };
    expect(reader.pollNext(out)).toBe('nothing-available');
    expect(got).toEqual([]);
    await reader.isAvailable!();
    let status = reader.pollNext(out);
    let polls = 1;
    while (status !== 'end-of-input') {
      if (status === 'nothing-available') await reader.isAvailable!();
      const before = got.length;
      status = reader.pollNext(out);
      expect(got.length - before).toBeLessThanOrEqual(7);
      polls++;
    }
    await reader.close?.();
    expect(got).toEqual(lines);
    expect(polls).toBeGreaterThanOrEqual(Math.ceil(100 / 7));
  });

  it.runIf(process.platform === 'linux')(
    'closes each split’s file handle when the split ends, and all of them in close()',
    async () => {
      const dir = newDir();
      const files: Record<string, string> = {};
      for (let i = 0; i < 30; i++)
        files[`f${String(i).padStart(2, '0')}.txt`] = makeLines(`f${i}`, 5, i).join('\n') + '\n';
      writeFiles(dir, files);
      const baseline = openFdCount();
      // Subtask 0 of 2 reads every other split, so no two of its splits share a handle.
      const reader = new FileSource(dir, { splitSize: 64 }).createReader(fakeContext(0, 2, 4));
      await reader.initializeState!({
        isRestored: false,
        operatorStateStore: new OperatorStateStore(),
        subtaskIndex: 0,
        parallelism: 2,
      });
      await reader.start?.();
      const got: string[] = [];
      let most = 0;
      const out = { collect: (l: string) => got.push(l) };
      for (;;) {
        const status = reader.pollNext(out);
        most = Math.max(most, openFdCount() - baseline);
        if (status === 'end-of-input') break;
        if (status === 'nothing-available') await reader.isAvailable!();
      }
      expect(got.length).toBeGreaterThan(50);
      expect(most).toBeLessThanOrEqual(3);
      await reader.close?.();
      expect(openFdCount()).toBe(baseline);

      // Closing in the middle of a file releases its handle too.
      const partial = new FileSource(dir, { splitSize: 64 }).createReader(fakeContext(0, 1, 2));
      await partial.initializeState!({
        isRestored: false,
        operatorStateStore: new OperatorStateStore(),
        subtaskIndex: 0,
        parallelism: 1,
      });
      await partial.start?.();
      await drain(partial, [], 3);
      expect(openFdCount()).toBeGreaterThan(baseline);
      await partial.close?.();
      expect(openFdCount()).toBe(baseline);
    },
  );
});

describe('FileSource position in operator state', () => {
  interface Stage {
    parallelism: number;
    /** Lines each subtask emits before its snapshot (Infinity: to the end). */
    readBefore: (subtask: number) => number;
  }

  async function openReader(
    source: FileSource,
    subtask: number,
    parallelism: number,
    restoreFrom: OperatorStateSnapshot | undefined,
  ): Promise<{ reader: SourceReader<string>; store: OperatorStateStore }> {
    const store = new OperatorStateStore();
    if (restoreFrom !== undefined) store.restore(restoreFrom);
    const reader = source.createReader(fakeContext(subtask, parallelism, 3));
    await reader.initializeState!({
      isRestored: store.isRestored,
      operatorStateStore: store,
      subtaskIndex: subtask,
      parallelism,
    });
    await reader.start?.();
    return { reader, store };
  }

  /**
   * Runs the stages in turn, each restored from the previous one's snapshots redistributed to its
   * parallelism. Lines a subtask emits after its snapshot are lost with it, as in a failure.
   */
  async function runStages(source: FileSource, stages: Stage[]): Promise<string[]> {
    const kept: string[] = [];
    let snapshots: OperatorStateSnapshot[] | undefined;
    for (const stage of stages) {
      const p = stage.parallelism;
      const restored = snapshots === undefined ? undefined : redistributeOperatorState(snapshots, p);
      const next: OperatorStateSnapshot[] = [];
      for (let i = 0; i < p; i++) {
        const { reader, store } = await openReader(source, i, p, restored?.[i]);
        await drain(reader, kept, stage.readBefore(i));
        void reader.snapshotState!({ checkpointId: 1, timestamp: 0 });
        next.push(store.snapshot());
        await drain(reader, [], 4); // emitted after the snapshot: must be read again after restore
        await reader.close?.();
      }
      snapshots = next;
    }
    return kept;
  }

  const corpus = makeCorpus();

  for (const [from, to] of [
    [2, 3],
    [3, 1],
    [1, 4],
    [4, 2],
  ] as const) {
    it(`resumes at p=${to} from a snapshot taken at p=${from}: every line exactly once`, async () => {
      const source = new FileSource(corpus.dir, { splitSize: 7, readBufferSize: 5 });
      const kept = await runStages(source, [
        { parallelism: from, readBefore: (i) => 5 + 13 * i },
        { parallelism: to, readBefore: () => Infinity },
      ]);
      expect(sorted(kept)).toEqual(sorted(corpus.expected));
    });
  }

  it('survives a chain of rescales with snapshots inside long lines and inside chunks', async () => {
    const source = new FileSource(corpus.dir, { splitSize: 50, readBufferSize: 3 });
    const kept = await runStages(source, [
      { parallelism: 3, readBefore: (i) => 1 + i },
      { parallelism: 2, readBefore: (i) => 7 + i },
      { parallelism: 5, readBefore: (i) => 3 * i },
      { parallelism: 1, readBefore: () => 11 },
      { parallelism: 2, readBefore: () => Infinity },
    ]);
    expect(sorted(kept)).toEqual(sorted(corpus.expected));
  });

  it('keeps the read order of one subtask across a snapshot at the same parallelism', async () => {
    const source = new FileSource(corpus.dir, { splitSize: 32, readBufferSize: 8 });
    const kept = await runStages(source, [
      { parallelism: 1, readBefore: () => 17 },
      { parallelism: 1, readBefore: () => Infinity },
    ]);
    expect(kept).toEqual(corpus.expected);
  });

  it('reads only the splits in its restored state, ignoring files added since and files it was not given', async () => {
    const dir = newDir();
    const lines = makeLines('r', 20, 21);
    writeFiles(dir, { 'r.txt': lines.join('\n') + '\n' });
    const source = new FileSource(dir, { splitSize: 40 });
    const { reader, store } = await openReader(source, 0, 1, undefined);
    const before: string[] = [];
    await drain(reader, before, 6);
    void reader.snapshotState!({ checkpointId: 1, timestamp: 0 });
    const snap = store.snapshot();
    await reader.close?.();
    writeFiles(dir, { 'added-later.txt': 'NEW\n' });

    const after: string[] = [];
    const restored = await openReader(source, 0, 1, snap);
    await drain(restored.reader, after);
    await restored.reader.close?.();
    expect([...before, ...after]).toEqual(lines);

    // A subtask restored with no splits (more subtasks than splits left) reads nothing.
    const empty = await openReader(source, 0, 1, {
      states: [{ name: 'file-source-splits', mode: 'split', entries: [] }],
    });
    const none: string[] = [];
    expect(await drain(empty.reader, none)).toBe(true);
    expect(none).toEqual([]);
    await empty.reader.close?.();
  });

  it('fails naming the file when a restored file is missing or shorter than its position', async () => {
    const dir = newDir();
    writeFiles(dir, { 'keep.txt': makeLines('k', 30, 31).join('\n') + '\n' });
    const file = path.join(dir, 'keep.txt');
    const source = new FileSource(dir);
    const { reader, store } = await openReader(source, 0, 1, undefined);
    await drain(reader, [], 20);
    void reader.snapshotState!({ checkpointId: 1, timestamp: 0 });
    const snap = store.snapshot();
    await reader.close?.();

    fs.truncateSync(file, 10);
    await expect(openReader(source, 0, 1, snap)).rejects.toThrow(
      new RegExp(`${escape(file)} has 10 bytes, fewer than the restored position`),
    );
    fs.rmSync(file);
    await expect(openReader(source, 0, 1, snap)).rejects.toThrow(
      new RegExp(`restored input ${escape(file)} is missing`),
    );
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
