import { describe, expect, it } from 'vitest';
import {
  hashKey,
  InvalidKeyError,
  keyGroupOf,
  KeyGroupRange,
  murmurMix,
  subtaskForKeyGroup,
  UPPER_BOUND_MAX_PARALLELISM,
} from '../../src/state/key-group.js';
import { randomKeys, Rng, show } from './gen.js';

/** Checks that subtasks 0..p−1 partition [0, M) as ARCHITECTURE.md §1 says; returns what is wrong. */
function partitionProblems(p: number, M: number): string[] {
  const problems: string[] = [];
  let next = 0;
  let smallest = Infinity;
  let largest = -Infinity;
  for (let i = 0; i < p; i++) {
    const r = KeyGroupRange.forSubtask(i, p, M);
    // Starting exactly where the previous range ended means: in order, contiguous, no overlap, no gap.
    if (r.start !== next) problems.push(`p=${p} M=${M}: subtask ${i} starts at ${r.start}, expected ${next}`);
    if (r.size < 1) problems.push(`p=${p} M=${M}: subtask ${i} owns no key group although p <= M`);
    if (r.size !== r.end - r.start + 1)
      problems.push(`p=${p} M=${M}: subtask ${i} size ${r.size} disagrees with ${r}`);
    smallest = Math.min(smallest, r.size);
    largest = Math.max(largest, r.size);
    next = r.end + 1;
  }
  if (next !== M) problems.push(`p=${p} M=${M}: the ranges end at ${next - 1}, expected ${M - 1}`);
  if (largest - smallest > 1) problems.push(`p=${p} M=${M}: range sizes go from ${smallest} to ${largest}`);
  return problems;
}

