// Acceptance (issue 3, point 2): `weir run examples/word-count.ts … --checkpoint-interval 200ms
// --resume` on a text of over 2 million words, killed with SIGKILL at 5 random moments and resumed
// each time, ends with committed output in which every word's counts are exactly 1..n, each once.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng } from '../state/gen.js';
import { runWithKills } from './weir-process.js';

const WORD_COUNT = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));

/** ~4 M words over a Zipf-like vocabulary, so some words count into the hundreds of thousands. */
function writeText(path: string, rng: Rng): Map<string, number> {
  const vocab = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);
  const counts = new Map<string, number>();
  const lines: string[] = [];
  let words = 0;
  while (words < 4_000_000) {
    const n = rng.int(1, 20);
    const line: string[] = [];
    for (let i = 0; i < n; i++) {
      const w = vocab[Math.floor(vocab.length * rng.float() ** 3)]!;
      line.push(w);
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    words += n;
    lines.push(line.join(rng.bool(0.1) ? '  \t' : ' '));
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return counts;
}

function committedCounts(dir: string): Map<string, number[]> {
  const seen = new Map<string, number[]>();
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
  return seen;
}

describe('weir run --resume after SIGKILL', () => {
  it('commits every word count exactly once over 5 kills and resumes', async () => {
    const rng = new Rng(20261124);
    const work = mkdtempSync(join(tmpdir(), 'weir-kill-'));
    const input = join(work, 'text.txt');
    const expected = writeText(input, rng);
    const output = join(work, 'out');
    const args = [
      'run',
      WORD_COUNT,
      '-p',
      '2',
      '--checkpoint-interval',
      '200ms',
      '--checkpoint-dir',
      join(work, 'checkpoints'),
      '--resume',
      '--',
      '--input',
      input,
      '--output',
      output,
    ];
    // Progress lines every 50 ms say which checkpoint completed last, so every kill can come
    // after this run's first checkpoint, however slow the machine is today.
    const env = { WEIR_HOME: join(work, 'home'), WEIR_PROGRESS_INTERVAL_MS: '50' };
    // Each kill comes a random moment soon after a run's first checkpoint, so the job (a few
    // seconds of work) is killed mid-way every time and each resume has progress to keep.
    const { kills, resumed: resumedFromCheckpoint } = await runWithKills(args, env, rng, 5);
    expect(kills).toBe(5);
    expect(resumedFromCheckpoint).toBeGreaterThanOrEqual(4);
    const seen = committedCounts(output);
    expect(seen.size).toBe(expected.size);
    for (const [word, n] of expected) {
      const counts = (seen.get(word) ?? []).sort((a, b) => a - b);
      expect(counts.length, word).toBe(n);
      for (let i = 0; i < n; i++)
        if (counts[i] !== i + 1) expect(counts.slice(i, i + 3), `${word} at ${i}`).toEqual([i + 1]);
    }
  }, 300_000);
});
