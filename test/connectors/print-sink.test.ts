import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { PrintSink, StreamExecutionEnvironment } from '../../src/index.js';

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
});