/** Which subtask's range contains `g`, found by looking at the ranges themselves. */
function ownerByRanges(g: number, p: number, M: number): number {
  let lo = 0;
  let hi = p - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (KeyGroupRange.forSubtask(mid, p, M).end < g) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** (M, p) pairs: every p for small M and for M = 128, samples (with the edges) for large M. */
function parallelismPairs(): Array<[M: number, p: number]> {
  const pairs: Array<[number, number]> = [];
  for (let M = 1; M <= 160; M++) for (let p = 1; p <= M; p++) pairs.push([M, p]);
  const rng = new Rng(7);
  const bigMs = [UPPER_BOUND_MAX_PARALLELISM, 32767, 1000, 4096, 257, 511];
  for (let i = 0; i < 12; i++) bigMs.push(rng.int(161, UPPER_BOUND_MAX_PARALLELISM));
  for (const M of bigMs) {
    const ps = new Set([1, 2, 3, 7, M - 1, M, Math.floor(M / 2), Math.ceil(M / 3)]);
    for (let i = 0; i < 8; i++) ps.add(rng.int(1, M));
    for (const p of ps) pairs.push([M, p]);
  }
  return pairs;
}

describe('KeyGroupRange.forSubtask', () => {
  it('partitions [0, M) into p contiguous, ordered ranges whose sizes differ by at most one', () => {
    const problems: string[] = [];
    for (const [M, p] of parallelismPairs()) problems.push(...partitionProblems(p, M));
    expect(problems).toEqual([]);
  });

  it('matches the formula of ARCHITECTURE.md §1', () => {
    // The formula is what a restore at another parallelism relies on; the partition property
    // alone would also hold for a different (incompatible) split.
    const r = KeyGroupRange.forSubtask(1, 3, 128);
    expect([r.start, r.end]).toEqual([Math.ceil(128 / 3), Math.ceil((2 * 128) / 3) - 1]);
    expect(String(KeyGroupRange.forSubtask(0, 2, 128))).toBe('[0, 63]');
    expect(String(KeyGroupRange.forSubtask(1, 2, 128))).toBe('[64, 127]');
    expect(String(KeyGroupRange.forSubtask(0, 1, 1))).toBe('[0, 0]');
    expect(String(KeyGroupRange.forSubtask(2, 3, 10))).toBe('[7, 9]');
  });

  it('agrees with subtaskForKeyGroup for every key group', () => {
    const wrong: string[] = [];
    for (const [M, p] of parallelismPairs()) {
      if (M > 4096) continue; // exhaustive over groups; the sampled large M are covered by keys below
      let i = 0;
      let range = KeyGroupRange.forSubtask(0, p, M);
      for (let g = 0; g < M; g++) {
        while (!range.contains(g)) range = KeyGroupRange.forSubtask(++i, p, M);
        const s = subtaskForKeyGroup(g, p, M);
        if (s !== i)
          wrong.push(`M=${M} p=${p} group ${g}: subtaskForKeyGroup says ${s}, the ranges say ${i}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('rejects impossible parallelism settings', () => {
    expect(() => KeyGroupRange.forSubtask(0, 2, 1)).toThrow(RangeError);
    expect(() => KeyGroupRange.forSubtask(0, 2, 1)).toThrow(/parallelism .* \[1, max parallelism 1\], got 2/);
    expect(() => KeyGroupRange.forSubtask(0, 1, UPPER_BOUND_MAX_PARALLELISM + 1)).toThrow(
      /max parallelism must be an integer in \[1, 32768\]/,
    );
    expect(() => KeyGroupRange.forSubtask(0, 1, 0)).toThrow(RangeError);
    expect(() => KeyGroupRange.forSubtask(0, 1.5, 128)).toThrow(RangeError);
    expect(() => KeyGroupRange.forSubtask(2, 2, 128)).toThrow(/subtask index 2 is outside \[0, 2\)/);
    expect(() => KeyGroupRange.forSubtask(-1, 2, 128)).toThrow(RangeError);
  });

  it('has an empty range that contains nothing', () => {
    const empty = new KeyGroupRange(5, 4);
    expect(empty.size).toBe(0);
    expect(empty.contains(4)).toBe(false);
    expect(empty.contains(5)).toBe(false);
  });
});

describe('keyGroupOf', () => {
  it('puts every key in [0, M), in the group of the subtask whose range holds it', () => {
    const rng = new Rng(11);
    const keys = randomKeys(1, 3000);
    const wrong: string[] = [];
    for (const key of keys) {
      const M = rng.pick([
        1,
        2,
        3,
        128,
        129,
        1000,
        4096,
        32767,
        UPPER_BOUND_MAX_PARALLELISM,
        rng.int(1, UPPER_BOUND_MAX_PARALLELISM),
      ]);
      const p = rng.pick([1, Math.min(2, M), M, rng.int(1, M)]);
      const g = keyGroupOf(key, M);
      if (!Number.isInteger(g) || g < 0 || g >= M) {
        wrong.push(`${show(key)}: group ${g} outside [0, ${M})`);
        continue;
      }
      const s = subtaskForKeyGroup(g, p, M);
      const owner = ownerByRanges(g, p, M);
      if (s !== owner || !KeyGroupRange.forSubtask(s, p, M).contains(g)) {
        wrong.push(`${show(key)} M=${M} p=${p}: group ${g} sent to subtask ${s}, owned by ${owner}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('gives equal keys the same group', () => {
    const M = 32768;
    expect(keyGroupOf(['a', 1], M)).toBe(keyGroupOf(['a', 1], M));
    expect(keyGroupOf([['x', [2n]], true], M)).toBe(keyGroupOf([['x', [2n]], true], M));
    expect(keyGroupOf(0, M)).toBe(keyGroupOf(-0, M));
    expect(keyGroupOf([0], M)).toBe(keyGroupOf([-0], M));
    expect(keyGroupOf(1, M)).toBe(keyGroupOf(1.0, M));
    expect(keyGroupOf('ab', M)).toBe(keyGroupOf('a' + 'b', M));
    expect(keyGroupOf(10n ** 40n, M)).toBe(keyGroupOf(BigInt('1' + '0'.repeat(40)), M));
    // A NaN with other payload bits is still the one NaN key (SameValueZero).
    const otherNaN = new Float64Array(new Uint32Array([1, 0x7ff00000]).buffer)[0]!;
    expect(otherNaN).toBeNaN();
    expect(keyGroupOf(otherNaN, M)).toBe(keyGroupOf(NaN, M));
    expect(keyGroupOf([otherNaN], M)).toBe(keyGroupOf([NaN], M));

    // Keys generated twice from one seed are equal but share no objects.
    const a = randomKeys(5, 2000);
    const b = randomKeys(5, 2000);
    const differ = a.filter((k, i) => keyGroupOf(k, M) !== keyGroupOf(b[i], M)).map(show);
    expect(differ).toEqual([]);
  });

  it('spreads keys evenly over the groups', () => {
    // A weak mix (or none) concentrates similar keys; 100k keys over 128 groups stay within 15%.
    const counts = new Array<number>(128).fill(0);
    const rng = new Rng(3);
    for (let i = 0; i < 50_000; i++) counts[keyGroupOf(`user-${i}`, 128)]!++;
    for (let i = 0; i < 25_000; i++) counts[keyGroupOf(i * 128, 128)]!++;
    for (let i = 0; i < 25_000; i++) counts[keyGroupOf(rng.float() * 1000, 128)]!++;
    const expected = 100_000 / 128;
    expect(Math.min(...counts)).toBeGreaterThan(expected * 0.85);
    expect(Math.max(...counts)).toBeLessThan(expected * 1.15);
  });

  it('rejects keys that are not primitives or arrays of them, saying what it got and what to do', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ id: 1 }, /got an object \(Object\)/],
      [new Date(0), /got an object \(Date\)/],
      [new Map(), /got an object \(Map\)/],
      [Object.create(null), /got an object;/],
      [new Uint8Array(2), /got an object \(Uint8Array\)/],
      [null, /got null/],
      [undefined, /got undefined/],
      [() => 1, /got function/],
      [Symbol('k'), /got symbol/],
      [['a', { id: 1 }], /got an object \(Object\)/],
      [[null], /got null/],
      [[['deep', [undefined]]], /got undefined/],
      // A hole reads as undefined: a sparse array is not a key.
      [[1, , 2], /got undefined/],
    ];
    for (const [key, got] of cases) {
      let err: unknown;
      try {
        keyGroupOf(key, 128);
      } catch (e) {
        err = e;
      }
      expect(err, show(key)).toBeInstanceOf(InvalidKeyError);
      const message = (err as Error).message;
      expect(message).toMatch(/^a key must be a string, number, bigint, boolean or an array of those/);
      expect(message).toMatch(got);
      expect(message).toMatch(/for an object, pick its fields: r => \[r\.a, r\.b\]/);
      expect((err as Error).name).toBe('InvalidKeyError');
    }
  });

  it('keeps the pinned key groups of fixed keys', () => {
    // ON-DISK CONTRACT (ARCHITECTURE.md §8, docs/runtime.md): keyed state is stored by key group,
    // and a restore finds a key's state by recomputing its group. If any value below changes,
    // every existing checkpoint and savepoint silently loses its keyed state. Do not update these
    // numbers to make the test pass; bump the state format and migrate instead.
    const pinned: Array<[key: unknown, hash: number, groupOf128: number, groupOf32768: number]> = [
      ['a', 97, 81, 19409],
      ['hello', 99162322, 35, 31395],
      ['', 0, 94, 31198],
      ['héllo wörld 🌊', 1121588981, 16, 23056],
      [0, 0, 94, 31198],
      [1, 1, 86, 16342],
      [-1, -1, 80, 15184],
      [42, 42, 29, 28189],
      [2147483647, 2147483647, 62, 19646],
      [-2147483648, -2147483648, 108, 10348],
      [2 ** 31, 1105199104, 28, 19100],
      [1.5, 1073217536, 65, 833],
      [-0.1, 639631363, 18, 25362],
      [Number.MAX_SAFE_INTEGER, -1128267776, 75, 21579],
      [Infinity, 2146435072, 122, 8442],
      [NaN, 2146959360, 41, 12713],
      [0n, 0, 94, 31198],
      [42n, 42, 29, 28189],
      [-42n, 11, 102, 18406],
      [2n ** 100n, 16, 116, 29300],
      [true, 1231, 77, 11725],
      [false, 1237, 3, 32003],
      [['a', 1], 3969, 75, 22731],
      [[], 1, 86, 16342],
      [[['x'], [1n, true]], 7865, 56, 11192],
    ];
    const actual = pinned.map(([key]) => [key, hashKey(key), keyGroupOf(key, 128), keyGroupOf(key, 32768)]);
    expect(actual).toEqual(pinned);
  });
});

// ---------------------------------------------------------------------------------------------
// An independent model of the hash, written from the specifications rather than from the code:
// murmur3_32 (Austin Appleby, SMHasher) over little-endian bytes, Flink's MathUtils.murmurHash
// (murmur3_32 of one 4-byte block with seed 0, then a non-negative int with MIN_VALUE → 0), and
// the Java hashCode rules docs/runtime.md says key hashing follows. BigInt arithmetic modulo 2^32
// keeps it free of the Math.imul and `| 0` tricks the implementation uses.

const U32 = 0xffffffffn;
const mul32 = (a: bigint, b: bigint): bigint => (a * b) & U32;
const rotl32 = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (32n - r))) & U32;
const rotr32 = (x: bigint, r: bigint): bigint => rotl32(x, 32n - r);
const C1 = 0xcc9e2d51n;
const C2 = 0x1b873593n;
const N = 0xe6546b64n;
const F1 = 0x85ebca6bn;
const F2 = 0xc2b2ae35n;

