// Keyed state stays encoded after a restore until the job needs it; the restore still checks,
// before the job starts, that every byte matches its checksum and decodes. Bytes that match their
// checksums but do not decode (written so by a faulty weir, say) must be found then, while sinks
// have restored nothing: `--resume` falls back to the older retained checkpoint with exactly-once
// output, and `-s` fails without touching the output. Should a group still fail to decode once
// the job runs (the checks and the decoder disagreeing), a restart falls back to the older
// checkpoint, and a job with none to fall back to fails for good rather than restarting into the
// same failure.
import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ValueCodecError, ValueDecoder } from '../../src/state/value-codec.js';
import { makeUndecodable } from '../checkpoint/make-undecodable.js';
import { died, fingerprint, idOf, lines, run } from './fallback-job.js';

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
          l.startsWith(
            `weir: checkpoint ${idOf(folders[2]!)} of job 'undecodable' (run ${master.jobId}) is unusable: `,
          ) &&
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
