import { describe, expect, it } from 'vitest';
import {
  decodeValue,
  encodeValue,
  ValueCodecError,
  ValueDecoder,
  ValueEncoder,
} from '../../src/state/value-codec.js';
import { Rng } from './gen.js';

const hex = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));

/**
 * Strict structural equality, stricter than toEqual: the same prototype at every level, Object.is
 * for numbers (so -0 and NaN count), the same key order, a plain Uint8Array for byte strings.
 * Returns where the first difference is, or undefined.
 */
function difference(a: unknown, b: unknown, at = 'value'): string | undefined {
  if (typeof a !== typeof b) return `${at}: ${typeof a} vs ${typeof b}`;
  if (typeof a !== 'object' || a === null || b === null) {
    return Object.is(a, b) ? undefined : `${at}: ${String(a)} vs ${String(b)}`;
  }
  const o = b as object;
  const pa = Object.getPrototypeOf(a) as unknown;
  const pb = Object.getPrototypeOf(o) as unknown;
  // A null-prototype object decodes as an ordinary one: both are plain objects.
  const plain = (p: unknown): boolean => p === null || p === Object.prototype;
  if (pa !== pb && !(plain(pa) && plain(pb))) return `${at}: different prototypes`;
  if (a instanceof Date) {
    return Object.is(a.getTime(), (o as Date).getTime()) ? undefined : `${at}: dates differ`;
  }
  if (a instanceof Uint8Array) {
    return hex(a) === hex(o as Uint8Array) ? undefined : `${at}: bytes differ`;
  }
  const entries = (x: object): Array<[unknown, unknown]> =>
    x instanceof Map
      ? [...x]
      : x instanceof Set
        ? [...x].map((v, i) => [i, v])
        : Array.isArray(x)
          ? x.map((v, i) => [i, v])
          : Object.keys(x).map((k) => [k, (x as Record<string, unknown>)[k]]);
  const ea = entries(a);
  const eb = entries(o);
  if (ea.length !== eb.length) return `${at}: ${ea.length} vs ${eb.length} entries`;
  for (let i = 0; i < ea.length; i++) {
    const [ka, va] = ea[i]!;
    const [kb, vb] = eb[i]!;
    const d = difference(ka, kb, `${at}.<key ${i}>`) ?? difference(va, vb, `${at}[${String(ka)}]`);
    if (d !== undefined) return d;
  }
  return undefined;
}

function expectRoundTrip(v: unknown): void {
  const encoded = encodeValue(v);
  const back = decodeValue(encoded);
  expect(difference(v, back)).toBeUndefined();
  // Canonical: what was decoded encodes to the same bytes.
  expect(hex(encodeValue(back))).toBe(hex(encoded));
}

/** The ValueCodecError `f` throws (failing the test if it throws nothing or something else). */
function codecError(f: () => unknown): ValueCodecError {
  try {
    f();
  } catch (e) {
    if (e instanceof ValueCodecError) return e;
    throw new Error(`expected a ValueCodecError, got ${String(e)}`);
  }
  throw new Error('expected a ValueCodecError, nothing was thrown');
}