function fmix32(h: bigint): bigint {
  h ^= h >> 16n;
  h = mul32(h, F1);
  h ^= h >> 13n;
  h = mul32(h, F2);
  h ^= h >> 16n;
  return h;
}

/** murmur3_32 over bytes, unsigned. */
function murmur3_32(bytes: Uint8Array, seed: number): bigint {
  let h = BigInt(seed >>> 0);
  const blocks = bytes.length >> 2;
  for (let i = 0; i < blocks; i++) {
    let k =
      BigInt(bytes[4 * i]! | (bytes[4 * i + 1]! << 8) | (bytes[4 * i + 2]! << 16)) |
      (BigInt(bytes[4 * i + 3]!) << 24n);
    k = mul32(rotl32(mul32(k, C1), 15n), C2);
    h = (mul32(rotl32(h ^ k, 13n), 5n) + N) & U32;
  }
  let k = 0n;
  const tail = bytes.length & 3;
  for (let j = tail - 1; j >= 0; j--) k = (k << 8n) | BigInt(bytes[4 * blocks + j]!);
  if (tail > 0) h ^= mul32(rotl32(mul32(k, C1), 15n), C2);
  return fmix32(h ^ BigInt(bytes.length));
}

function littleEndian(int32: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, int32, true);
  return b;
}

