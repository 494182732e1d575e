// Two jobs writing through FileSink into one output folder: a start of one, fresh or restoring
// after a failure, must leave the other's files alone (file-sink-protocol.ts: a start deletes
// only files of its own lineages). A start used to delete every in-progress file it found, so
// the job that was writing failed when it closed its file (and, restarting, did the same to the
// other one).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { FileSink, StreamExecutionEnvironment } from '../../src/index.js';
import { committedLines } from './helpers.js';

const spin = (ms: number): void => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};

it.each([
  ['a fresh start', false],
  ['a restore after a failure', true],
])(
  "%s of another job in the folder leaves a running job's in-progress file alone",
  async (_, fails) => {
    const out = mkdtempSync(join(tmpdir(), 'weir-shared-out-'));
    let writing: () => void = () => undefined;
    const bWrites = new Promise<void>((resolve) => (writing = resolve));
    // Job b: slow, with a small buffer, so its in-progress file exists while a starts.
    const b = new StreamExecutionEnvironment({ parallelism: 1, execution: { batchSize: 16 } });
    b.fromSequence(1, 400)
      .uid('b-src')
      .map((n: number) => {
        if (n === 50) writing();
        spin(2);
        return `b-${n}`;
      })
      .uid('b-map')
      .sinkTo(new FileSink<string>(out, { bufferSize: 8 }))
      .uid('b-sink');
    const bDone = b.execute('job-b').then(
      () => undefined,
      (e: unknown) => e,
    );
    await bWrites;
    const a = new StreamExecutionEnvironment({ parallelism: 1, execution: { batchSize: 4 } });
    if (fails) {
      a.enableCheckpointing(5);
      a.checkpointConfig.setCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-shared-chk-')));
      a.setRestartStrategy({ type: 'fixed-delay', attempts: 1, delayMs: 0 });
    }
    let failed = !fails;
    a.fromSequence(1, 200)
      .uid('a-src')
      .map((n: number) => {
        spin(0.2);
        if (n === 150 && !failed) {
          failed = true;
          throw new Error('once');
        }
        return `a-${n}`;
      })
      .uid('a-map')
      .sinkTo(new FileSink<string>(out, { bufferSize: 8 }))
      .uid('a-sink');
    await a.execute('job-a', { log: () => undefined });
    expect(failed).toBe(true);
    expect(await bDone).toBeUndefined();
    const lines = committedLines(out);
    expect(lines.filter((l) => l.startsWith('b-'))).toHaveLength(400);
    const byNumber = (x: string, y: string): number => Number(x.slice(2)) - Number(y.slice(2));
    expect(lines.filter((l) => l.startsWith('a-')).sort(byNumber)).toEqual(
      Array.from({ length: 200 }, (_, i) => `a-${i + 1}`),
    );
  },
  60_000,
);
