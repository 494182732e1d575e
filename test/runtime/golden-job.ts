// Runs a test job three ways for golden tests (straight; with checkpoints and a failure; stopped
// with a savepoint and resumed), writing through the exactly-once file sink, so that the
// committed output of every way can be compared with one plain computation.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { committedLines } from '../connectors/helpers.js';

export const sorted = (xs: readonly string[]): string => [...xs].sort().join('\n');

/** Busy time per record, so checkpoints and stops land mid-stream on any machine. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

export interface GoldenRunOptions {
  parallelism: number;
  checkpointMs?: number;
  out?: string;
  restoreFrom?: string;
  /** Stop with a savepoint once the job has taken in this many records. */
  stopAfterRecords?: number;
  /** Busy time per record where the job calls `slow`, so checkpoints and stops land mid-stream. */
  slowMs?: number;
  /** Records per batch (default 32). */
  batchSize?: number;
  /** Sets event-time watermarks after every source poll (0) instead of every 200 ms. */
  watermarkIntervalMs?: number;
}

/** Runs a job writing through the exactly-once file sink; returns the committed lines and the savepoint of a stop. */
export async function runGoldenJob(
  name: string,
  o: GoldenRunOptions,
  build: (
    env: StreamExecutionEnvironment,
    slow: <T>(x: T) => T,
  ) => { sinkTo(s: FileSink<string>): { uid(u: string): unknown } },
): Promise<{ lines: string; savepointPath: string | undefined; out: string }> {
  const out = o.out ?? mkdtempSync(join(tmpdir(), 'weir-golden-'));
  const env = new StreamExecutionEnvironment({
    parallelism: o.parallelism,
    execution: {
      batchSize: o.batchSize ?? 32,
      ...(o.watermarkIntervalMs !== undefined ? { watermarkIntervalMs: o.watermarkIntervalMs } : {}),
    },
  });
  if (o.checkpointMs !== undefined) {
    env.enableCheckpointing(o.checkpointMs);
    env.checkpointConfig.setCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-golden-chk-')));
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 10 });
  }
  const slow = <T>(x: T): T => {
    if (o.slowMs !== undefined) spin(o.slowMs);
    return x;
  };
  build(env, slow).sinkTo(new FileSink<string>(out)).uid('sink');
  const onStart =
    o.stopAfterRecords === undefined
      ? undefined
      : (m: JobMaster) => {
          const poll = setInterval(() => {
            if (m.status().state !== 'running' || m.status().recordsIn < o.stopAfterRecords!) return;
            clearInterval(poll);
            m.stop({});
          }, 5);
        };
  const r = await env.execute(name, {
    restoreFrom: o.restoreFrom,
    savepointDir: mkdtempSync(join(tmpdir(), 'weir-golden-sp-')),
    onStart,
  });
  return { lines: sorted(committedLines(out)), savepointPath: r.savepointPath, out };
}
