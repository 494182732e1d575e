// What the word-count process tests share: a text with known word counts, and the check that the
// committed output holds every word's running counts 1..n, each exactly once.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { Rng } from '../state/gen.js';

export const WORD_COUNT = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));

/** `words` words over a Zipf-like vocabulary, so some words count into the hundreds of thousands. */
export function writeText(path: string, rng: Rng, words: number): Map<string, number> {
  const vocab = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}`);
  const counts = new Map<string, number>();
  const lines: string[] = [];
  let written = 0;
  while (written < words) {
    const n = rng.int(1, 20);
    const line: string[] = [];
    for (let i = 0; i < n; i++) {
      const w = vocab[Math.floor(vocab.length * rng.float() ** 3)]!;
      line.push(w);
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    written += n;
    lines.push(line.join(rng.bool(0.1) ? '  \t' : ' '));
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return counts;
}

/** word → every count committed for it in the visible files of `dir`. */
export function committedCounts(dir: string): Map<string, number[]> {
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

/** Every word of `expected` has the counts 1..n in `seen`, each once. */
export function expectCounts(
  seen: ReadonlyMap<string, number[]>,
  expected: ReadonlyMap<string, number>,
): void {
  expect(seen.size).toBe(expected.size);
  for (const [word, n] of expected) {
    const counts = [...(seen.get(word) ?? [])].sort((a, b) => a - b);
    expect(counts.length, word).toBe(n);
    for (let i = 0; i < n; i++)
      if (counts[i] !== i + 1) expect(counts.slice(i, i + 3), `${word} at ${i}`).toEqual([i + 1]);
  }
}

/** Every word of `expected` has the counts 1..n in the visible files of `dir`, each once. */
export function expectExactlyOnce(dir: string, expected: ReadonlyMap<string, number>): void {
  expectCounts(committedCounts(dir), expected);
}
