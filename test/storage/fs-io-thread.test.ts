import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SnapshotAlreadyCompleteError } from '../../src/storage/checkpoint-storage.js';
import { FsIoThread, ThreadFileSink } from '../../src/storage/fs-io-thread.js';
import { operations as ioOperations } from '../../src/storage/fs-io-worker.js';

describe('the filesystem storage I/O thread', () => {
  let dir: string;
  let io: FsIoThread;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'weir-io-thread-'));
    io = new FsIoThread();
  });
  afterEach(async () => {
    await io.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('moves a whole buffer to the thread and gives its memory back; copies a small chunk', async () => {
    const sink = new ThreadFileSink(io, join(dir, 'snap'), '.a.tmp', 'a.state');
    const big = Buffer.alloc(1 << 20, 7);
    const back = await sink.write(big);
    expect(big.byteLength).toBe(0); // moved, not copied
    expect(back).toBeInstanceOf(Uint8Array);
    expect(back!.buffer.byteLength).toBe(1 << 20);
    expect(back![12345]).toBe(7);
    const small = Buffer.from('tail');
    expect(await sink.write(small)).toBeUndefined();
    expect(small.toString()).toBe('tail'); // still the caller's
    // A view into a larger buffer is copied too (moving it would take memory it does not own).
    const shared = Buffer.alloc(256 << 10, 1);
    expect(await sink.write(shared.subarray(1000, 2000))).toBeUndefined();
    expect(shared.byteLength).toBe(256 << 10);
    await sink.commit();
    const bytes = readFileSync(join(dir, 'snap', 'a.state'));
    expect(bytes.length).toBe((1 << 20) + 4 + 1000);
    expect(bytes.subarray(1 << 20, (1 << 20) + 4).toString()).toBe('tail');
    expect(readdirSync(join(dir, 'snap'))).toEqual(['a.state']);
  });

  it('writes chunks sent before the previous ones were written in the order they were sent', async () => {
    const sink = new ThreadFileSink(io, join(dir, 'snap'), '.a.tmp', 'a.state');
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < 12; i++) writes.push(sink.write(Buffer.alloc(1 << 20, i + 1)));
    await Promise.all(writes);
    await sink.commit();
    const bytes = readFileSync(join(dir, 'snap', 'a.state'));
    expect(bytes.length).toBe(12 << 20);
    for (let i = 0; i < 12; i++) {
      expect(bytes[i << 20]).toBe(i + 1);
      expect(bytes[((i + 1) << 20) - 1]).toBe(i + 1);
    }
  });

  it('fails every later operation on a file once one failed, and its abort leaves nothing', async () => {
    // In this thread (the operations the I/O thread runs), where a FileHandle can be made to fail.
    const probe = await open(join(dir, 'probe'), 'w');
    const proto = Object.getPrototypeOf(probe) as { write(...a: unknown[]): Promise<unknown> };
    await probe.close();
    rmSync(join(dir, 'probe'));
    const real = proto.write;
    let calls = 0;
    const spy = vi.spyOn(proto, 'write').mockImplementation(function (this: unknown, ...a: unknown[]) {
      if (++calls === 2)
        return Promise.reject(
          Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }),
        );
      return real.apply(this, a);
    });
    try {
      const file = { file: 7, dir: join(dir, 'snap'), temp: '.c.tmp', name: 'c.state' };
      await ioOperations.open!(file);
      const results = await Promise.allSettled(
        [1, 2, 3].map((i) => ioOperations.write!({ ...file, chunk: Buffer.alloc(10, i) })),
      );
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
      await expect(ioOperations.commit!(file)).rejects.toMatchObject({ code: 'ENOSPC' });
      expect(calls).toBe(2); // nothing written after the failure
      await ioOperations.abort!(file);
      expect(readdirSync(join(dir, 'snap'))).toEqual([]);
    } finally {
      spy.mockRestore();
    }
  });

  it('reports a failure to create the file at the next write, as the storage error or with its code', async () => {
    mkdirSync(join(dir, 'done'));
    writeFileSync(join(dir, 'done', '_metadata'), '{}');
    const complete = new ThreadFileSink(io, join(dir, 'done'), '.x.tmp', 'x.state');
    await expect(complete.write(Buffer.from('x'))).rejects.toThrow(SnapshotAlreadyCompleteError);
    await complete.abort();
    writeFileSync(join(dir, 'plain'), 'not a folder');
    const blocked = new ThreadFileSink(io, join(dir, 'plain', 'snap'), '.y.tmp', 'y.state');
    await expect(blocked.commit()).rejects.toMatchObject({ code: 'ENOTDIR' });
    await blocked.abort();
    expect(readdirSync(join(dir, 'done'))).toEqual(['_metadata']);
  });

  it('leaves nothing of an aborted file, also after a failed commit', async () => {
    const sink = new ThreadFileSink(io, join(dir, 'snap'), '.a.tmp', 'a.state');
    await sink.write(Buffer.alloc(100, 1));
    await sink.abort();
    await sink.abort();
    expect(readdirSync(join(dir, 'snap'))).toEqual([]);
    // The final name is a folder: the rename fails, and the abort removes the temporary file.
    mkdirSync(join(dir, 'snap', 'b.state', 'inside'), { recursive: true });
    const failing = new ThreadFileSink(io, join(dir, 'snap'), '.b.tmp', 'b.state');
    await failing.write(Buffer.alloc(100, 2));
    await expect(failing.commit()).rejects.toMatchObject({ code: expect.stringMatching(/^E/) });
    await failing.abort();
    expect(readdirSync(join(dir, 'snap'))).toEqual(['b.state']);
  });

  it('fails the calls waiting when the thread stops, and starts a new one for the next', async () => {
    const sink = new ThreadFileSink(io, join(dir, 'snap'), '.a.tmp', 'a.state');
    const failed = expect(sink.write(Buffer.alloc(64 << 20, 3))).rejects.toThrow(/I\/O thread stopped/);
    await io.stop();
    await failed;
    const again = new ThreadFileSink(io, join(dir, 'snap'), '.b.tmp', 'b.state');
    await again.write(Buffer.from('b'));
    await again.commit();
    expect(readFileSync(join(dir, 'snap', 'b.state'), 'utf8')).toBe('b');
  });

  it('fails the calls waiting when a reply cannot be read, and starts a new thread for the next', async () => {
    const sink = new ThreadFileSink(io, join(dir, 'snap'), '.m.tmp', 'm.state');
    const waiting = sink.write(Buffer.alloc(1 << 20, 5)); // its reply cannot come before the emit below
    // What Node emits when a message from the thread fails to deserialize.
    (io as unknown as { worker: Worker }).worker.emit('messageerror', new Error('cannot clone'));
    await expect(waiting).rejects.toThrow(
      /I\/O thread stopped: one of its replies could not be read \(cannot clone\)/,
    );
    await sink.abort();
    const again = new ThreadFileSink(io, join(dir, 'snap'), '.n.tmp', 'n.state');
    await again.write(Buffer.from('n'));
    await again.commit();
    expect(readdirSync(join(dir, 'snap')).sort()).toEqual(['n.state']);
  });

  it('fails a file opened on a thread that stopped with the reason, and its abort removes the temporary file', async () => {
    const sink = new ThreadFileSink(io, join(dir, 'snap'), '.c.tmp', 'c.state');
    await sink.write(Buffer.from('first'));
    expect(readdirSync(join(dir, 'snap'))).toContain('.c.tmp');
    await io.stop();
    await expect(sink.write(Buffer.from('more'))).rejects.toThrow(/I\/O thread stopped: it was stopped/);
    await expect(sink.commit()).rejects.toThrow(/I\/O thread stopped/);
    await sink.abort();
    expect(readdirSync(join(dir, 'snap'))).not.toContain('.c.tmp');
    expect(readdirSync(join(dir, 'snap'))).not.toContain('c.state');
  });

  it('keeps the process alive while a call waits, and lets it exit when none does', () => {
    // A process whose only work is one storage call (long enough to outlast the rest): the call must complete (an idle thread
    // holding the process would hang it instead; a waiting one not holding it would drop the call).
    const module = fileURLToPath(new URL('../../src/storage/fs-io-thread.ts', import.meta.url));
    const script = [
      `import { fsIoThread } from ${JSON.stringify(module)};`,
      `const io = fsIoThread();`,
      `const job = ${JSON.stringify(join(dir, 'job'))};`,
      // A call that cannot be sent (its buffer was moved away before), then two calls, one after
      // the other: the thread is idle in between.
      `const gone = Buffer.alloc(1 << 20); structuredClone(gone.buffer, { transfer: [gone.buffer] });`,
      `io.run({ op: 'whole', dir: job, name: 'bad', temp: '.b.tmp', bytes: gone }).catch((e) => console.log('refused:', e.name))`,
      `  .then(() => io.run({ op: 'whole', dir: job, name: 'first', temp: '.f.tmp', bytes: Buffer.from('1') }))`,
      `  .then(() => io.run({ op: 'whole', dir: job, name: '_ended', temp: '.e.tmp', bytes: Buffer.alloc(32 << 20, 101) }))`,
      `  .then(() => console.log('written'));`,
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('refused: DataCloneError\nwritten\n');
    expect(r.status).toBe(0);
    const written = readFileSync(join(dir, 'job', '_ended'));
    expect(written.length).toBe(32 << 20);
    expect(written.every((b) => b === 101)).toBe(true);
  });
});