describe('value codec round trips', () => {
  it('round-trips every primitive, including edge numbers', () => {
    const values: unknown[] = [
      null,
      undefined,
      false,
      true,
      0,
      -0,
      1,
      -1,
      23,
      24,
      -24,
      -25,
      255,
      256,
      65535,
      65536,
      0xffffffff,
      2 ** 32,
      -(2 ** 32),
      -(2 ** 32) - 1,
      Number.MAX_SAFE_INTEGER,
      -Number.MAX_SAFE_INTEGER,
      2 ** 53,
      -(2 ** 53),
      2 ** 64,
      1.5,
      -4.1,
      0.1,
      NaN,
      Infinity,
      -Infinity,
      Number.MIN_VALUE,
      Number.MAX_VALUE,
      Number.EPSILON,
      0n,
      1n,
      -1n,
      5n,
      255n,
      256n,
      -256n,
      -257n,
      2n ** 64n,
      2n ** 64n - 1n,
      -(2n ** 100n),
      2n ** 1000n + 12345n,
      '',
      'a',
      'IETF',
      'ü水𐅑',
      '\u0000nul\u0000',
      '\ufeffstarts with a byte order mark',
      '👍🏽🇫🇷',
      'x'.repeat(23),
      'x'.repeat(24),
      'x'.repeat(63),
      'x'.repeat(64),
      'x'.repeat(255),
      'x'.repeat(256),
      'x'.repeat(70_000),
      'é'.repeat(11),
      'é'.repeat(12),
      'é'.repeat(127),
      'é'.repeat(128),
      '中'.repeat(21_845),
      '中'.repeat(21_846),
      'mixed ascii then é then 中 then 🌊',
    ];
    for (const v of values) expectRoundTrip(v);
  });

  it('keeps bigints bigints and integers numbers', () => {
    expect(decodeValue(encodeValue(5n))).toBe(5n);
    expect(decodeValue(encodeValue(0n))).toBe(0n);
    expect(decodeValue(encodeValue(-1n))).toBe(-1n);
    expect(decodeValue(encodeValue(5))).toBe(5);
    expect(Object.is(decodeValue(encodeValue(-0)), -0)).toBe(true);
    expect(decodeValue(encodeValue(2 ** 53))).toBe(2 ** 53);
  });

  it('round-trips containers, nested', () => {
    const bigObject: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) bigObject[`key-${(i * 7919) % 1000}`] = i % 3 === 0 ? [i] : i;
    const nullProto = Object.create(null) as Record<string, unknown>;
    nullProto.a = 1;
    nullProto.b = [2];
    const withProtoKey = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}') as unknown;
    const values: unknown[] = [
      [],
      {},
      [1, [2, 3], [4, 5]],
      { a: 1, b: [2, 3], c: { d: { e: null } } },
      { z: 1, a: 2, 10: 'ten', 2: 'two', 'with space': true, '': 'empty key', ключ: 'unicode key' },
      bigObject,
      nullProto,
      withProtoKey,
      new Map(),
      new Map<unknown, unknown>([
        [['a', 1], 'array key'],
        [5n, 'bigint key'],
        [-(2n ** 70n), 'big negative key'],
        [{ k: 1 }, 'object key'],
        [NaN, 'NaN key'],
        ['5', 'string key'],
        [5, 'number key'],
        [null, new Map([[1, new Set([2])]])],
      ]),
      new Set(),
      new Set<unknown>([1, '1', 1n, [1], new Set([1])]),
      new Date(0),
      new Date(-1),
      new Date(1363896240500),
      new Date(8.64e15),
      new Date(-8.64e15),
      new Date(NaN),
      new Uint8Array(0),
      new Uint8Array([0, 1, 2, 255]),
      new Uint8Array(100_000).map((_, i) => i * 31),
      [undefined, null, [undefined], { u: undefined }],
      {
        user: 'alice',
        visits: [new Date(1_700_000_000_123), new Date(1_700_000_001_000)],
        totals: new Map([['eur', 12.5]]),
        tags: new Set(['a', 'b']),
        balance: -(2n ** 80n),
        avatar: new Uint8Array([137, 80, 78, 71]),
      },
    ];
    for (const v of values) expectRoundTrip(v);
    // `__proto__` stays an own key and pollutes nothing.
    const back = decodeValue(encodeValue(withProtoKey)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
    expect(Object.keys(back)).toEqual(['__proto__', 'x']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('keeps plain objects and Maps apart', () => {
    const o = decodeValue(encodeValue({ a: 1 }));
    const m = decodeValue(encodeValue(new Map([['a', 1]])));
    expect(o).not.toBeInstanceOf(Map);
    expect(m).toBeInstanceOf(Map);
    expect((m as Map<string, number>).get('a')).toBe(1);
  });

  it('decodes small byte strings as copies and larger ones as views of their own bytes only', () => {
    for (const size of [3, 64, 65, 5000]) {
      const input = Buffer.from(encodeValue({ a: Buffer.alloc(size, 7), b: Buffer.alloc(size, 8) }));
      const { a, b } = decodeValue(input) as { a: Uint8Array; b: Uint8Array };
      for (const out of [a, b]) {
        expect(Object.getPrototypeOf(out)).toBe(Uint8Array.prototype);
        expect(out.length).toBe(size);
      }
      expect(a.every((x) => x === 7) && b.every((x) => x === 8)).toBe(true);
      b.fill(1); // changing one value never reaches another
      expect(a.every((x) => x === 7)).toBe(true);
      input.fill(0);
      expect(a.every((x) => x === 7)).toBe(size <= 64);
    }
    // A Buffer encodes as a byte string like any Uint8Array.
    expect(hex(encodeValue(Buffer.from([1, 2])))).toBe('420102');
    // So does a view into a larger buffer: only its own bytes.
    const big = new Uint8Array([9, 9, 1, 2, 9]);
    expect(hex(encodeValue(big.subarray(2, 4)))).toBe('420102');
  });

  it('decodes a view into a larger buffer as views of that buffer, and short ASCII strings of every length', () => {
    const values = Array.from({ length: 20 }, (_, n) => [
      'k'.repeat(n),
      'é'.repeat(n),
      Buffer.alloc(65 + n, n),
    ]);
    const bytes = encodeValue(values);
    const outer = Buffer.alloc(bytes.length + 11, 0xee);
    outer.set(bytes, 7);
    const d = new ValueDecoder(outer.subarray(7, 7 + bytes.length));
    const back = d.decode() as Array<[string, string, Uint8Array]>;
    expect(d.done).toBe(true);
    back.forEach(([ascii, other, b], n) => {
      expect(ascii).toBe('k'.repeat(n));
      expect(other).toBe('é'.repeat(n));
      expect(b.buffer).toBe(outer.buffer);
      expect(Buffer.from(b).equals(Buffer.alloc(65 + n, n))).toBe(true);
    });
  });

  it('round-trips every Date a Date can hold, to the millisecond', () => {
    const rng = new Rng(1);
    for (let i = 0; i < 20_000; i++) {
      const ms = Math.floor((rng.float() * 2 - 1) * 8.64e15);
      const back = decodeValue(encodeValue(new Date(ms))) as Date;
      if (back.getTime() !== ms) expect(`${ms} came back as ${back.getTime()}`).toBe('');
    }
    // Beyond 2^52 ms (the year 144,000) a naive Math.round(seconds * 1000) is a millisecond off.
    const ms = 4_488_749_247_939_444;
    expect(Math.round((ms / 1000) * 1000)).not.toBe(ms);
    expect((decodeValue(encodeValue(new Date(ms))) as Date).getTime()).toBe(ms);
  });
});

describe('value codec bytes', () => {
  it('matches RFC 8949 Appendix A (with float64 for every float)', () => {
    const cases: Array<[unknown, string]> = [
      [0, '00'],
      [1, '01'],
      [10, '0a'],
      [23, '17'],
      [24, '1818'],
      [25, '1819'],
      [100, '1864'],
      [1000, '1903e8'],
      [1000000, '1a000f4240'],
      [1000000000000, '1b000000e8d4a51000'],
      [2n ** 64n, 'c249010000000000000000'],
      [-(2n ** 64n) - 1n, 'c349010000000000000000'],
      [-1, '20'],
      [-10, '29'],
      [-100, '3863'],
      [-1000, '3903e7'],
      [1.5, 'fb3ff8000000000000'],
      [1.1, 'fb3ff199999999999a'],
      [-4.1, 'fbc010666666666666'],
      [1.0e300, 'fb7e37e43c8800759c'],
      [Infinity, 'fb7ff0000000000000'],
      [NaN, 'fb7ff8000000000000'],
      [-Infinity, 'fbfff0000000000000'],
      [false, 'f4'],
      [true, 'f5'],
      [null, 'f6'],
      [undefined, 'f7'],
      [new Date(1363896240000), 'c11a514b67b0'],
      [new Date(1363896240500), 'c1fb41d452d9ec200000'],
      [new Uint8Array(0), '40'],
      [new Uint8Array([1, 2, 3, 4]), '4401020304'],
      ['', '60'],
      ['a', '6161'],
      ['IETF', '6449455446'],
      ['"\\', '62225c'],
      ['\u00fc', '62c3bc'],
      ['\u6c34', '63e6b0b4'],
      ['\ud800\udd51', '64f0908591'],
      [[], '80'],
      [[1, 2, 3], '83010203'],
      [[1, [2, 3], [4, 5]], '8301820203820405'],
      [
        Array.from({ length: 25 }, (_, i) => i + 1),
        '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
      ],
      [{}, 'a0'],
      [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
      [['a', { b: 'c' }], '826161a161626163'],
      [{ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
    ];
    for (const [v, h] of cases) expect(hex(encodeValue(v)), String(v)).toBe(h);
  });

  it('writes weir’s own choices exactly as documented', () => {
    const cases: Array<[unknown, string]> = [
      [-0, 'fb8000000000000000'],
      [2 ** 53, 'fb4340000000000000'],
      [Number.MAX_SAFE_INTEGER, '1b001fffffffffffff'],
      [-Number.MAX_SAFE_INTEGER, '3b001ffffffffffffe'],
      [0n, 'c240'],
      [5n, 'c24105'],
      [-1n, 'c340'],
      [-256n, 'c341ff'],
      [-257n, 'c3420100'],
      [new Set([1]), 'd9010281' + '01'],
      [new Map([[1, 2]]), 'd90103a10102'],
      [new Map([[[1], 'a']]), 'd90103a1810161' + '61'],
      [new Date(0), 'c100'],
      [new Date(-1000), 'c120'],
      [new Date(-1), 'c1fbbf50624dd2f1a9fc'],
      [new Date(NaN), 'c1fb7ff8000000000000'],
      ['x'.repeat(24), '7818' + '78'.repeat(24)],
      // The head grows when the UTF-8 bytes cross a boundary the UTF-16 length did not.
      ['é'.repeat(12), '7818' + 'c3a9'.repeat(12)],
      ['é'.repeat(128), '790100' + 'c3a9'.repeat(128)],
    ];
    for (const [v, h] of cases) expect(hex(encodeValue(v)), String(v)).toBe(h);
    const long = encodeValue('中'.repeat(21_846)); // 65,538 bytes: a four-byte length
    expect(hex(long.subarray(0, 5))).toBe('7a00010002');
    expect(long.length).toBe(5 + 65_538);
  });

  it('gives equal values equal bytes, and one NaN', () => {
    const make = (): unknown => ({ a: [1, 2n, 'x', new Map([[1, new Set([2])]])], b: new Date(5) });
    expect(hex(encodeValue(make()))).toBe(hex(encodeValue(make())));
    const otherNaN = new Float64Array(new BigUint64Array([0x7ff8000000000001n]).buffer)[0]!;
    expect(Number.isNaN(otherNaN)).toBe(true);
    expect(hex(encodeValue(otherNaN))).toBe('fb7ff8000000000000');
  });
});

/** A random supported value: every type, nested up to `depth`. */
function randomValue(rng: Rng, depth: number): unknown {
  const scalarKinds = 11;
  const kind = rng.int(0, depth > 0 ? scalarKinds + 4 : scalarKinds - 1);
  switch (kind) {
    case 0:
      return rng.pick([null, undefined, true, false]);
    case 1:
      return rng.int(-30, 30);
    case 2:
      return rng.pick([1, -1, 1 << 8, 1 << 16, 2 ** 32, 2 ** 40, 2 ** 52]) * rng.int(-5, 5) + rng.int(-2, 2);
    case 3:
      return rng.pick([0, -0, NaN, Infinity, -Infinity, 2 ** 53, Number.MAX_SAFE_INTEGER, Number.MIN_VALUE]);
    case 4:
      return (rng.float() - 0.5) * 10 ** rng.int(-10, 30);
    case 5: {
      let v = BigInt(rng.int(0, 300));
      for (let i = rng.int(0, 4); i > 0; i--) v = (v << 32n) | BigInt(rng.next());
      return rng.bool() ? -v : v;
    }
    case 6:
    case 7:
      return randomString(rng);
    case 8:
      return new Uint8Array(rng.pick([0, 1, 5, 64, 65, 300])).map(() => rng.int(0, 255));
    case 9:
      return new Date(Math.floor((rng.float() * 2 - 1) * 8.64e15));
    case 10:
      return new Date(rng.int(-1e6, 1e6) * 1000);
    case 11: {
      const n = rng.int(0, 6);
      return Array.from({ length: n }, () => randomValue(rng, depth - 1));
    }
    case 12: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(0, 6); i > 0; i--) o[randomString(rng)] = randomValue(rng, depth - 1);
      return o;
    }
    case 13: {
      const m = new Map<unknown, unknown>();
      for (let i = rng.int(0, 4); i > 0; i--) m.set(randomValue(rng, depth - 1), randomValue(rng, depth - 1));
      return m;
    }
    default: {
      const s = new Set<unknown>();
      for (let i = rng.int(0, 4); i > 0; i--) s.add(randomValue(rng, depth - 1));
      return s;
    }
  }
}

/** Well-formed strings only: lone surrogates are refused by design (tested below). */
function randomString(rng: Rng): string {
  const pools = ['abcxyz019 _-', 'éßøñΩж', '中文日本한', '\u0000\u0001\n\u007f\ufeff'];
  const astral = ['🌊', '👍🏽', '𝔘', '🇫🇷'];
  const n = rng.pick([0, 1, 2, 7, 10, 23, 24, 40, 63, 64, 100]);
  let s = '';
  for (let i = 0; i < n; i++) {
    s += rng.bool(0.1) ? rng.pick(astral) : rng.pick([...rng.pick(pools)]);
  }
  return s;
}

describe('value codec on random values', () => {
  it('round-trips 2000 seeded random nested values, one by one and as one sequence', () => {
    const rng = new Rng(20260101);
    const values = Array.from({ length: 2000 }, () => randomValue(rng, rng.int(0, 4)));
    const enc = new ValueEncoder(16); // small on purpose: the buffer must grow
    for (const v of values) {
      expectRoundTrip(v);
      enc.encode(v);
    }
    const all = enc.finish();
    const dec = new ValueDecoder(all);
    for (let i = 0; i < values.length; i++) {
      const d = difference(values[i], dec.decode());
      if (d !== undefined) expect(`value ${i} of seed 20260101: ${d}`).toBe('');
    }
    expect(dec.done).toBe(true);
    expect(dec.offset).toBe(all.length);
  });

  it('never throws anything but a ValueCodecError on corrupted input, and never hangs', () => {
    const rng = new Rng(7);
    let rejected = 0;
    for (let i = 0; i < 2000; i++) {
      const good = encodeValue(randomValue(rng, 3));
      const bad = good.slice();
      for (let flips = rng.int(1, 3); flips > 0; flips--) bad[rng.int(0, bad.length - 1)] = rng.int(0, 255);
      try {
        decodeValue(bad);
      } catch (e) {
        if (!(e instanceof ValueCodecError)) throw e;
        expect(e.message).toMatch(/at byte \d+/);
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(100);
  });
});

describe('value encoder and decoder', () => {
  it('streams several values, and reads a window of a buffer', () => {
    const enc = new ValueEncoder();
    enc.encode('k');
    enc.encode(1);
    const first = enc.length;
    enc.encode([2, 3]);
    expect(enc.length).toBe(first + 3);
    const chunk = enc.takeChunk();
    expect(Buffer.isBuffer(chunk)).toBe(true);
    expect(enc.length).toBe(0);
    expect(hex(chunk)).toBe('616b0182' + '0203');

    const framed = new Uint8Array([0xff, ...chunk, 0xff]);
    const dec = new ValueDecoder(framed, 1, 1 + chunk.length);
    expect(dec.offset).toBe(1);
    expect(dec.decode()).toBe('k');
    expect(dec.decode()).toBe(1);
    expect(dec.done).toBe(false);
    expect(dec.decode()).toEqual([2, 3]);
    expect(dec.done).toBe(true);
    expect(dec.offset).toBe(1 + chunk.length);
    expect(codecError(() => dec.decode()).message).toMatch(/at byte 7: truncated/);
  });

  it('finish copies without resetting; reset keeps nothing', () => {
    const enc = new ValueEncoder(1);
    enc.encode('x'.repeat(1000));
    const a = enc.finish();
    enc.encode(1);
    expect(a.length).toBe(1003);
    expect(enc.length).toBe(1004);
    expect(Object.getPrototypeOf(a)).toBe(Uint8Array.prototype);
    enc.reset();
    expect(enc.length).toBe(0);
    enc.encode(true);
    expect(hex(enc.finish())).toBe('f5');
    expect(decodeValue(a)).toBe('x'.repeat(1000));
  });

  it('grows its buffer correctly whatever the position of the value that does not fit', () => {
    const values = ['é', 'ab€', 'x'.repeat(30), 'é'.repeat(12), 2n ** 70n, 1.5, new Uint8Array(40)];
    for (const v of values) {
      for (let fill = 0; fill < 80; fill++) {
        const enc = new ValueEncoder(64);
        enc.encode(new Uint8Array(fill)); // a head of 1 or 2 bytes, then `fill` zeros
        enc.encode(v);
        const dec = new ValueDecoder(enc.finish());
        dec.decode();
        expect(difference(v, dec.decode()), `${String(v)} after ${fill}`).toBeUndefined();
        expect(dec.done).toBe(true);
      }
    }
  });

  it('encodeString and encodeNumber write exactly what encode writes, growing the buffer at any position', () => {
    const numbers = [
      0,
      -0,
      1,
      23,
      24,
      255,
      256,
      65535,
      65536,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 53 - 1,
      2 ** 53,
      -1,
      -24,
      -25,
      -(2 ** 32),
      0.5,
      -1.5,
      1e300,
      NaN,
      Infinity,
      -Infinity,
      Number.MIN_VALUE,
    ];
    const strings = [
      '',
      'a',
      'key-123456',
      'x'.repeat(23),
      'x'.repeat(24),
      'x'.repeat(63),
      'x'.repeat(64),
      'é',
      'ab€',
      '😀'.repeat(20),
      '\u0000z',
    ];
    // After `fill` bytes, so the value lands at every position relative to the buffer's end.
    const sameAsEncode = (v: unknown, write: (e: ValueEncoder) => void, fill: number): void => {
      const a = new ValueEncoder(64);
      const b = new ValueEncoder(64);
      a.encode(new Uint8Array(fill));
      b.encode(new Uint8Array(fill));
      a.encode(v);
      write(b);
      expect(hex(b.finish()), `${String(v)} after ${fill}`).toBe(hex(a.finish()));
    };
    for (let fill = 0; fill < 70; fill += 3) {
      for (const n of numbers) sameAsEncode(n, (e) => e.encodeNumber(n), fill);
      for (const s of strings) sameAsEncode(s, (e) => e.encodeString(s), fill);
    }
    const enc = new ValueEncoder(64);
    enc.encodeNumber(7);
    expect(() => enc.encodeString('a\ud800b')).toThrow(ValueCodecError);
    expect(hex(enc.finish())).toBe('07');
  });

  it('decodeKey reads exactly what decode reads, and refuses what decode refuses', () => {
    const values: unknown[] = [
      '',
      'a',
      'key-1234',
      'x'.repeat(16),
      'x'.repeat(17),
      'é',
      'abcé',
      '\u0000k',
      7,
      -1,
      [1, 'a'],
      { a: 1 },
      null,
      new Uint8Array(100),
    ];
    const enc = new ValueEncoder(64);
    for (const v of values) enc.encode(v);
    const all = enc.finish();
    const a = new ValueDecoder(all);
    const b = new ValueDecoder(all);
    for (const v of values) {
      expect(difference(v, b.decodeKey())).toBeUndefined();
      expect(b.offset).toBe((a.decode(), a.offset));
    }
    // A short string cut by the end of the window: the same error as decode's, not a read past it.
    const cut = encodeValue('abcdef');
    expect(() => new ValueDecoder(cut, 0, 4).decodeKey()).toThrow(ValueCodecError);
    expect(() => new ValueDecoder(cut, 0, 4).decodeKey()).toThrow(
      (() => {
        try {
          new ValueDecoder(cut, 0, 4).decode();
        } catch (e) {
          return (e as Error).message;
        }
        return 'no error';
      })(),
    );
    expect(() => new ValueDecoder(cut, 0, 0).decodeKey()).toThrow(/truncated/);
  });

  it('refuses a window outside the bytes', () => {
    const b = new Uint8Array(4);
    expect(() => new ValueDecoder(b, 0, 5)).toThrow(RangeError);
    expect(() => new ValueDecoder(b, 3, 2)).toThrow(RangeError);
    expect(() => new ValueDecoder(b, -1)).toThrow(RangeError);
    expect(() => new ValueDecoder(b, 1.5)).toThrow(RangeError);
    expect(new ValueDecoder(b, 4).done).toBe(true);
  });

  it('never reads past the end of its window', () => {
    // The bytes after `end` would complete the value; the decoder must not look at them.
    const full = encodeValue(['abc', 1000000]);
    for (let end = 0; end < full.length; end++) {
      expect(() => new ValueDecoder(full, 0, end).decode(), `end ${end}`).toThrow(ValueCodecError);
    }
  });
});

describe('value codec rejections', () => {
  it('refuses every truncation of encoded values', () => {
    const samples: unknown[] = [
      1000000,
      -(2 ** 40),
      1.5,
      2n ** 100n,
      -(2n ** 64n),
      'IETF',
      'é'.repeat(30),
      'x'.repeat(300),
      new Uint8Array([1, 2, 3, 4, 5]),
      [1, [2, 3], { a: 'b' }],
      new Map<unknown, unknown>([[[1], new Set(['x'])]]),
      new Date(1363896240500),
      new Date(1363896240000),
      { nested: { deeper: [true, null, undefined, 0.5] } },
    ];
    for (const v of samples) {
      const full = encodeValue(v);
      for (let n = 0; n < full.length; n++) {
        const e = codecError(() => decodeValue(full.subarray(0, n)));
        expect(e.message).toMatch(/^malformed value at byte \d+: /);
      }
    }
  });

  it('skip refuses exactly what decode refuses, with the same message, and stops where decode stops', () => {
    // What decode() accepts must be exactly what skip() accepts: a restore checks its sections
    // with skip() and decodes them only later, when a failure can no longer choose another
    // checkpoint. Corrupted random values, the rejection cases below, and every truncation.
    const outcome = (f: (d: ValueDecoder) => unknown, b: Uint8Array): string => {
      const d = new ValueDecoder(b);
      try {
        while (!d.done) f(d);
        return `ok ${d.offset}`;
      } catch (e) {
        if (!(e instanceof ValueCodecError)) throw e;
        return e.message;
      }
    };
    const inputs: Uint8Array[] = [];
    const rng = new Rng(11);
    for (let i = 0; i < 3000; i++) {
      const good = encodeValue(randomValue(rng, 3));
      inputs.push(good, good.subarray(0, rng.int(0, good.length - 1)));
      const bad = good.slice();
      for (let flips = rng.int(1, 3); flips > 0; flips--) bad[rng.int(0, bad.length - 1)] = rng.int(0, 255);
      inputs.push(bad);
    }
    for (const h of ['1c', 'ff', 'c0', 'c201', 'c160', 'd90102a0', 'd9010380', 'a10102', 'a1c10102'])
      inputs.push(bytes(h));
    inputs.push(bytes('62c328'), bytes('63eda080'), bytes('d9010381a0'), bytes('c2' + '5a08000001'));
    let refused = 0;
    for (const b of inputs) {
      const decoded = outcome((d) => d.decode(), b);
      expect(
        outcome((d) => d.skip(), b),
        Buffer.from(b).toString('hex'),
      ).toBe(decoded);
      if (!decoded.startsWith('ok')) refused++;
    }
    expect(refused).toBeGreaterThan(1000);
    // The tag it reports: a map's, for map-state values.
    expect(new ValueDecoder(encodeValue(new Map([[1, 2]]))).skip()).toBe(259);
    expect(new ValueDecoder(encodeValue({ a: 1 })).skip()).toBe(-1);
    // A float64 column: the same checks as decodeFloat64Column.
    const enc = new ValueEncoder(64);
    enc.float64Column(new Float64Array([1, 2, 3]), 3, true);
    const col = enc.finish();
    const skipped = new ValueDecoder(col);
    skipped.skipFloat64Column(3);
    expect(skipped.done).toBe(true);
    expect(() => new ValueDecoder(col).skipFloat64Column(2)).toThrow('a float64 column of 24 bytes');
    expect(() => new ValueDecoder(col.subarray(0, 10)).skipFloat64Column(3)).toThrow(/truncated/);
  });

  it('refuses what weir never writes, naming the byte offset', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /at byte 0: truncated/],
      ['1c', /at byte 0: reserved additional information 28/],
      ['3e', /reserved additional information 30/],
      ['1f', /indefinite/],
      ['5f4101ff', /indefinite/],
      ['7f6161ff', /indefinite/],
      ['9f01ff', /indefinite/],
      ['bf616101ff', /indefinite/],
      ['ff', /break/],
      ['1b0020000000000000', /2\^53/],
      ['c0', /unsupported tag 0/],
      ['c4820001', /unsupported tag 4/],
      ['d818', /unsupported tag 24/],
      ['d9d9f700', /unsupported tag 55799/],
      ['da00010000', /unsupported tag 65536/],
      ['e0', /unsupported simple value 0/],
      ['f3', /unsupported simple value 19/],
      ['f810', /unsupported simple value/],
      ['f93e00', /float16/],
      ['fa3fc00000', /float32/],
      ['fc', /reserved additional information 28/],
      ['c201', /at byte 1: tag 2 not followed by a byte string/],
      ['c3', /at byte 0: truncated/],
      ['c160', /at byte 1: tag 1 \(a date\) not followed/],
      ['d90102a0', /at byte 3: tag 258 not followed by an array/],
      ['d9010380', /at byte 3: tag 259 not followed by a map/],
      ['a10102', /at byte 1: an object key that is not a text string/],
      ['62c328', /at byte 0: a text string that is not valid UTF-8/],
      ['63eda080', /not valid UTF-8/], // an encoded surrogate
      ['0000', /at byte 1: 1 bytes after the end of the value/],
      ['8200', /at byte 0: a length of 2 runs past the end/],
    ];
    for (const [h, re] of cases) {
      const e = codecError(() => decodeValue(bytes(h)));
      expect(e.message, h).toMatch(re);
      expect(e.name).toBe('ValueCodecError');
    }
  });

  it('refuses hostile lengths before allocating anything', () => {
    const cases = [
      '5bffffffffffffffff', // byte string of 2^64 - 1 bytes: beyond 2^53
      '5b001fffffffffffff', // byte string of 2^53 - 1 bytes
      '7affffffff', // text string of 4 GiB
      '9b001fffffffffffff', // array of 2^53 - 1 items
      '9a7fffffff', // array of 2^31 items
      'ba7fffffff', // map
      'd901029a7fffffff', // set
      'd90103ba7fffffff', // map with any keys
      'c25a7fffffff', // bignum
      '8202', // array of 2 with 1 byte left: runs past the end
    ];
    for (const h of cases) {
      const start = performance.now();
      const e = codecError(() => decodeValue(bytes(h)));
      expect(e.message, h).toMatch(/at byte \d+: .*(past the end|2\^53|truncated)/);
      expect(performance.now() - start).toBeLessThan(50);
    }
  });

  it('decodes containers nested as deep as it encodes them, and no deeper', () => {
    for (const wrap of [
      (x: unknown): unknown => [x],
      (x: unknown): unknown => ({ k: x }),
      (x: unknown): unknown => new Set([x]),
      (x: unknown): unknown => new Map([[1, x]]),
    ]) {
      let v: unknown = 0;
      for (let i = 0; i < 512; i++) v = wrap(v);
      expectRoundTrip(v);
      expect(codecError(() => encodeValue(wrap(v))).message).toMatch(/deeper than 512/);
    }
    // 513 arrays, written by hand.
    const deep = bytes('81'.repeat(513) + '00');
    expect(codecError(() => decodeValue(deep)).message).toMatch(/at byte 512: containers nested deeper/);
    // Tags cannot nest without containers, so hostile tag chains do not recurse.
    expect(codecError(() => decodeValue(bytes('c1'.repeat(100_000)))).message).toMatch(/at byte 1: tag 1/);
  });
});

describe('value codec encode errors', () => {
  it('names the type and the path of what it cannot encode', () => {
    class Point {
      constructor(readonly x: number) {}
    }
    class Bytes extends Uint8Array {}
    const cases: Array<[unknown, string]> = [
      [
        { handlers: [1, 2, () => 3] },
        'cannot encode a function at value.handlers[2]; state values must be plain data (',
      ],
      [Symbol('s'), 'cannot encode a symbol at value;'],
      [{ a: { b: new Point(1) } }, 'cannot encode a Point instance at value.a.b;'],
      [[new Float64Array(2)], 'cannot encode a Float64Array at value[0];'],
      [
        { 'not an identifier': new Uint16Array(1) },
        'cannot encode a Uint16Array at value["not an identifier"];',
      ],
      [[new Bytes(1)], 'cannot encode a Bytes at value[0];'],
      [[new DataView(new ArrayBuffer(1))], 'cannot encode a DataView at value[0];'],
      [new Map([['k', [Symbol('s')]]]), 'cannot encode a symbol at value.get("k")[0];'],
      [new Map([[() => 1, 1]]), 'cannot encode a function at value.keys()[0];'],
      [new Map([[[1], () => 1]]), 'cannot encode a function at value.get(…);'],
      [new Set([1, 2, new WeakMap()]), 'cannot encode a WeakMap instance at value.values()[2];'],
      [[Promise.resolve()], 'cannot encode a Promise instance at value[0];'],
      [{ r: /x/ }, 'cannot encode a RegExp instance at value.r;'],
    ];
    for (const [v, start] of cases) expect(codecError(() => encodeValue(v)).message).toContain(start);
  });

  it('refuses strings with lone surrogates rather than corrupting them', () => {
    for (const s of ['\ud800', 'a\udfff', 'x'.repeat(100) + '\ud800', '\udc00\ud800']) {
      expect(codecError(() => encodeValue({ key: [s] })).message).toMatch(
        /^cannot encode a string with a lone surrogate at value\.key\[0\]: /,
      );
    }
    expect(codecError(() => encodeValue({ ['k\ud800']: 1 })).message).toContain('lone surrogate');
  });

  it('refuses cycles with a bounded message', () => {
    const a: unknown[] = [1];
    a.push({ back: a });
    const e = codecError(() => encodeValue(a));
    expect(e.message).toMatch(
      /^cannot encode value\[1\]\.back\[1\]\.back.*more.*: containers nested deeper than 512/,
    );
    expect(e.message.length).toBeLessThan(400);
    const m = new Map<string, unknown>();
    m.set('self', m);
    expect(codecError(() => encodeValue(m)).message).toMatch(/is there a cycle\?/);
  });

  it('leaves the encoder as it was when a value fails', () => {
    const enc = new ValueEncoder(8);
    enc.encode('before');
    const n = enc.length;
    expect(() => enc.encode({ a: 'x'.repeat(100), b: [1, 2, () => 0] })).toThrow(ValueCodecError);
    expect(enc.length).toBe(n);
    const getter = {
      get boom(): never {
        throw new Error('from a getter');
      },
    };
    expect(() => enc.encode([1, getter])).toThrow('from a getter');
    expect(enc.length).toBe(n);
    enc.encode('after');
    const dec = new ValueDecoder(enc.finish());
    expect([dec.decode(), dec.decode(), dec.done]).toEqual(['before', 'after', true]);
  });
});