function toInt32(u: bigint): bigint {
  return u >= 0x80000000n ? u - 0x100000000n : u;
}

/** Flink's MathUtils.murmurHash(int). */
function flinkMurmurHash(code: number): number {
  const h = toInt32(murmur3_32(littleEndian(code), 0));
  if (h >= 0n) return Number(h);
  return h === -0x80000000n ? 0 : Number(-h);
}

/** Java's String.hashCode over UTF-16 code units. */
function javaStringHash(s: string): number {
  let h = 0n;
  for (let i = 0; i < s.length; i++) h = (h * 31n + BigInt(s.charCodeAt(i))) & U32;
  return Number(toInt32(h));
}

/** Java's Double.hashCode: the IEEE-754 bits, high word XOR low word. */
function javaDoubleHash(d: number): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, d);
  const bits = v.getBigUint64(0);
  return Number(toInt32((bits ^ (bits >> 32n)) & U32));
}

/** Modular inverse of an odd number modulo 2^32 (Newton's iteration). */
function inverse32(a: bigint): bigint {
  let x = a;
  for (let i = 0; i < 5; i++) x = mul32(x, (2n - mul32(a, x)) & U32);
  return x;
}

function unshiftXor(y: bigint, s: bigint): bigint {
  let x = y;
  for (let i = 0; i < 32; i += Number(s)) x = y ^ (x >> s);
  return x;
}

/** The int32 whose one-block murmur3_32 (seed 0) is `h`: every step of the mix is a bijection. */
function murmurPreimage(h: bigint): number {
  h = unshiftXor(h, 16n);
  h = mul32(h, inverse32(F2));
  h = unshiftXor(h, 13n);
  h = mul32(h, inverse32(F1));
  h = unshiftXor(h, 16n);
  h ^= 4n;
  h = mul32((h - N) & U32, inverse32(5n));
  let k = rotr32(h, 13n);
  k = mul32(k, inverse32(C2));
  k = rotr32(k, 15n);
  k = mul32(k, inverse32(C1));
  return Number(toInt32(k));
}

