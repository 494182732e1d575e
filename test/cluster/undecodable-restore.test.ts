// Keyed state stays encoded after a restore until the job needs it; the restore still checks,
// before the job starts, that every byte matches its checksum and decodes. Bytes that match their
// checksums but do not decode (written so by a faulty weir, say) must be found then, while sinks
// have restored nothing: `--resume` falls back to the older retained checkpoint with exactly-once
// output, and `-s` fails without touching the output. Should a group still fail to decode once
// the job runs (the checks and the decoder disagreeing), a restart falls back to the older
// checkpoint, and a job with none to fall back to fails for good rather than restarting into the
// same failure.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FileSink, StreamExecutionEnvironment } from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { ValueCodecError, ValueDecoder } from '../../src/state/value-codec.js';
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
  readonly claim?: boolean;
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
    claimMode: o.claim === true ? 'claim' : undefined,
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

/** Every file under `dir` with a hash of its bytes. */
function fingerprint(dir: string): Record<string, string> {
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
async function died(
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

const idOf = (folder: string): number => Number(/chk-(\d+)$/.exec(folder)![1]);

/**
 * Makes the next decode of a key fail, as if the restore's checks had let bad bytes through: with
 * what a malformed value throws, or with what the runtime throws for a key or Map past its limits.
 */
function failNextDecode(kind: 'malformed' | 'limit' = 'malformed'): void {
  vi.spyOn(ValueDecoder.prototype, 'decodeKey').mockImplementationOnce(() => {
    throw kind === 'malformed'
      ? new ValueCodecError('malformed value at byte 0: injected')
      : new RangeError('Invalid string length (injected)');
  });
}

afterEach(() => vi.restoreAllMocks());

describe('restored state that passes its checksums but does not decode', () => {
  it('makes --resume fall back to the older retained checkpoint before the job starts, exactly once', async () => {
    const { straight, checkpoints, out, folders } = await died(4);
    const kg = makeUndecodable(folders[2]!);
    const { log, master } = await run({ checkpoints, out, resume: true });
    expect(
      log.some(
        (l) =>
          l.startsWith(`weir: checkpoint ${idOf(folders[2]!)} of job 'undecodable' is unusable: `) &&
          l.includes(`key group ${kg}: malformed value`) &&
          l.endsWith('; falling back to an older checkpoint'),
      ),
      log.join('\n'),
    ).toBe(true);
    expect(log).toContain(
      `weir: resuming job 'undecodable' (${master.jobId}) from checkpoint ${idOf(folders[1]!)}`,
    );
    expect(master.restoredCheckpointIds).toEqual([]);
    expect(lines(out)).toBe(straight);
  });

  it('fails -s from it before any task runs, leaving the output as it was', async () => {
    const { straight, out, folders } = await died(4);
    // The oldest: restoring it would roll the output back to it.
    const kg = makeUndecodable(folders[0]!);
    const before = fingerprint(out);
    const refused = await run({
      checkpoints: mkdtempSync(join(tmpdir(), 'weir-undecodable-sp-')),
      out,
      restoreFrom: folders[0],
    }).catch((e: unknown) => e as Error);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).name).toBe('RestoreError');
    expect((refused as Error).message).toMatch(
      /; nothing was changed: start from another checkpoint or savepoint$/,
    );
    expect((refused as Error).message).toMatch(
      new RegExp(`-keyed\\.state: key group ${kg}: malformed value`),
    );
    expect(fingerprint(out)).toEqual(before);
    // The same for a damaged `_metadata`.
    const meta = join(folders[1]!, '_metadata');
    const text = readFileSync(meta, 'utf8');
    writeFileSync(
      meta,
      text.replace(/"id": (\d+)/, (_m, id: string) => `"id": ${Number(id) + 1}`),
    );
    const refusedMeta = await run({
      checkpoints: mkdtempSync(join(tmpdir(), 'weir-undecodable-sp-')),
      out,
      restoreFrom: folders[1],
    }).catch((e: unknown) => e as Error);
    expect((refusedMeta as Error).name).toBe('RestoreError');
    expect((refusedMeta as Error).message).toMatch(
      /_metadata.*; nothing was changed: start from another checkpoint or savepoint$/,
    );
    expect(fingerprint(out)).toEqual(before);
    // The newest still continues the job, exactly once.
    await run({
      checkpoints: mkdtempSync(join(tmpdir(), 'weir-undecodable-sp2-')),
      out,
      restoreFrom: folders[2],
    });
    expect(lines(out)).toBe(straight);
  });

  it.each(['malformed', 'limit'] as const)(
    'when a group fails to decode once the job runs (%s), falls back to the older retained checkpoint',
    async (kind) => {
      const { straight, checkpoints, out, folders } = await died(4);
      failNextDecode(kind);
      const { log, master } = await run({ checkpoints, out, resume: true });
      expect(
        log.some(
          (l) =>
            l.startsWith(`weir: checkpoint ${idOf(folders[2]!)} of job 'undecodable' is unusable: `) &&
            l.includes('injected') &&
            l.endsWith(`; falling back to checkpoint ${idOf(folders[1]!)}`),
        ),
        log.join('\n'),
      ).toBe(true);
      expect(master.restoredCheckpointIds).toEqual([idOf(folders[1]!)]);
      expect(lines(out)).toBe(straight);
    },
  );

  it.each([false, true])(
    'when a group fails to decode once a job started with -s runs, fails it for good (claim: %s)',
    async (claim) => {
      const { out, folders } = await died(3);
      failNextDecode();
      const err = await run({
        checkpoints: mkdtempSync(join(tmpdir(), 'weir-undecodable-sp3-')),
        out,
        restoreFrom: folders[2],
        claim,
      }).catch((e: unknown) => e as Error);
      expect((err as Error).name).toBe('RestoredStateError');
      expect((err as Error).message).toMatch(
        /-keyed\.state: key group \d+: malformed value at byte 0: injected; these bytes match their checksums/,
      );
    },
  );
});
