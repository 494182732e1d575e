// A job that checkpoints into retained checkpoints and can die after a number of them, for tests
// of what a restart, `--resume` or `-s` does with a damaged or unusable checkpoint: FileSink
// output, p = 2, checkpoints every 15 ms, three retained.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { FileSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { HookedCount, spin } from './hooked-count.js';

const RECORDS = 300_000;

export interface RunOptions {
  readonly checkpoints: string;
  readonly out: string;
  /** Fails the job for good once this many checkpoints completed (a process that died). */
  readonly dieAfter?: number;
  readonly resume?: boolean;
  readonly restoreFrom?: string;
  readonly claim?: boolean;
}

export async function run(o: RunOptions): Promise<{ log: string[]; master: JobMaster }> {
  const env = new StreamExecutionEnvironment({ parallelism: 2, execution: { batchSize: 64 } });
  env.enableCheckpointing(15);
  env.checkpointConfig
    .setCheckpointStorage(o.checkpoints)
    .setNumRetainedCheckpoints(3)
    .setExternalizedCheckpointRetention('retain-on-cancellation');
  env.setRestartStrategy(
    o.dieAfter !== undefined ? { type: 'none' } : { type: 'fixed-delay', attempts: 2, delayMs: 0 },
  );
  let master: JobMaster | undefined;
  const log: string[] = [];
  env
    .fromSequence(1, RECORDS)
    .setParallelism(1)
    .uid('numbers')
    .keyBy((n) => n % 97)
    .process(
      new HookedCount((n) => {
        const done = master!.completedCheckpoints;
        if (o.dieAfter !== undefined && done >= o.dieAfter) throw new Error('injected failure');
        if (o.dieAfter !== undefined && n % 10 === 0) spin(0.1);
      }),
    )
    .uid('count')
    .map((n) => String(n))
    .uid('text')
    .sinkTo(new FileSink<string>(o.out))
    .uid('sink');
  await env.execute('undecodable', {
    log: (l) => log.push(l),
    onStart: (m) => void (master = m),
    resume: o.resume,
    restoreFrom: o.restoreFrom,
    claimMode: o.claim === true ? 'claim' : undefined,
  });
  return { log, master: master! };
}

export function lines(dir: string): string {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    if (f.startsWith('.') || f.startsWith('_')) continue;
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) if (l !== '') out.push(l);
  }
  return out.sort().join('\n');
}

/** The completed checkpoint folders under `dir`, oldest first. */
export function completed(dir: string): string[] {
  const out: Array<[number, string]> = [];
  for (const job of readdirSync(dir))
    for (const f of readdirSync(join(dir, job)))
      if (f.startsWith('chk-') && existsSync(join(dir, job, f, '_metadata')))
        out.push([Number(f.slice(4)), join(dir, job, f)]);
  return out.sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}

/** Every file under `dir` with a hash of its bytes. */
export function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, f);
    try {
      out[f] = createHash('sha256').update(readFileSync(p)).digest('hex');
    } catch {
      out[f] = 'folder';
    }
  }
  return out;
}

/** A straight run's output, and a run that died after `after` checkpoints, with its retained ones (oldest first). */
export async function died(
  after: number,
): Promise<{ straight: string; checkpoints: string; out: string; folders: string[] }> {
  const straightOut = mkdtempSync(join(tmpdir(), 'weir-undecodable-straight-'));
  await run({ checkpoints: mkdtempSync(join(tmpdir(), 'weir-undecodable-chk0-')), out: straightOut });
  const checkpoints = mkdtempSync(join(tmpdir(), 'weir-undecodable-chk-'));
  const out = mkdtempSync(join(tmpdir(), 'weir-undecodable-out-'));
  await expect(run({ checkpoints, out, dieAfter: after })).rejects.toThrow(/injected failure/);
  const folders = completed(checkpoints);
  expect(folders.length).toBe(3);
  return { straight: lines(straightOut), checkpoints, out, folders };
}

export const idOf = (folder: string): number => Number(/chk-(\d+)$/.exec(folder)![1]);
