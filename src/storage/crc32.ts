// CRC-32 (the zlib / IEEE 802.3 one) of state files and `_metadata`, and the CRC of a
// concatenation from the CRCs of its parts, so a state file's whole-file checksum costs no second
// pass over its bytes: the writer checksums each section once and combines; a reader derives the
// whole-file checksum from the index alone (zlib's crc32_combine, which Node does not expose).
import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';

type Crc32 = (data: Uint8Array, initial?: number) => number;

/**
 * Every byte of a snapshot is checksummed when it is written and again when it is restored, and
 * Node 20's zlib does it at ~2 GiB/s (no carry-less multiply): a third of a gigabyte restore.
 * @node-rs/crc32 computes the same CRC with PCLMULQDQ at ~5.7 GiB/s here. It ships prebuilt for
 * the common platforms only, so zlib remains the fallback; both give identical values, so the
 * on-disk format does not depend on which one ran.
 */
function loadNative(): Crc32 | undefined {
  if (process.env['WEIR_CRC32'] === 'zlib') return undefined;
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as {
      crc32: (data: Uint8Array, initial?: number) => number;
    };
    return (data, initial = 0) => mod.crc32(data, initial) >>> 0;
  } catch (e) {
    if (process.env['WEIR_DEBUG'] === '1')
      process.stderr.write(`weir: @node-rs/crc32 did not load (${String(e)}); checksums use zlib\n`);
    return undefined;
  }
}

const native = loadNative();

/** Which implementation computes {@link crc32} in this process. */
export const crc32Implementation: 'native' | 'zlib' = native === undefined ? 'zlib' : 'native';

/** crc32 of `data`, continuing from `initial` (the crc32 of the bytes before it). */
export const crc32: Crc32 = native ?? ((data, initial = 0) => zlibCrc32(data, initial));

/** The CRC polynomial, bit-reflected. */
const POLY = 0xedb88320;
/** x^0 in the reflected representation. */
const ONE = 0x80000000;

/** a(x)·b(x) modulo p(x), reflected, for a ≠ 0. */
function multModP(a: number, b: number): number {
  let m = ONE;
  let p = 0;
  for (;;) {
    if ((a & m) !== 0) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = (b & 1) !== 0 ? (b >>> 1) ^ POLY : b >>> 1;
  }
  return p >>> 0;
}

/** X2N[k] = x^(2^k) modulo p(x). */
const X2N: number[] = (() => {
  const t: number[] = [];
  let p = ONE >>> 1; // x^1
  for (let k = 0; k < 32; k++) {
    t.push(p);
    p = multModP(p, p);
  }
  return t;
})();

/**
 * Per power k: a(x)·x^(2^k) modulo p(x) for any a, as four tables of 256 (one per byte of a),
 * since the product is linear in a. Multiplying by a power through them costs four lookups
 * instead of multModP's loop over 32 bits; a state file's checksum combines one section CRC per
 * key group (128 combines took 0.32 ms with multModP, 0.02 ms so, per checkpoint of keyed-count).
 * Built on first use: 4 KiB per power, of which a file's lengths use a dozen.
 */
const BY_POWER: Array<Uint32Array | undefined> = new Array<Uint32Array | undefined>(32).fill(undefined);

function powerTable(k: number): Uint32Array {
  let t = BY_POWER[k];
  if (t !== undefined) return t;
  t = new Uint32Array(1024);
  const xk = X2N[k]!;
  for (let byte = 0; byte < 4; byte++) {
    const at = 256 * byte;
    for (let bit = 0; bit < 8; bit++) t[at + (1 << bit)] = multModP(xk, (1 << (8 * byte + bit)) >>> 0);
    for (let v = 3; v < 256; v++) {
      const low = v & -v;
      if (v !== low) t[at + v] = t[at + low]! ^ t[at + (v ^ low)]!;
    }
  }
  BY_POWER[k] = t;
  return t;
}

/** a(x)·x^(8n) modulo p(x): a CRC carried past n zero bytes, for any safe integer n ≥ 0. */
function shiftByBytes(a: number, n: number): number {
  let k = 3; // x^(8·2^j) = x^(2^(j+3))
  while (n > 0) {
    if (n % 2 === 1) {
      const t = powerTable(k & 31);
      a = t[a & 255]! ^ t[256 + ((a >>> 8) & 255)]! ^ t[512 + ((a >>> 16) & 255)]! ^ t[768 + (a >>> 24)]!;
    }
    n = Math.floor(n / 2);
    k++;
  }
  return a >>> 0;
}

/** crc32(A ‖ B) from crc32(A), crc32(B) and the length of B in bytes. */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  if (lengthB === 0) return crcA >>> 0;
  return (shiftByBytes(crcA >>> 0, lengthB) ^ (crcB >>> 0)) >>> 0;
}
