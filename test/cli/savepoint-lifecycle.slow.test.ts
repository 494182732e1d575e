// Acceptance (issue 4, points 1 and 2) through the real command line: `weir stop` a word count at
// p=2 midway, move the savepoint, resume it at p=3 (and copies of it at p=1 and p=2, as forks
// into their own outputs): every word's counts are exactly 1..n, each once, in every output; the
// savepoint folders are byte-for-byte unchanged by the restores and the checkpoint cleanups
// after them. Also `weir savepoint` on a running job and `weir cancel`.
import { cpSync, mkdtempSync, readdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../state/gen.js';
import { fingerprint } from '../tree-fingerprint.js';
import { weir, type WeirResult } from './weir-process.js';
import { committedCounts, expectCounts, WORD_COUNT, writeText } from './word-count-text.js';

const ANNOUNCE = /weir: job '[^']*' \(([0-9a-f-]+)\) running/;

/** Runs a job; once it announces itself, runs `control(jobId)` (a weir command) and returns both results. */
async function runAndControl(
  runArgs: string[],
  env: Record<string, string>,
  control: (jobId: string) => string[],
): Promise<{ run: WeirResult; control: WeirResult }> {
  let controlled: Promise<WeirResult> | undefined;
  const run = await weir(runArgs, {
    env,
    onStderr: (chunk) => {
      const m = ANNOUNCE.exec(chunk);
      if (m !== null) controlled ??= weir(control(m[1]!), { env });
    },
  });
  expect(controlled, run.rawStderr).toBeDefined();
  return { run, control: await controlled! };
}

describe('savepoints through the command line', () => {
  it('stop at p=2, move, resume at p=3 and fork two copies: exactly once everywhere, savepoints untouched', async () => {
    const work = mkdtempSync(join(tmpdir(), 'weir-splc-'));
    const input = join(work, 'text.txt');
    const expected = writeText(input, new Rng(4), 3_000_000);
    const env = { WEIR_HOME: join(work, 'home'), WEIR_PROGRESS_INTERVAL_MS: '0' };
    const out = join(work, 'out');
    const wc = (p: number, output: string, ...extra: string[]): string[] => [
      'run',
      WORD_COUNT,
      '-p',
      String(p),
      '--checkpoint-interval',
      '100ms',
      '--checkpoint-dir',
      join(work, 'checkpoints'),
      ...extra,
      '--',
      '--input',
      input,
      '--output',
      output,
    ];

    const { run, control: stop } = await runAndControl(wc(2, out), env, (id) => [
      'stop',
      id.slice(0, 8),
      '--savepoint-dir',
      join(work, 'savepoints'),
    ]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(run.code, run.stderr).toBe(0);
    const path = stop.stdout.trim().split('\n').at(-1)!;
    expect(path.startsWith(join(work, 'savepoints', 'savepoint-'))).toBe(true);
    expect(run.stderr).toContain(`stopped with savepoint ${path}`);
    const beforeStop = committedCounts(out);
    const words = [...beforeStop.values()].reduce((n, l) => n + l.length, 0);
    expect(words).toBeGreaterThan(0);
    expect(words).toBeLessThan(3_000_000);

    // Relocation: the savepoint moves; two copies of it fork two jobs into their own outputs.
    const moved = join(work, 'elsewhere', 'sp');
    cpSync(join(work, 'savepoints'), join(work, 'elsewhere'), { recursive: true });
    renameSync(join(work, 'elsewhere', path.split('/').at(-1)!), moved);
    const copies = [join(work, 'copy-a'), join(work, 'copy-b')];
    for (const c of copies) cpSync(moved, c, { recursive: true });
    const prints = [moved, ...copies].map(fingerprint);
    const forkOuts = [join(work, 'out-a'), join(work, 'out-b')];
    // The stopped job's committed output is the forks' past too.
    for (const o of forkOuts) cpSync(out, o, { recursive: true });

    const resumed = await Promise.all([
      weir(wc(3, out, '-s', moved), { env }),
      weir(wc(1, forkOuts[0]!, '-s', join(copies[0]!, '_metadata')), { env }),
      weir(wc(2, forkOuts[1]!, '-s', copies[1]!), { env }),
    ]);
    for (const r of resumed) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(/restoring job 'word-count' from savepoint \d+/);
    }
    expectCounts(committedCounts(out), expected);
    for (const o of forkOuts) expectCounts(committedCounts(o), expected);
    // The jobs took checkpoints and deleted them at their end; the savepoints are as they were.
    expect(readdirSync(join(work, 'checkpoints')).length).toBeGreaterThan(0);
    expect([moved, ...copies].map(fingerprint)).toEqual(prints);
  }, 300_000);

  it('weir savepoint keeps the job running; the savepoint restores; weir cancel ends a job with exit 1', async () => {
    const work = mkdtempSync(join(tmpdir(), 'weir-splc-'));
    const input = join(work, 'text.txt');
    const expected = writeText(input, new Rng(5), 3_000_000);
    const env = { WEIR_HOME: join(work, 'home'), WEIR_PROGRESS_INTERVAL_MS: '0' };
    const args = (output: string, ...extra: string[]): string[] => [
      'run',
      WORD_COUNT,
      '-p',
      '2',
      ...extra,
      '--',
      '--input',
      input,
      '--output',
      output,
    ];
    const { run, control: sp } = await runAndControl(args(join(work, 'out')), env, (id) => [
      'savepoint',
      id,
      '--target-dir',
      join(work, 'sp'),
    ]);
    expect(sp.code, sp.stderr).toBe(0);
    expect(sp.stderr).toMatch(/completed; the job keeps running/);
    expect(run.code, run.stderr).toBe(0);
    expectCounts(committedCounts(join(work, 'out')), expected);
    const path = sp.stdout.trim().split('\n').at(-1)!;
    // Checkpoints were off and nothing was committed by the savepoint: a fork from it writes
    // the rest, which with the words before it (counted from the savepoint) is everything.
    const fork = await weir(args(join(work, 'fork'), '-s', path), { env });
    expect(fork.code, fork.stderr).toBe(0);
    const tail = committedCounts(join(work, 'fork'));
    for (const [word, counts] of tail) {
      counts.sort((a, b) => a - b);
      expect(counts.at(-1), word).toBe(expected.get(word));
      counts.forEach((c, i) => expect(c).toBe(counts[0]! + i));
    }

    const cancelled = await runAndControl(args(join(work, 'out-c')), env, (id) => ['cancel', id]);
    expect(cancelled.control.code, cancelled.control.stderr).toBe(0);
    expect(cancelled.run.code).toBe(1);
    expect(cancelled.run.stderr).toMatch(/^weir: job 'word-count' was cancelled$/m);
  }, 300_000);
});
