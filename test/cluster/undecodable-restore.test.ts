// Keyed state stays encoded after a restore until the job needs it, so bytes that pass every
// checksum but do not decode (written so by a faulty weir, say) show only once the job runs.
// Such a checkpoint must still be treated as a damaged one: `--resume` falls back to the older
// retained checkpoint, with exactly-once output; `-s` to it fails the job for good (exit 2 in the
// CLI) instead of restarting into the same failure.
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { makeUndecodable } from '../checkpoint/make-undecodable.js';
import { HookedCount, spin } from './hooked-count.js';

const RECORDS = 300_000;

interface RunOptions {
  readonly checkpoints: string;
  readonly out: string;
  /** Fails the job for good once this many checkpoints completed (a process that died). */
  readonly dieAfter?: number;
  readonly resume?: boolean;
  readonly restoreFrom?: string;
}

async function run(o: RunOptions): Promise<{ log: string[]; master: JobMaster }> {
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
  });
  return { log, master: master! };
}

function lines(dir: string): string {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    if (f.startsWith('.') || f.startsWith('_')) continue;
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) if (l !== '') out.push(l);
  }
  return out.sort().join('\n');
}

/** The completed checkpoint folders under `dir`, oldest first. */
function completed(dir: string): string[] {
  const out: Array<[number, string]> = [];
  for (const job of readdirSync(dir))
    for (const f of readdirSync(join(dir, job)))
      if (f.startsWith('chk-') && existsSync(join(dir, job, f, '_metadata')))
        out.push([Number(f.slice(4)), join(dir, job, f)]);
  return out.sort((a, b) => a[0] - b[0]).map(([, p]) => p);
}

describe('restored state that passes its checksums but does not decode', () => {
  it('makes --resume fall back to the older retained checkpoint, exactly once', async () => {
    const straight = mkdtempSync(join(tmpdir(), 'weir-undecodable-straight-'));
    await run({ checkpoints: mkdtempSync(join(tmpdir(), 'weir-undecodable-chk0-')), out: straight });

    const checkpoints = mkdtempSync(join(tmpdir(), 'weir-undecodable-chk-'));
    const out = mkdtempSync(join(tmpdir(), 'weir-undecodable-out-'));
    await expect(run({ checkpoints, out, dieAfter: 4 })).rejects.toThrow(/injected failure/);
    const folders = completed(checkpoints);
    expect(folders.length).toBe(3);
    const newest = Number(/chk-(\d+)$/.exec(folders[2]!)![1]);
    const older = Number(/chk-(\d+)$/.exec(folders[1]!)![1]);
    const kg = makeUndecodable(folders[2]!);

    const { log, master } = await run({ checkpoints, out, resume: true });
    // The restore itself found nothing wrong: every checksum holds.
    expect(log).toContain(`weir: resuming job 'undecodable' (${master.jobId}) from checkpoint ${newest}`);
    expect(
      log.some(
        (l) =>
          l.startsWith(`weir: checkpoint ${newest} of job 'undecodable' is unusable: `) &&
          l.includes(`key group ${kg}:`) &&
          l.endsWith(`; falling back to checkpoint ${older}`),
      ),
      log.join('\n'),
    ).toBe(true);
    expect(master.restoredCheckpointIds).toEqual([older]);
    expect(lines(out)).toBe(lines(straight));
  });

  it('fails a job started from it with -s for good, naming the file and key group', async () => {
    const checkpoints = mkdtempSync(join(tmpdir(), 'weir-undecodable-sp-'));
    const out = mkdtempSync(join(tmpdir(), 'weir-undecodable-sp-out-'));
    await expect(run({ checkpoints, out, dieAfter: 3 })).rejects.toThrow(/injected failure/);
    const folder = completed(checkpoints).at(-1)!;
    const kg = makeUndecodable(folder);
    const err = await run({
      checkpoints: mkdtempSync(join(tmpdir(), 'weir-undecodable-sp2-')),
      out,
      restoreFrom: folder,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).name).toBe('RestoredStateError');
    expect((err as Error).message).toMatch(new RegExp(`-keyed\\.state: key group ${kg}: `));
  });
});
