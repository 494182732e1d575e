import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DiscardingSink, JobFailedError, PrintSink, StreamExecutionEnvironment } from '../../src/index.js';

/** A stdout stand-in with a tiny buffer that drains slowly, so the sink must wait for 'drain'. */
class SlowTerminal extends Writable {
  text = '';
  constructor() {
    super({ highWaterMark: 64 });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.text += chunk.toString('utf8');
    setTimeout(done, 1);
  }
}

describe('PrintSink', () => {
  it('prints one line per record without a prefix at parallelism 1', async () => {
    const out = new SlowTerminal();
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    env.fromElements<unknown>('a', 7, 2n, { k: 'x' }).sinkTo(new PrintSink(undefined, out));
    await env.execute();
    expect(out.text).toBe("a\n7\n2n\n{ k: 'x' }\n");
  });

  it('prefixes each line with the 1-based subtask when parallel, and with a label when given', async () => {
    const out = new SlowTerminal();
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    env.fromSequence(1, 3000).sinkTo(new PrintSink('seq', out));
    await env.execute();
    const lines = out.text.trimEnd().split('\n');
    expect(lines).toHaveLength(3000);
    const seen = new Set<number>();
    for (const line of lines) {
      const m = /^seq:([123])> (\d+)$/.exec(line);
      expect(m, line).not.toBeNull();
      seen.add(Number(m![2]));
    }
    expect(seen.size).toBe(3000);
  });

  /** Takes `lines` lines, then fails every write with `code` (EPIPE: its reader went away). */
  class ClosingReader extends Writable {
    text = '';
    constructor(
      private lines: number,
      private readonly code: string,
    ) {
      super({ highWaterMark: 64 });
    }
    override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
      if (this.lines <= 0) {
        done(Object.assign(new Error(`write ${this.code}`), { code: this.code }));
        return;
      }
      this.lines -= chunk.toString('utf8').split('\n').length - 1;
      this.text += chunk.toString('utf8');
      done();
    }
  }

  const run = (out: Writable): Promise<{ counted: number; failure: unknown }> => {
    const env = new StreamExecutionEnvironment({ parallelism: 2 });
    env.setRestartStrategy({ type: 'none' });
    let counted = 0;
    const numbers = env.fromSequence(1, 20_000);
    numbers.sinkTo(new PrintSink(undefined, out));
    numbers
      .map((n: number) => {
        counted++;
        return n;
      })
      .sinkTo(new DiscardingSink());
    return env.execute().then(
      () => ({ counted, failure: undefined }),
      (failure: unknown) => ({ counted, failure }),
    );
  };

  it('drops what it would print once the reader went away (| head), and the job goes on to its end', async () => {
    const out = new ClosingReader(2, 'EPIPE');
    const { counted, failure } = await run(out);
    expect(failure).toBeUndefined();
    expect(counted).toBe(20_000);
    expect(out.text.split('\n').length).toBeGreaterThanOrEqual(3);
  });

  it('fails the job on any other write error', async () => {
    const { failure } = await run(new ClosingReader(2, 'EIO'));
    expect(failure).toBeInstanceOf(JobFailedError);
    expect(String((failure as Error).message)).toMatch(/write EIO/);
  });
});
