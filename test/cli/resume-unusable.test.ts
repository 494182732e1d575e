// `weir run --resume` when every retained checkpoint is damaged: exit 2, each bad file named, a
// last line that says what to do, and the checkpoint folder exactly as it was.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { filesUnder, JobFiles, weir } from './weir-process.js';

const files = new JobFiles();
afterAll(() => files.remove());

// Takes checkpoints every 20 ms, then fails for good (no restarts) about 1.5 s in, so the failed
// job keeps its retained checkpoints (delete-on-cancellation keeps them on failure).
const JOB = `import { defineJob, DiscardingSink } from 'weir';
export default defineJob({
  name: 'flaky',
  build(env) {
    env.enableCheckpointing(20);
    env.checkpointConfig.setNumRetainedCheckpoints(2);
    env.setRestartStrategy({ type: 'none' });
    const started = performance.now();
    env
      .fromSequence(1, 50_000_000)
      .uid('numbers')
      .keyBy((n: number) => n % 10)
      .map((n: number) => {
        if (n % 1000 === 0) {
          const until = performance.now() + 1;
          while (performance.now() < until);
          if (performance.now() - started > 1500) throw new Error('gives up');
        }
        return n;
      })
      .uid('slow')
      .sinkTo(new DiscardingSink<number>())
      .uid('sink');
  },
});
`;

/** Every file under `dir` with a hash of its bytes. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of filesUnder(dir)) out[p] = createHash('sha256').update(readFileSync(p)).digest('hex');
  return out;
}

/** Runs the flaky job until it fails; returns its two retained checkpoints' folders, oldest first. */
async function failedRun(checkpoints: string): Promise<{ args: string[]; folders: string[] }> {
  files.write('flaky.ts', JOB);
  const args = ['run', 'flaky.ts', '--checkpoint-dir', checkpoints, '--resume'];
  const first = await weir(args, { cwd: files.dir });
  expect(first.code, first.stderr).toBe(1);
  const folders = filesUnder(checkpoints)
    .filter((p) => /chk-\d+\/_metadata$/.test(p))
    .map((p) => p.replace(/\/_metadata$/, ''))
    .sort((a, b) => Number(/chk-(\d+)$/.exec(a)![1]) - Number(/chk-(\d+)$/.exec(b)![1]));
  expect(folders.length).toBe(2);
  return { args, folders };
}

/** fingerprint() of every file but `skip` (which cannot be read). */
function fingerprintExcept(dir: string, skip: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of filesUnder(dir))
    if (p !== skip) out[p] = createHash('sha256').update(readFileSync(p)).digest('hex');
  return out;
}

/** Cuts a file to half its length: for _metadata, no longer JSON, so neither its job nor its time can be read. */
function truncateToHalf(path: string): void {
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length >> 1));
}

