// A restore from a checkpoint whose FileSink output was removed from the output directory (a part
// file it left pending, neither pending nor committed any more): that checkpoint cannot give
// exactly-once output, and restarting from it would fail the same way for ever. `--resume` and
// restarts fall back to the older retained checkpoint, whose restore removes the newer output and
// writes it again; `-s` from it fails for good, at once.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { died, idOf, lines, run } from './fallback-job.js';

/** A part file (committed, or still pending) that checkpoint `id` made, removed as a user might. */
function removeOutputOf(out: string, id: number): string {
  const part = /^\.?part-[0-9a-f]{8}-\d+-(\d+)-\d+-[0-9a-f]{8}-\d+(\.pending)?$/;
  const name = readdirSync(out)
    .sort()
    .find((f) => Number(part.exec(f)?.[1]) === id);
  expect(name, `no part file of checkpoint ${id} in ${readdirSync(out).join(' ')}`).toBeDefined();
  rmSync(join(out, name!));
  return name!;
}

describe('a restored checkpoint whose pending output file was removed', () => {
  it('makes --resume fall back to the older retained checkpoint, exactly once', async () => {
    const { straight, checkpoints, out, folders } = await died(3);
    const newest = idOf(folders[2]!);
    removeOutputOf(out, newest);
    const { log, master } = await run({ checkpoints, out, resume: true });
    expect(
      log.some(
        (l) =>
          l.startsWith(`weir: checkpoint ${newest} of job 'undecodable' is unusable: file sink: `) &&
          l.includes(`, pending for checkpoint ${newest}, is missing and was not committed`) &&
          l.endsWith(`; falling back to checkpoint ${idOf(folders[1]!)}`),
      ),
      log.join('\n'),
    ).toBe(true);
    expect(master.restoredCheckpointIds).toEqual([idOf(folders[1]!)]);
    expect(lines(out)).toBe(straight);
  });

  it('fails -s from it for good, without restarting', async () => {
    const { out, folders } = await died(3);
    removeOutputOf(out, idOf(folders[2]!));
    // The job restarts twice before it fails, unless it fails for good at once (as it must).
    const failure = await run({
      checkpoints: mkdtempSync(join(tmpdir(), 'weir-lost-output-sp-')),
      out,
      restoreFrom: folders[2],
    }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(failure?.name).toBe('PendingFileLostError');
    expect(failure?.message).toMatch(/is missing and was not committed; its records cannot be restored/);
  });
});
