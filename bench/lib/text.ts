// A seeded synthetic text for word-count benchmarks: words drawn from a fixed vocabulary with a
// Zipf-like distribution (the word of rank r has weight 1/r), about ten words a line, with a
// little irregular whitespace (double spaces, tabs, leading blanks) so that splitting on /\s+/
// meets empty tokens as it does on real text.

/** mulberry32: a small, fast, seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface GeneratedText {
  readonly lines: string[];
  /** Number of (non-empty) words in all lines. */
  readonly words: number;
  /** Occurrences per distinct word. */
  readonly counts: Map<string, number>;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function vocabulary(size: number, random: () => number): string[] {
  const seen = new Set<string>();
  const words: string[] = [];
  while (words.length < size) {
    // Lengths 2–10, shorter words more likely (as frequent words are short).
    const len = 2 + Math.floor(random() * random() * 9);
    let w = '';
    for (let i = 0; i < len; i++) w += LETTERS[Math.floor(random() * 26)];
    if (!seen.has(w)) {
      seen.add(w);
      words.push(w);
    }
  }
  // Sort by length so the most frequent ranks get the shortest words.
  return words.sort((a, b) => a.length - b.length);
}

export function generateText(totalWords: number, vocabularySize = 10_000, seed = 20240611): GeneratedText {
  const random = seededRandom(seed);
  const vocab = vocabulary(vocabularySize, random);
  const cumulative = new Float64Array(vocab.length);
  let total = 0;
  for (let r = 0; r < vocab.length; r++) cumulative[r] = total += 1 / (r + 1);
  const pick = (): string => {
    const u = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid]! > u) hi = mid;
      else lo = mid + 1;
    }
    return vocab[lo]!;
  };

  const lines: string[] = [];
  const counts = new Map<string, number>();
  let words = 0;
  while (words < totalWords) {
    const n = Math.min(6 + Math.floor(random() * 9), totalWords - words); // 6–14 words, ~10 on average
    let line = random() < 0.05 ? ' ' : '';
    for (let i = 0; i < n; i++) {
      const w = pick();
      counts.set(w, (counts.get(w) ?? 0) + 1);
      if (i > 0) {
        const s = random();
        line += s < 0.02 ? '  ' : s < 0.03 ? '\t' : ' ';
      }
      line += w;
    }
    if (random() < 0.05) line += ' ';
    lines.push(line);
    words += n;
  }
  return { lines, words, counts };
}
