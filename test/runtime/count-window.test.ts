// Count windows: every n records of a key fire once with their reduce/aggregate result; a key's
// incomplete last window never fires (Flink's semantics); the open window is keyed state, so a
// failure with checkpoints and a stop/resume at another parallelism change nothing.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CollectSink, FileSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { committedLines } from '../connectors/helpers.js';

/** Committed output as one string, so whole outputs compare cheaply. */
const lines = (dir: string): string => committedLines(dir).join('\n');

const N = 20_003;
const KEYS = 7;
const SIZE = 4;

/** Per key, the sums of consecutive groups of SIZE of its numbers (in order), full groups only. */
function expected(): string {
  const out: string[] = [];
  for (let k = 0; k < KEYS; k++) {
    const mine: number[] = [];
    for (let n = 1; n <= N; n++) if (n % KEYS === k) mine.push(n);
    for (let i = 0; i + SIZE <= mine.length; i += SIZE)
      out.push(`${k},${mine.slice(i, i + SIZE).reduce((a, b) => a + b, 0)}`);
  }
  return out.sort().join('\n');
}

async function run(o: {
  parallelism: number;
  out: string;
  failAt?: number;
  restoreFrom?: string;
  onStart?: (m: JobMaster) => void;
}): Promise<string | undefined> {
  const env = new StreamExecutionEnvironment({ parallelism: o.parallelism, execution: { batchSize: 64 } });
  env.enableCheckpointing(20);
  env.checkpointConfig.setCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-cw-chk-')));
  env.setRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 10 });
  let failed = false;
  env
    .fromSequence(1, N)
    .setParallelism(1)
    .uid('numbers')
    .map((n) => {
      if (n === o.failAt && !failed) {
        failed = true;
        throw new Error('injected');
      }
      const until = performance.now() + 0.05; // so a stop lands mid-stream on any machine
      while (performance.now() < until);
      return n;
    })
    .setParallelism(1)
    .keyBy((n) => n % KEYS)
    .countWindow(SIZE)
    .aggregate({
      createAccumulator: () => [0, 0] as [number, number],
      add: (n: number, acc: [number, number]) => [n % KEYS, acc[1] + n] as [number, number],
      getResult: (acc: [number, number]) => `${acc[0]},${acc[1]}`,
    })
    .uid('count-window')
    .sinkTo(new FileSink<string>(o.out))
    .uid('sink');
  const r = await env.execute('count-window', {
    restoreFrom: o.restoreFrom,
    savepointDir: mkdtempSync(join(tmpdir(), 'weir-cw-sp-')),
    onStart: o.onStart,
  });
  return r.savepointPath;
}

describe('count windows', () => {
  const want = expected();

  it('fire every SIZE records of a key, also across a failure with checkpoints', async () => {
    const out = mkdtempSync(join(tmpdir(), 'weir-cw-'));
    await run({ parallelism: 2, out, failAt: 15_000 });
    expect(lines(out)).toBe(want);
  });

  it('carry open windows through a stop at p=2 and a resume at p=3', async () => {
    const out = mkdtempSync(join(tmpdir(), 'weir-cw-stop-'));
    const sp = await run({
      parallelism: 2,
      out,
      onStart: (m) => {
        const poll = setInterval(() => {
          if (m.status().state !== 'running' || m.status().recordsIn < N / 3) return;
          clearInterval(poll);
          m.stop({});
        }, 5);
      },
    });
    expect(sp).toBeDefined();
    expect(lines(out).split('\n').length).toBeLessThan(want.split('\n').length);
    await run({ parallelism: 3, out, restoreFrom: sp });
    expect(lines(out)).toBe(want);
  });
});

describe('sliding count windows in a job', () => {
  it('countWindow(5, 2): every 2 records of a key, the sum of its last 5, at p=3 as a plain computation', async () => {
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    const sink = new CollectSink<string>();
    env
      .fromSequence(1, 3001)
      .setParallelism(1)
      .keyBy((n) => n % KEYS)
      .countWindow(5, 2)
      .aggregate({
        createAccumulator: () => [0, 0] as [number, number],
        add: (n: number, acc: [number, number]) => [n % KEYS, acc[1] + n] as [number, number],
        getResult: (acc: [number, number]) => `${acc[0]},${acc[1]}`,
      })
      .sinkTo(sink);
    await env.execute('sliding-count');
    const want: string[] = [];
    for (let k = 0; k < KEYS; k++) {
      const mine: number[] = [];
      for (let n = 1; n <= 3001; n++) if (n % KEYS === k) mine.push(n);
      for (let i = 2; i <= mine.length; i += 2)
        want.push(`${k},${mine.slice(Math.max(0, i - 5), i).reduce((a, b) => a + b, 0)}`);
    }
    expect(sink.results.sort().join('\n')).toBe(want.sort().join('\n'));
  });
});