describe('murmurMix against an independent murmur3 model', () => {
  it('the model reproduces the published murmur3_32 test vectors', () => {
    // Without this, the comparisons below would only show that two implementations agree.
    const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);
    const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(murmur3_32(bytes(), 0)).toBe(0n);
    expect(murmur3_32(bytes(), 1)).toBe(0x514e28b7n);
    expect(murmur3_32(bytes(), 0xffffffff)).toBe(0x81f16f39n);
    expect(murmur3_32(bytes(0, 0, 0, 0), 0)).toBe(0x2362f9den);
    expect(murmur3_32(bytes(0xff, 0xff, 0xff, 0xff), 0)).toBe(0x76293b50n);
    expect(murmur3_32(bytes(0x21, 0x43, 0x65, 0x87), 0)).toBe(0xf55b516bn);
    expect(murmur3_32(bytes(0x21, 0x43, 0x65, 0x87), 0x5082edee)).toBe(0x2362f9den);
    expect(murmur3_32(bytes(0x21, 0x43, 0x65), 0)).toBe(0x7e4a8634n);
    expect(murmur3_32(bytes(0x21, 0x43), 0)).toBe(0xa0f7b07an);
    expect(murmur3_32(bytes(0x21), 0)).toBe(0x72661cf4n);
    expect(murmur3_32(utf8('Hello, world!'), 1234)).toBe(0xfaf6cdb3n);
    expect(murmur3_32(utf8('The quick brown fox jumps over the lazy dog'), 0x9747b28c)).toBe(0x2fa826cdn);
  });

  it('equals Flink MathUtils.murmurHash on edge and random ints', () => {
    const rng = new Rng(99);
    const ints = [0, 1, -1, 2, 42, 97, 0x7fffffff, -0x80000000, 0x87654321 | 0, 123456789, -123456789];
    for (let i = 0; i < 5000; i++) ints.push(rng.next() | 0);
    const wrong = ints.filter((c) => murmurMix(c) !== flinkMurmurHash(c));
    expect(wrong).toEqual([]);
    expect(murmurMix(0)).toBe(0x2362f9de);
    expect(murmurMix(-1)).toBe(0x76293b50);
    expect(murmurMix(0x87654321 | 0)).toBe(-(0xf55b516b | 0));
  });

  it('maps the input whose raw hash is Integer.MIN_VALUE to 0, as Flink does', () => {
    const rng = new Rng(5);
    // The preimage function must itself be right, or the MIN_VALUE case proves nothing.
    for (let i = 0; i < 200; i++) {
      const target = BigInt(rng.next());
      expect(murmur3_32(littleEndian(murmurPreimage(target)), 0)).toBe(target);
    }
    const code = murmurPreimage(0x80000000n);
    expect(flinkMurmurHash(code)).toBe(0);
    expect(murmurMix(code)).toBe(0);
    expect(keyGroupOf(code, 128)).toBe(0);
  });

  it('hashes keys by the documented Java-style rules, so ints, strings and doubles match Flink key groups', () => {
    const rng = new Rng(2024);
    const wrong: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const M = rng.pick([128, 32768, rng.int(1, 32768)]);
      const n = rng.next() | 0;
      const s = randomKeys(i, 1).find((k) => typeof k === 'string') ?? `s${i}`;
      const d = (rng.float() - 0.5) * 10 ** rng.int(-5, 25);
      if (keyGroupOf(n, M) !== flinkMurmurHash(n) % M) wrong.push(`int ${n}`);
      if (typeof s === 'string' && keyGroupOf(s, M) !== flinkMurmurHash(javaStringHash(s)) % M)
        wrong.push(`string ${show(s)}`);
      if ((d | 0) !== d && keyGroupOf(d, M) !== flinkMurmurHash(javaDoubleHash(d)) % M)
        wrong.push(`double ${d}`);
    }
    expect(wrong).toEqual([]);
    expect(hashKey(true)).toBe(1231);
    expect(hashKey(false)).toBe(1237);
  });
});
