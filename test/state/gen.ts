// A seeded generator for property tests: every run sees the same cases, and a failure names the
// seed that reproduces it. No dependency, so the cases cannot change under us with an upgrade.
import type { KeyValue } from '../../src/index.js';

/** mulberry32: small, fast, and good enough to spread test cases. */
export class Rng {
  private s: number;
  constructor(readonly seed: number) {
    this.s = seed >>> 0;
  }

  /** A uniform uint32. */
  next(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 0x100000000;
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  bool(pTrue = 0.5): boolean {
    return this.float() < pTrue;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)]!;
  }
}

// Code points from several planes, NUL (which the state-key encoding treats specially), and
// lone surrogates (which a naive UTF-8 round trip would lose).
const CHAR_POOLS: ReadonlyArray<readonly string[]> = [
  ['a', 'b', 'z', 'A', '0', ' ', ',', '"', '\\', '[', ']', '{', '}', ':', '$'],
  ['é', 'ß', 'ø', 'ñ', 'Ω', 'ж'],
  ['中', '文', '日', '本', '한'],
  ['🌊', '👍🏽', '𝔘', '🇫🇷'],
  ['\u0000', '\u0001', '\n', '\u007f', '\ufeff'],
  ['\ud800', '\udfff'],
];

export function randomString(rng: Rng): string {
  const n = rng.pick([0, 1, 2, 3, 5, 8, 13, 40]);
  let s = '';
  for (let i = 0; i < n; i++) s += rng.pick(rng.pick(CHAR_POOLS));
  return s;
}

const SPECIAL_NUMBERS: readonly number[] = [
  0,
  -0,
  NaN,
  Infinity,
  -Infinity,
  1,
  -1,
  0x7fffffff,
  -0x80000000,
  2 ** 31,
  -(2 ** 31) - 1,
  2 ** 32,
  2 ** 53,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
  Number.EPSILON,
  0.1,
  -0.5,
];

export function randomNumber(rng: Rng): number {
  switch (rng.int(0, 4)) {
    case 0:
      return rng.next() | 0;
    case 1:
      return rng.int(-100, 100);
    case 2:
      return (rng.float() - 0.5) * 10 ** rng.int(-8, 20);
    case 3:
      return rng.pick(SPECIAL_NUMBERS);
    default:
      return rng.next() * 2 ** rng.int(0, 40);
  }
}

export function randomBigInt(rng: Rng): bigint {
  const words = rng.pick([0, 1, 1, 2, 3, 8]);
  let v = BigInt(rng.int(0, 1000));
  for (let i = 0; i < words; i++) v = (v << 32n) | BigInt(rng.next());
  return rng.bool() ? -v : v;
}

/** Any valid key: a primitive of each kind, or a (nested) array of keys. */
export function randomKey(rng: Rng, depth = 0): KeyValue {
  const kind = rng.int(0, depth < 3 ? 5 : 4);
  switch (kind) {
    case 0:
    case 1:
      return randomString(rng);
    case 2:
      return randomNumber(rng);
    case 3:
      return randomBigInt(rng);
    case 4:
      return rng.bool();
    default: {
      const n = rng.int(0, 4);
      const a: KeyValue[] = [];
      for (let i = 0; i < n; i++) a.push(randomKey(rng, depth + 1));
      return a;
    }
  }
}

/** `n` keys from `seed`. Calling it twice with one seed gives equal keys that are distinct objects. */
export function randomKeys(seed: number, n: number): KeyValue[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => randomKey(rng));
}

/** A printable form of a key for failure messages (JSON cannot print bigints, -0 or NaN). */
export function show(key: unknown): string {
  if (typeof key === 'string') return JSON.stringify(key);
  if (typeof key === 'bigint') return `${key}n`;
  if (Array.isArray(key)) return `[${key.map(show).join(', ')}]`;
  if (Object.is(key, -0)) return '-0';
  if (typeof key === 'symbol') return key.toString();
  if (typeof key === 'object' && key !== null) return Object.prototype.toString.call(key);
  return String(key);
}