describe('weir run --resume with no usable checkpoint', () => {
  it('exits with 2, names each bad file, says what to do, and changes nothing', async () => {
    files.write('flaky.ts', JOB);
    const checkpoints = join(files.dir, 'checkpoints');
    const args = ['run', 'flaky.ts', '--checkpoint-dir', checkpoints, '--resume'];
    const first = await weir(args, { cwd: files.dir });
    expect(first.code, first.stderr).toBe(1);
    expect(first.stderr).toMatch(/gives up/);

    // The completed checkpoints (those with a _metadata): the two retained ones.
    const folders = filesUnder(checkpoints)
      .filter((p) => /chk-\d+\/_metadata$/.test(p))
      .map((p) => p.replace(/\/_metadata$/, ''));
    expect(folders.length).toBe(2);
    const states = filesUnder(checkpoints).filter(
      (p) => p.endsWith('.state') && folders.some((f) => p.startsWith(`${f}/`)),
    );
    expect(states.length).toBeGreaterThanOrEqual(2);
    for (const p of states) {
      const bytes = readFileSync(p);
      bytes[bytes.length >> 1]! ^= 0x5a;
      writeFileSync(p, bytes);
    }
    const before = fingerprint(checkpoints);

    const r = await weir(args, { cwd: files.dir });
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.every((l) => l.startsWith('weir: '))).toBe(true);
    const unusable = lines.filter((l) =>
      /^weir: checkpoint \d+ of job 'flaky' \(run [0-9a-f-]+\) is unusable: state file /.test(l),
    );
    expect(unusable.length).toBe(2);
    expect(lines.at(-1)).toMatch(
      /^weir: no usable checkpoint of job 'flaky' in .*: all 2 failed verification \(see above\); nothing was changed\. Run without --resume to start from the beginning, or with -s PATH from a savepoint$/,
    );
    expect(fingerprint(checkpoints)).toEqual(before);
  }, 60_000);

  it('takes a checkpoint whose _metadata cannot be read for one that may be the newest: exits with 2, not from the beginning', async () => {
    const checkpoints = join(files.dir, 'unreadable');
    const { args, folders } = await failedRun(checkpoints);
    for (const f of folders) truncateToHalf(join(f, '_metadata'));
    const before = fingerprint(checkpoints);

    const r = await weir(args, { cwd: files.dir });
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.every((l) => l.startsWith('weir: '))).toBe(true);
    for (const f of folders)
      expect(lines.some((l) => l.includes(' is unusable: ') && l.includes(`${f}/_metadata`))).toBe(true);
    expect(r.stderr).not.toMatch(/starting from the beginning/);
    expect(lines.at(-1)).toMatch(
      /^weir: no usable checkpoint of job 'flaky' in .*: all 2 failed verification \(see above\); nothing was changed\./,
    );
    expect(fingerprint(checkpoints)).toEqual(before);
  }, 60_000);

  it('exits with 2, not from the beginning, when every complete checkpoint lost its _metadata', async () => {
    const checkpoints = join(files.dir, 'deleted');
    const { args, folders } = await failedRun(checkpoints);
    for (const f of folders) rmSync(join(f, '_metadata'));
    const before = fingerprint(checkpoints);

    const r = await weir(args, { cwd: files.dir });
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.every((l) => l.startsWith('weir: '))).toBe(true);
    const jobDir = folders[0]!.replace(/\/chk-\d+$/, '');
    expect(lines).toHaveLength(1);
    expect(r.stderr).not.toMatch(/starting from the beginning/);
    expect(lines[0]).toMatch(
      /^weir: job 'flaky' cannot be resumed without committing output a second time: run [0-9a-f-]+ committed output from checkpoint 1 on /,
    );
    expect(lines[0]).toContain(`(${jobDir}/_committed, written `);
    expect(lines[0]).toMatch(
      /; nothing was changed\. To go on, put its newest chk-<n> folder back \(n ≥ 1\), /,
    );
    expect(fingerprint(checkpoints)).toEqual(before);
  }, 60_000);

  it.each([
    ['cut in half', (path: string) => truncateToHalf(path)],
    [
      'a symbolic link to itself (it used to be an internal error)',
      (path: string) => {
        rmSync(path);
        symlinkSync('_metadata', path);
      },
    ],
  ])(
    'falls back past the newest checkpoint when its _metadata cannot be read: %s',
    async (_how, spoil) => {
      const checkpoints = join(files.dir, `newest-unreadable-${_how.length}`);
      const { args, folders } = await failedRun(checkpoints);
      const [older, newest] = folders as [string, string];
      spoil(join(newest, '_metadata'));

      const r = await weir(args, { cwd: files.dir });
      expect(r.stderr).toMatch(
        new RegExp(
          `^weir: checkpoint \\d+ of job 'flaky' \\(run [0-9a-f-]+\\) is unusable: ${newest}/_metadata: .*; falling back to an older checkpoint$`,
          'm',
        ),
      );
      const olderId = /chk-(\d+)$/.exec(older)![1];
      expect(r.stderr).toMatch(
        new RegExp(`^weir: resuming job 'flaky' \\([0-9a-f-]+\\) from checkpoint ${olderId}$`, 'm'),
      );
    },
    60_000,
  );

  it('passes over an older checkpoint whose _metadata cannot be read, without saying it falls back', async () => {
    // (Was: "…; falling back to an older checkpoint", then the newer one was resumed.)
    const checkpoints = join(files.dir, 'older-unreadable');
    const { args, folders } = await failedRun(checkpoints);
    const [older, newest] = folders as [string, string];
    truncateToHalf(join(older, '_metadata'));
    const r = await weir(args, { cwd: files.dir });
    expect(r.stderr).toMatch(
      new RegExp(
        `^weir: checkpoint \\d+ of job 'flaky' \\(run [0-9a-f-]+\\) is unusable: ${older}/_metadata: .*; not the newest of its run$`,
        'm',
      ),
    );
    const newestId = /chk-(\d+)$/.exec(newest)![1];
    expect(r.stderr).toMatch(
      new RegExp(`^weir: resuming job 'flaky' \\([0-9a-f-]+\\) from checkpoint ${newestId}$`, 'm'),
    );
  }, 60_000);

  it('stops, changing nothing, when the newest _metadata fails to read (EIO) rather than being damaged', async () => {
    const checkpoints = join(files.dir, 'newest-eio');
    const { args, folders } = await failedRun(checkpoints);
    const newest = folders[1]!;
    rmSync(join(newest, '_metadata'));
    symlinkSync('/proc/self/mem', join(newest, '_metadata')); // a file whose every read fails with EIO
    const before = fingerprintExcept(checkpoints, `${newest}/_metadata`);

    const r = await weir(args, { cwd: files.dir });
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(
      `weir: ${newest}/_metadata: cannot be read (EIO: i/o error, read); repair it or move it away`,
    );
    expect(fingerprintExcept(checkpoints, `${newest}/_metadata`)).toEqual(before);
  }, 60_000);
});
