import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CollectSink,
  FileSink,
  FileSource,
  JobFailedError,
  StreamExecutionEnvironment,
  type SinkWriter,
} from '../../src/index.js';
import { fakeContext, linesOf, tempDir, writeFiles } from './helpers.js';

const dirs: string[] = [];
function newDir(): string {
  const d = tempDir('file-sink');
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const sorted = (a: readonly string[]): string[] => [...a].sort();

function readParts(dir: string): Map<string, string[]> {
  const parts = new Map<string, string[]>();
  for (const name of fs.readdirSync(dir).sort())
    parts.set(name, linesOf(fs.readFileSync(path.join(dir, name), 'utf8')));
  return parts;
}

describe('FileSink', () => {
  it('writes every record of a p=3 job to part-<i>-0 files and leaves no hidden files', async () => {
    const out = path.join(newDir(), 'nested', 'out');
    const records = Array.from({ length: 30_000 }, (_, i) => `record ${i} ${'é€'.repeat(i % 5)}`);
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    env
      .fromCollection(records)
      .rebalance()
      .sinkTo(new FileSink<string>(out, { bufferSize: 4096 }));
    await env.execute('write');

    expect(fs.readdirSync(out).sort()).toEqual(['part-0-0', 'part-1-0', 'part-2-0']);
    const parts = readParts(out);
    for (const lines of parts.values()) expect(lines.length).toBeGreaterThan(0);
    expect(sorted([...parts.values()].flat())).toEqual(sorted(records));
  });

  it('formats non-string records with formatRecord, or with the format option', async () => {
    const dir = newDir();
    const env = new StreamExecutionEnvironment();
    const values: unknown[] = [1, 'two', { three: 3 }, [4n], true];
    env.fromCollection(values).sinkTo(new FileSink<unknown>(path.join(dir, 'default')));
    env
      .fromCollection([
        { id: 1, name: 'a' },
        { id: 2, name: 'b' },
      ])
      .sinkTo(
        new FileSink<{ id: number; name: string }>(path.join(dir, 'custom'), {
          format: (r) => `${r.id}\t${r.name}`,
        }),
      );
    await env.execute('formats');
    expect(linesOf(fs.readFileSync(path.join(dir, 'default', 'part-0-0'), 'utf8'))).toEqual([
      '1',
      'two',
      '{ three: 3 }',
      '[ 4n ]',
      'true',
    ]);
    expect(linesOf(fs.readFileSync(path.join(dir, 'custom', 'part-0-0'), 'utf8'))).toEqual(['1\ta', '2\tb']);
  });

  it('replaces the part file and the in-progress file of an earlier run', async () => {
    const out = newDir();
    writeFiles(out, {
      'part-0-0': 'OLD\n'.repeat(10_000),
      '.part-0-0.inprogress': 'STALE IN PROGRESS\n'.repeat(10_000),
      'unrelated.txt': 'kept\n',
    });
    const env = new StreamExecutionEnvironment();
    env.fromElements('new 1', 'new 2').sinkTo(new FileSink<string>(out));
    await env.execute('rerun');
    expect(fs.readFileSync(path.join(out, 'part-0-0'), 'utf8')).toBe('new 1\nnew 2\n');
    expect(fs.readdirSync(out).sort()).toEqual(['part-0-0', 'unrelated.txt']);
  });

  it('writes under a hidden name, flushes only past the buffer size, and makes the file visible at finish', async () => {
    const out = newDir();
    const sink = new FileSink<string>(out, { bufferSize: 100 });
    const writer: SinkWriter<string> = await sink.createWriter(fakeContext(1, 2));
    const hidden = path.join(out, '.part-1-0.inprogress');
    const visible = path.join(out, 'part-1-0');

    // Below the buffer size nothing is written and no promise makes the task wait.
    expect(writer.write(['a', 'b'])).toBeUndefined();
    expect(fs.statSync(hidden).size).toBe(0);
    // Past it, write returns the flush for the task to await: that is the backpressure.
    const flushing = writer.write(['x'.repeat(200)]);
    expect(flushing).toBeInstanceOf(Promise);
    await flushing;
    expect(fs.readFileSync(hidden, 'utf8')).toBe(`a\nb\n${'x'.repeat(200)}\n`);
    expect(fs.existsSync(visible)).toBe(false);

    expect(writer.write(['tail'])).toBeUndefined();
    await writer.finish!();
    await writer.close!();
    expect(fs.readFileSync(visible, 'utf8')).toBe(`a\nb\n${'x'.repeat(200)}\ntail\n`);
    expect(fs.existsSync(hidden)).toBe(false);
  });

  it('leaves neither a half-written file nor the previous run’s output when the job fails', async () => {
    const out = newDir();
    writeFiles(out, { 'part-0-0': 'output of an earlier run\n' });
    const env = new StreamExecutionEnvironment();
    env
      .fromSequence(1, 50_000)
      .map((n) => {
        if (n === 40_000) throw new Error('boom');
        return `n=${n}`;
      })
      .sinkTo(new FileSink<string>(out, { bufferSize: 1024 }));
    await expect(env.execute('fails')).rejects.toBeInstanceOf(JobFailedError);
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('rejects a buffer size that is not a positive integer', () => {
    expect(() => new FileSink('x', { bufferSize: 0 })).toThrow(/bufferSize must be a positive integer/);
  });

  it('writes what FileSource reads back, line for line', async () => {
    const dir = newDir();
    const records = Array.from(
      { length: 5_000 },
      (_, i) => `line ${i}${i % 7 === 0 ? '' : ' 😀'.repeat(i % 4)}`,
    );
    const write = new StreamExecutionEnvironment({ parallelism: 2 });
    write.fromCollection(records).rebalance().sinkTo(new FileSink<string>(dir));
    await write.execute('write');

    const read = new StreamExecutionEnvironment({ parallelism: 3 });
    const sink = new CollectSink<string>();
    read.fromSource(new FileSource(dir, { splitSize: 1000 })).sinkTo(sink);
    await read.execute('read');
    expect(sorted(sink.results)).toEqual(sorted(records));
  });
});
