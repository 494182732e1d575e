// Acceptance (issue 4, points 1 and 2) through the real command line: `weir stop` a word count at
// p=2 midway, move the savepoint, resume it at p=3 (and copies of it at p=1 and p=2, as forks
// into their own outputs): every word's counts are exactly 1..n, each once, in every output; the
// savepoint folders are byte-for-byte unchanged by the restores and the checkpoint cleanups
// after them. Also `weir savepoint` on a running job and `weir cancel`.
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng } from '../state/gen.js';
import { fingerprint } from '../tree-fingerprint.js';
import { weir, type WeirResult } from './weir-process.js';

const WORD_COUNT = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));
const ANNOUNCE = /weir: job '[^']*' \(([0-9a-f-]+)\) running/;

function writeText(path: string, words: number, rng: Rng): Map<string, number> {
  const vocab = Array.from({ length: 3000 }, (_, i) => `w${i.toString(36)}`);
  const counts = new Map<string, number>();
  const lines: string[] = [];
  let n = 0;
  while (n < words) {
    const k = rng.int(1, 16);
    const line: string[] = [];
    for (let i = 0; i < k; i++) {
      const w = vocab[Math.floor(vocab.length * rng.float() ** 2)]!;
      line.push(w);
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    n += k;
    lines.push(line.join(' '));
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return counts;
}

/** word → every count committed for it, over all `dirs`. */
function committed(...dirs: string[]): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  for (const dir of dirs) {
    for (const f of readdirSync(dir)) {
      if (f.startsWith('.') || f.startsWith('_')) continue;
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        if (line === '') continue;
        const comma = line.lastIndexOf(',');
        const word = line.slice(0, comma);
        let l = seen.get(word);
        if (l === undefined) seen.set(word, (l = []));
        l.push(Number(line.slice(comma + 1)));
      }
    }
  }
  return seen;
}

function expectExactlyOnce(seen: Map<string, number[]>, expected: Map<string, number>): void {
  expect(seen.size).toBe(expected.size);
  for (const [word, n] of expected) {
    const counts = (seen.get(word) ?? []).sort((a, b) => a - b);
    expect(counts.length, word).toBe(n);
    for (let i = 0; i < n; i++)
      if (counts[i] !== i + 1) expect(counts.slice(i, i + 3), `${word} at ${i}`).toEqual([i + 1]);
  }
}

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
    const expected = writeText(input, 3_000_000, new Rng(4));
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
    const beforeStop = committed(out);
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
    expectExactlyOnce(committed(out), expected);
    for (const o of forkOuts) expectExactlyOnce(committed(o), expected);
    // The jobs took checkpoints and deleted them at their end; the savepoints are as they were.
    expect(readdirSync(join(work, 'checkpoints')).length).toBeGreaterThan(0);
    expect([moved, ...copies].map(fingerprint)).toEqual(prints);
  }, 300_000);

  it('weir savepoint keeps the job running; the savepoint restores; weir cancel ends a job with exit 1', async () => {
    const work = mkdtempSync(join(tmpdir(), 'weir-splc-'));
    const input = join(work, 'text.txt');
    const expected = writeText(input, 3_000_000, new Rng(5));
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
    expectExactlyOnce(committed(join(work, 'out')), expected);
    const path = sp.stdout.trim().split('\n').at(-1)!;
    // Checkpoints were off and nothing was committed by the savepoint: a fork from it writes
    // the rest, which with the words before it (counted from the savepoint) is everything.
    const fork = await weir(args(join(work, 'fork'), '-s', path), { env });
    expect(fork.code, fork.stderr).toBe(0);
    const tail = committed(join(work, 'fork'));
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
