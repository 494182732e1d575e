// The value codec of every state file: a documented subset of CBOR (RFC 8949), so any CBOR
// decoder in any language reads weir's snapshots. The byte-level contract is docs/value-codec.md;
// change nothing here without changing it there, and never change what an existing byte means.
//
// Deterministic: the same value always gives the same bytes (shortest arguments, one NaN, object
// keys in the object's own order). Strict: the decoder accepts what the encoder writes and refuses
// the rest of CBOR (other tags, simple values, float16/32, indefinite lengths) with the byte offset.
//
// Hot paths (short ASCII strings, small integers) avoid allocation: one growing Buffer, no
// closures or DataViews per value, and no path strings unless encoding fails.

import { Buffer, isUtf8 } from 'node:buffer';

/** A value that cannot be encoded (naming the type and where it is) or bytes that cannot be decoded (naming the offset). */
export class ValueCodecError extends Error {
  override readonly name = 'ValueCodecError';
}

const SUPPORTED =
  'null, undefined, booleans, numbers, bigints, strings, Uint8Array/Buffer, arrays, plain objects, Map, Set and Date';

/** Containers (arrays, plain objects, Maps, Sets) nested deeper than this are refused both ways. */
const MAX_DEPTH = 512;

const TAG_DATE_EPOCH = 1;
const TAG_POS_BIGNUM = 2;
const TAG_NEG_BIGNUM = 3;
const TAG_SET = 258;
export const TAG_MAP_ANY_KEYS = 259;
/** RFC 8746: a typed array of IEEE 754 binary64, little-endian, as a byte string. */
const TAG_FLOAT64_LE = 86;
const LITTLE_ENDIAN = new Uint8Array(new Float64Array([1]).buffer)[7] === 0x3f;

/** Strings of fewer UTF-16 units than this are tried as ASCII in a plain loop. */
const SHORT_STRING = 64;

/** Decoded byte strings up to this size are copied with slice(), which keeps them on V8's heap. */
const ON_HEAP_BYTES = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

// ---------------------------------------------------------------------------------------------
// Encoding

type PathSegment = string | number | { readonly label: string };

/** Thrown inside the encoder (cheaply: not an Error, no stack); each container adds its segment. */
class EncodeFailure {
  /** Innermost first. */
  readonly path: PathSegment[] = [];
  constructor(
    readonly problem: 'type' | 'depth' | 'unicode',
    readonly what: string,
  ) {}
}

function describe(v: unknown): string {
  switch (typeof v) {
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    case 'object': {
      if (v === null) return 'null';
      const ctor = (v as { constructor?: unknown }).constructor;
      const name = typeof ctor === 'function' ? ctor.name : '';
      if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return `a ${name || 'binary view'}`;
      if (Array.isArray(v)) return `an array of class ${name || '(anonymous)'}`;
      return name ? `a ${name} instance` : 'an object with a custom prototype';
    }
    default:
      return `a ${typeof v}`;
  }
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

function formatPath(segments: readonly PathSegment[]): string {
  let out = 'value';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (typeof s === 'string') out += IDENTIFIER.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`;
    else out += s.label;
  }
  return out;
}

function showKey(k: unknown): string {
  switch (typeof k) {
    case 'string':
      return k.length <= 40 ? JSON.stringify(k) : `${JSON.stringify(k.slice(0, 37))}…`;
    case 'number':
    case 'boolean':
      return String(k);
    case 'bigint':
      return `${k}n`;
    default:
      return k === null ? 'null' : '…';
  }
}

function toError(f: EncodeFailure): ValueCodecError {
  const segs = f.path.slice().reverse();
  // A cycle runs into the depth limit with a path hundreds of segments long: keep both ends.
  const shown =
    segs.length <= 24
      ? formatPath(segs)
      : `${formatPath(segs.slice(0, 16))}…(${segs.length - 20} more)…${formatPath(segs.slice(-4)).slice(5)}`;
  if (f.problem === 'depth') {
    return new ValueCodecError(
      `cannot encode ${shown}: containers nested deeper than ${MAX_DEPTH} levels (is there a cycle?); ` +
        `state values must be acyclic plain data`,
    );
  }
  if (f.problem === 'unicode') {
    return new ValueCodecError(
      `cannot encode a string with a lone surrogate at ${shown}: UTF-8 cannot carry it (it would come ` +
        `back as U+FFFD, and two such keys as one); state strings must be well-formed Unicode`,
    );
  }
  return new ValueCodecError(
    `cannot encode ${f.what} at ${shown}; state values must be plain data (${SUPPORTED})`,
  );
}

function within(e: unknown, segment: PathSegment): unknown {
  if (e instanceof EncodeFailure) e.path.push(segment);
  return e;
}

/**
 * Encodes values one after another into one growing buffer (a CBOR sequence, RFC 8742). Reuse
 * one encoder for many values: numbers, strings and byte strings are written without allocating
 * (bigints, objects, Maps and Sets allocate a little: a hex string, a key list, an iterator).
 */
export class ValueEncoder {
  private buf: Buffer;
  private pos = 0;

  constructor(initialCapacity = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(64, Math.ceil(initialCapacity)));
  }

  /** Bytes written since construction or the last reset / takeChunk. */
  get length(): number {
    return this.pos;
  }

  /** Forgets the bytes written; keeps the buffer. */
  reset(): void {
    this.pos = 0;
  }

  /** A copy (never a view: the buffer is reused) of the bytes written so far. Does not reset. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  /**
   * The bytes written since the last reset, as a view of the encoder's own buffer: no copy, and
   * valid only until the next encode or reset. For a consumer that copies them at once.
   */
  view(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** A copy of the bytes written so far, then a reset: for streaming writes. */
  takeChunk(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.pos = 0;
    return out;
  }

  /**
   * Appends one value. On a ValueCodecError (or an error thrown by a getter of the value) nothing
   * of the value stays written: the encoder is as before the call.
   */
  encode(value: unknown): void {
    const start = this.pos;
    try {
      this.write(value, 0);
    } catch (e) {
      this.pos = start;
      throw e instanceof EncodeFailure ? toError(e) : e;
    }
  }

  /**
   * The same bytes as `encode(s)`, for callers that know they hold a string: a snapshot encodes
   * every state key, and this path's type feedback is not shared with every other value the
   * encoder sees (the generic one is, and stops being inlined in a running job).
   */
  encodeString(s: string): void {
    const start = this.pos;
    try {
      this.string(s);
    } catch (e) {
      this.pos = start;
      throw e instanceof EncodeFailure ? toError(e) : e;
    }
  }

  /** The same bytes as `encode(v)` for a number; u32 integers (counts, sums) written inline. */
  encodeNumber(v: number): void {
    // v >>> 0 === v holds for -0 too, which is a float in this codec.
    if (v >>> 0 === v && (v !== 0 || 1 / v > 0)) {
      if (this.pos + 5 > this.buf.length) this.grow(5);
      const b = this.buf;
      let p = this.pos;
      if (v < 24) b[p++] = v;
      else if (v < 0x100) {
        b[p++] = 24;
        b[p++] = v;
      } else if (v < 0x10000) {
        b[p++] = 25;
        b[p++] = v >>> 8;
        b[p++] = v & 0xff;
      } else {
        b[p] = 26;
        putU32(b, p + 1, v);
        p += 5;
      }
      this.pos = p;
    } else this.number(v);
  }

  /** Appends bytes that are encoded items already (a key column kept from an earlier snapshot). */
  appendEncoded(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** A copy of bytes [start, end) of those written since the last reset. */
  copyOf(start: number, end: number): Uint8Array {
    if (start < 0 || start > end || end > this.pos)
      throw new RangeError(`copyOf: bad range [${start}, ${end})`);
    return Uint8Array.prototype.slice.call(this.buf, start, end);
  }

  /**
   * The first `n` numbers of `values` as one item: a float64 little-endian typed array (RFC 8746,
   * tag 86), i.e. a byte string of 8·n bytes. NaN is written as the one quiet NaN, as `encode` does;
   * a caller that knows there is none says so with `noNaN` (a snapshot learns it while it collects
   * the numbers), which spares a pass over them.
   */
  float64Column(values: Float64Array, n: number, noNaN = false): void {
    if (n > values.length) throw new RangeError(`float64Column: ${n} values asked of ${values.length}`);
    this.head(6, TAG_FLOAT64_LE);
    this.head(2, 8 * n);
    this.ensure(8 * n);
    const b = this.buf;
    const at = this.pos;
    if (LITTLE_ENDIAN) b.set(new Uint8Array(values.buffer, values.byteOffset, 8 * n), at);
    else for (let i = 0; i < n; i++) b.writeDoubleLE(values[i]!, at + 8 * i);
    if (!noNaN)
      for (let i = 0; i < n; i++) {
        const x = values[i]!;
        if (x !== x) b.writeDoubleLE(NaN, at + 8 * i);
      }
    this.pos = at + 8 * n;
  }

  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  private grow(n: number): void {
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** An initial byte of major type `major` with argument `n` (0 ≤ n < 2^53), shortest form. */
  private head(major: number, n: number): void {
    this.ensure(9);
    const b = this.buf;
    let p = this.pos;
    const m = major << 5;
    if (n < 24) b[p++] = m | n;
    else if (n < 0x100) {
      b[p++] = m | 24;
      b[p++] = n;
    } else if (n < 0x10000) {
      b[p++] = m | 25;
      b[p++] = n >>> 8;
      b[p++] = n & 0xff;
    } else if (n < 0x100000000) {
      b[p] = m | 26;
      putU32(b, p + 1, n);
      p += 5;
    } else {
      b[p] = m | 27;
      putU32(b, p + 1, Math.floor(n / 0x100000000));
      putU32(b, p + 5, n >>> 0);
      p += 9;
    }
    this.pos = p;
  }

  private number(v: number): void {
    if (Number.isSafeInteger(v) && (v !== 0 || 1 / v > 0)) {
      if (v >= 0) this.head(0, v);
      else this.head(1, -1 - v);
    } else this.float(v);
  }

  private float(x: number): void {
    this.ensure(9);
    const b = this.buf;
    b[this.pos] = 0xfb;
    if (x !== x) {
      // One NaN (the quiet NaN of RFC 8949 §4.2.2), whatever payload the engine carries.
      b[this.pos + 1] = 0x7f;
      b[this.pos + 2] = 0xf8;
      b.fill(0, this.pos + 3, this.pos + 9);
    } else b.writeDoubleBE(x, this.pos + 1);
    this.pos += 9;
  }

  private string(s: string): void {
    const n = s.length;
    if (n < SHORT_STRING) {
      // ASCII written by hand; the first other character sends it down the general path.
      const hs = n < 24 ? 1 : 2;
      this.ensure(hs + n);
      const b = this.buf;
      const at = this.pos + hs;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[at + i] = c;
      }
      if (i === n) {
        if (hs === 1) b[this.pos] = 0x60 | n;
        else {
          b[this.pos] = 0x78;
          b[this.pos + 1] = n;
        }
        this.pos = at + n;
        return;
      }
    }
    // UTF-8 takes n..3n bytes. Reserve the head for the least, write, and move the bytes in the
    // rare case the head must be longer: one pass over the string instead of two.
    // (Room for the longest head too: head() must not grow the buffer over the written bytes.)
    const hs = headSize(n);
    this.ensure(9 + 3 * n);
    const written = this.buf.write(s, this.pos + hs, 'utf8');
    // Only a string with a non-ASCII character has more bytes than units; only such a string
    // can hold a lone surrogate, which UTF-8 cannot carry (it would come back as U+FFFD).
    if (written !== n && !isWellFormed(s)) {
      throw new EncodeFailure('unicode', '');
    }
    const actual = headSize(written);
    if (actual !== hs) this.buf.copyWithin(this.pos + actual, this.pos + hs, this.pos + hs + written);
    this.head(3, written);
    this.pos += written;
  }

  private bytes(u: Uint8Array): void {
    const n = u.length;
    this.head(2, n);
    this.ensure(n);
    this.buf.set(u, this.pos);
    this.pos += n;
  }

  private bigint(v: bigint): void {
    const neg = v < 0n;
    const m = neg ? -1n - v : v;
    this.head(6, neg ? TAG_NEG_BIGNUM : TAG_POS_BIGNUM);
    if (m === 0n) {
      this.head(2, 0);
      return;
    }
    let hex = m.toString(16);
    if (hex.length & 1) hex = '0' + hex;
    const n = hex.length >> 1;
    this.head(2, n);
    this.ensure(n);
    this.buf.write(hex, this.pos, 'hex');
    this.pos += n;
  }

  private write(v: unknown, depth: number): void {
    switch (typeof v) {
      case 'string':
        this.string(v);
        return;
      case 'number':
        this.number(v);
        return;
      case 'boolean':
        this.ensure(1);
        this.buf[this.pos++] = v ? 0xf5 : 0xf4;
        return;
      case 'undefined':
        this.ensure(1);
        this.buf[this.pos++] = 0xf7;
        return;
      case 'bigint':
        this.bigint(v);
        return;
      case 'object':
        if (v === null) {
          this.ensure(1);
          this.buf[this.pos++] = 0xf6;
        } else this.object(v, depth);
        return;
      default:
        throw new EncodeFailure('type', describe(v));
    }
  }

  /** `depth` counts the containers around `v`. */
  private object(v: object, depth: number): void {
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto === Object.prototype || proto === null) {
      if (depth >= MAX_DEPTH) throw new EncodeFailure('depth', '');
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      this.head(5, keys.length);
      let i = 0;
      try {
        for (; i < keys.length; i++) {
          const k = keys[i]!;
          this.string(k);
          this.write(o[k], depth + 1);
        }
      } catch (e) {
        throw within(e, keys[i]!);
      }
    } else if (proto === Array.prototype) {
      if (depth >= MAX_DEPTH) throw new EncodeFailure('depth', '');
      const a = v as unknown[];
      const n = a.length;
      this.head(4, n);
      let i = 0;
      try {
        for (; i < n; i++) this.write(a[i], depth + 1);
      } catch (e) {
        throw within(e, i);
      }
    } else if (proto === Uint8Array.prototype || proto === Buffer.prototype) {
      this.bytes(v as Uint8Array);
    } else if (proto === Map.prototype) {
      if (depth >= MAX_DEPTH) throw new EncodeFailure('depth', '');
      const m = v as Map<unknown, unknown>;
      this.head(6, TAG_MAP_ANY_KEYS);
      this.head(5, m.size);
      let i = 0;
      for (const [k, x] of m) {
        try {
          this.write(k, depth + 1);
        } catch (e) {
          throw within(e, { label: `.keys()[${i}]` });
        }
        try {
          this.write(x, depth + 1);
        } catch (e) {
          throw within(e, { label: `.get(${showKey(k)})` });
        }
        i++;
      }
    } else if (proto === Set.prototype) {
      if (depth >= MAX_DEPTH) throw new EncodeFailure('depth', '');
      const s = v as Set<unknown>;
      this.head(6, TAG_SET);
      this.head(4, s.size);
      let i = 0;
      try {
        for (const x of s) {
          this.write(x, depth + 1);
          i++;
        }
      } catch (e) {
        throw within(e, { label: `.values()[${i}]` });
      }
    } else if (proto === Date.prototype) {
      // Tag 1 is epoch seconds: an integer when whole, else a float64 (NaN for an invalid date).
      this.head(6, TAG_DATE_EPOCH);
      this.number((v as Date).getTime() / 1000);
    } else {
      throw new EncodeFailure('type', describe(v));
    }
  }
}

function headSize(n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x100000000 ? 5 : 9;
}

// ---------------------------------------------------------------------------------------------
// Decoding

/**
 * Decodes values one after another from `bytes[offset, end)`. Byte strings come back as copies
 * (never views into `bytes`), so a restored value does not keep a whole state file alive. After
 * a ValueCodecError the decoder's offset is unspecified: stop using it.
 */
export class ValueDecoder {
  private readonly u8: Uint8Array;
  private readonly buf: Buffer;
  /** Where u8 lies, kept so that byteString() makes its views without asking u8 each time. */
  private readonly ab: ArrayBufferLike;
  private readonly base: number;
  private pos: number;
  private readonly end: number;

  constructor(bytes: Uint8Array, offset = 0, end = bytes.length) {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(end) || offset < 0 || offset > end) {
      throw new RangeError(`ValueDecoder: bad range [${offset}, ${end})`);
    }
    if (end > bytes.length) {
      throw new RangeError(`ValueDecoder: end ${end} is past the ${bytes.length} bytes given`);
    }
    this.ab = bytes.buffer;
    this.base = bytes.byteOffset;
    this.u8 = new Uint8Array(this.ab, this.base, bytes.byteLength);
    this.buf = Buffer.from(this.ab, this.base, bytes.byteLength);
    this.pos = offset;
    this.end = end;
  }

  /** Where the next value starts. */
  get offset(): number {
    return this.pos;
  }

  /** Every byte up to `end` has been decoded. */
  get done(): boolean {
    return this.pos === this.end;
  }

  /** Decodes the next value; throws a ValueCodecError naming the byte offset if it is malformed or truncated. */
  decode(): unknown {
    return this.read(0);
  }

  /**
   * The same as decode(), with a path of its own for a text string of at most 16 ASCII bytes,
   * the usual state key: a restore decodes one per entry, and the generic path's type feedback
   * is shared with every other value.
   */
  decodeKey(): unknown {
    const p = this.pos;
    const n = p < this.end ? this.u8[p]! - 0x60 : -1;
    if (n >= 0 && n <= 16 && p + 1 + n <= this.end) {
      const b = this.u8;
      let or = 0;
      for (let i = p + 1; i <= p + n; i++) or |= b[i]!;
      if (or < 0x80) {
        this.pos = p + 1 + n;
        return shortAscii(b, p + 1, n);
      }
    }
    return this.read(0);
  }

  /** `n` numbers written by `ValueEncoder.float64Column`. */
  decodeFloat64Column(n: number): Float64Array {
    const length = this.float64ColumnHead(n);
    const out = new Float64Array(n);
    const p = this.pos;
    if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(this.u8.subarray(p, p + length));
    else for (let i = 0; i < n; i++) out[i] = this.buf.readDoubleLE(p + 8 * i);
    this.pos = p + length;
    return out;
  }

  /**
   * Checks the next value as decode() would and steps over it, building nothing: it refuses what
   * decode() refuses (a restore checks every section so before the job starts, and decodes it
   * later; see EncodedKeyGroup). Returns the value's tag (RFC 8949) when it has one, else -1.
   */
  skip(): number {
    return this.check(0);
  }

  /** Checks `n` numbers written by `ValueEncoder.float64Column`, as decodeFloat64Column would. */
  skipFloat64Column(n: number): void {
    const length = this.float64ColumnHead(n);
    this.pos += length;
  }

  /** read() without building the value: the same checks, in the same order. */
  private check(depth: number): number {
    const start = this.pos;
    if (start >= this.end) this.fail('truncated (no value left)', start);
    const ib = this.u8[start]!;
    this.pos = start + 1;
    const info = ib & 31;
    switch (ib >> 5) {
      case 0:
      case 1:
        this.argument(info, start);
        return -1;
      case 2: {
        const n = this.length(info, start, 1);
        this.pos += n;
        return -1;
      }
      case 3:
        this.checkText(this.length(info, start, 1), start);
        return -1;
      case 4: {
        if (depth >= MAX_DEPTH) this.fail(`containers nested deeper than ${MAX_DEPTH} levels`, start);
        const n = this.length(info, start, 1);
        for (let i = 0; i < n; i++) this.check(depth + 1);
        return -1;
      }
      case 5: {
        if (depth >= MAX_DEPTH) this.fail(`containers nested deeper than ${MAX_DEPTH} levels`, start);
        const n = this.length(info, start, 2);
        for (let i = 0; i < n; i++) {
          const at = this.pos;
          this.check(depth + 1);
          if (this.u8[at]! >> 5 !== 3) this.fail('an object key that is not a text string', at);
          this.check(depth + 1);
        }
        return -1;
      }
      case 6: {
        const tag = this.argument(info, start);
        this.checkTagged(tag, start, depth);
        return tag;
      }
      default:
        if (info === 27) this.float64(start);
        else if (info < 20 || info > 23) this.simple(info, start);
        return -1;
    }
  }

  private checkText(n: number, start: number): void {
    const b = this.u8;
    const p = this.pos;
    this.pos = p + n;
    // ASCII is valid UTF-8: a loop is cheaper than a view and a call for the usual short strings.
    if (n <= 64) {
      let or = 0;
      for (let i = p; i < p + n; i++) or |= b[i]!;
      if (or < 0x80) return;
    }
    if (!isUtf8(b.subarray(p, p + n))) this.fail('a text string that is not valid UTF-8', start);
  }

  private checkTagged(tag: number, start: number, depth: number): void {
    switch (tag) {
      case TAG_POS_BIGNUM:
      case TAG_NEG_BIGNUM: {
        const n = this.taggedHead(2, tag, 'a byte string', start);
        if (n > this.end - this.pos) this.fail(`a bignum of ${n} bytes runs past the end of the data`, start);
        // V8's largest bigint has 2^30 bits.
        if (n > 1 << 27) this.fail(`a bignum of ${n} bytes is too large for a bigint`, start);
        this.pos += n;
        return;
      }
      case TAG_DATE_EPOCH: {
        const at = this.pos;
        this.need(1, start);
        const ib = this.u8[at]!;
        this.pos = at + 1;
        if (ib >> 5 === 0 || ib >> 5 === 1) this.argument(ib & 31, at);
        else if (ib === 0xfb) this.float64(at);
        else this.fail('tag 1 (a date) not followed by an integer or a float64', at);
        return;
      }
      case TAG_SET: {
        if (depth >= MAX_DEPTH) this.fail(`containers nested deeper than ${MAX_DEPTH} levels`, start);
        const n = this.taggedHead(4, tag, 'an array', start);
        if (n > this.end - this.pos) this.fail(`a set of ${n} items runs past the end of the data`, start);
        for (let i = 0; i < n; i++) this.check(depth + 1);
        return;
      }
      case TAG_MAP_ANY_KEYS: {
        if (depth >= MAX_DEPTH) this.fail(`containers nested deeper than ${MAX_DEPTH} levels`, start);
        const n = this.taggedHead(5, tag, 'a map', start);
        if (n * 2 > this.end - this.pos)
          this.fail(`a map of ${n} entries runs past the end of the data`, start);
        for (let i = 0; i < 2 * n; i++) this.check(depth + 1);
        return;
      }
      default:
        this.fail(`unsupported tag ${tag}`, start);
    }
  }

  /** The head of a column of `n` float64s, checked with its length against what is left; the column's bytes follow. */
  private float64ColumnHead(n: number): number {
    const start = this.pos;
    this.need(2, start);
    if (this.u8[start] !== 0xd8 || this.u8[start + 1] !== TAG_FLOAT64_LE)
      this.fail(`expected a float64 column (tag ${TAG_FLOAT64_LE})`, start);
    this.pos = start + 2;
    const length = this.taggedHead(2, TAG_FLOAT64_LE, 'a byte string', start);
    if (length !== 8 * n)
      this.fail(`a float64 column of ${length} bytes where ${n} numbers (${8 * n} bytes) belong`, start);
    this.need(length, start);
    return length;
  }

  private fail(what: string, at: number): never {
    throw new ValueCodecError(`malformed value at byte ${at}: ${what}`);
  }

  private need(n: number, start: number): void {
    if (this.end - this.pos < n) {
      this.fail(`truncated (needs ${n} more bytes at byte ${this.pos}, ${this.end - this.pos} left)`, start);
    }
  }

  /** The argument of an initial byte whose additional information is `info`. */
  private argument(info: number, start: number): number {
    if (info < 24) return info;
    const b = this.u8;
    const p = this.pos;
    switch (info) {
      case 24:
        this.need(1, start);
        this.pos = p + 1;
        return b[p]!;
      case 25:
        this.need(2, start);
        this.pos = p + 2;
        return (b[p]! << 8) | b[p + 1]!;
      case 26:
        this.need(4, start);
        this.pos = p + 4;
        return u32(b, p);
      case 27: {
        this.need(8, start);
        const hi = u32(b, p);
        if (hi >= 0x200000) this.fail('an integer or length of 2^53 or more', start);
        this.pos = p + 8;
        return hi * 0x100000000 + u32(b, p + 4);
      }
      case 31:
        return this.fail('an indefinite length (weir never writes them)', start);
      default:
        return this.fail(`reserved additional information ${info}`, start);
    }
  }

  /** A length whose items take at least `minBytesEach` bytes, checked against what is left before anything is allocated. */
  private length(info: number, start: number, minBytesEach: number): number {
    const n = this.argument(info, start);
    if (n * minBytesEach > this.end - this.pos) {
      this.fail(`a length of ${n} runs past the end of the data (${this.end - this.pos} bytes left)`, start);
    }
    return n;
  }

  /** `depth` counts the containers around the value. */
  private read(depth: number): unknown {
    const start = this.pos;
    if (start >= this.end) this.fail('truncated (no value left)', start);
    const ib = this.u8[start]!;
    this.pos = start + 1;
    const info = ib & 31;
    switch (ib >> 5) {
      case 0:
        return this.argument(info, start);
      case 1:
        return -1 - this.argument(info, start);
      case 2:
        return this.byteString(this.length(info, start, 1));
      case 3:
        return this.textString(this.length(info, start, 1), start);
      case 4: {
        if (depth >= MAX_DEPTH) this.fail(`containers nested deeper than ${MAX_DEPTH} levels`, start);
        const n = this.length(info, start, 1);
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.read(depth + 1);
        return out;
      }
      case 5: {
        if (depth >= MAX_DEPTH) this.fail(`containers nested deeper than ${MAX_DEPTH} levels`, start);
        const n = this.length(info, start, 2);
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const at = this.pos;
          const k = this.read(depth + 1);
          if (typeof k !== 'string') this.fail('an object key that is not a text string', at);
          const x = this.read(depth + 1);
          if (k === '__proto__') {
            Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
          } else out[k] = x;
        }
        return out;
      }
      case 6:
        return this.tagged(this.argument(info, start), start, depth);
      default:
        return this.simple(info, start);
    }
  }

  /**
   * Small byte strings are copied (they live on V8's heap). Larger ones are views into the
   * decoded bytes, never overlapping another value's: one fresh ArrayBuffer per value made a
   * restore of a gigabyte of 1 KiB values 2.5× slower on these machines (first-touching new
   * memory is slow), at the price of keeping the section's bytes alive while a value lives.
   */
  private byteString(n: number): Uint8Array {
    const p = this.pos;
    this.pos = p + n;
    if (n <= ON_HEAP_BYTES) return this.u8.slice(p, p + n);
    return new Uint8Array(this.ab, this.base + p, n);
  }

  private textString(n: number, start: number): string {
    const b = this.u8;
    const p = this.pos;
    this.pos = p + n;
    if (n <= 16) {
      let or = 0;
      for (let i = p; i < p + n; i++) or |= b[i]!;
      if (or < 0x80) return shortAscii(b, p, n);
    }
    try {
      return utf8.decode(b.subarray(p, p + n));
    } catch {
      return this.fail('a text string that is not valid UTF-8', start);
    }
  }

  /**
   * The item after a tag's head, which must be of major type `major`: its argument. Tags wrap
   * only the items below, never another tag, so hostile input cannot recurse without nesting.
   */
  private taggedHead(major: number, tag: number, what: string, start: number): number {
    const at = this.pos;
    this.need(1, start);
    const ib = this.u8[at]!;
    if (ib >> 5 !== major) this.fail(`tag ${tag} not followed by ${what}`, at);
    this.pos = at + 1;
    return this.argument(ib & 31, at);
  }

  private tagged(tag: number, start: number, depth: number): unknown {
    switch (tag) {
      case TAG_POS_BIGNUM:
      case TAG_NEG_BIGNUM: {
        const n = this.taggedHead(2, tag, 'a byte string', start);
        if (n > this.end - this.pos) this.fail(`a bignum of ${n} bytes runs past the end of the data`, start);
        const p = this.pos;
        this.pos = p + n;
        let m = 0n;
        if (n > 0) {
          try {
            m = BigInt('0x' + this.buf.toString('hex', p, p + n));
          } catch {
            this.fail(`a bignum of ${n} bytes is too large for a bigint`, start);
          }
        }
        return tag === TAG_POS_BIGNUM ? m : -1n - m;
      }
      case TAG_DATE_EPOCH: {
        const at = this.pos;
        this.need(1, start);
        const ib = this.u8[at]!;
        this.pos = at + 1;
        let seconds: number;
        if (ib >> 5 === 0) seconds = this.argument(ib & 31, at);
        else if (ib >> 5 === 1) seconds = -1 - this.argument(ib & 31, at);
        else if (ib === 0xfb) seconds = this.float64(at);
        else return this.fail('tag 1 (a date) not followed by an integer or a float64', at);
        return new Date(epochMillis(seconds));
      }
      case TAG_SET: {
        if (depth >= MAX_DEPTH) this.fail(`containers nested deeper than ${MAX_DEPTH} levels`, start);
        const n = this.taggedHead(4, tag, 'an array', start);
        if (n > this.end - this.pos) this.fail(`a set of ${n} items runs past the end of the data`, start);
        const out = new Set<unknown>();
        for (let i = 0; i < n; i++) out.add(this.read(depth + 1));
        return out;
      }
      case TAG_MAP_ANY_KEYS: {
        if (depth >= MAX_DEPTH) this.fail(`containers nested deeper than ${MAX_DEPTH} levels`, start);
        const n = this.taggedHead(5, tag, 'a map', start);
        if (n * 2 > this.end - this.pos)
          this.fail(`a map of ${n} entries runs past the end of the data`, start);
        const out = new Map<unknown, unknown>();
        for (let i = 0; i < n; i++) {
          const k = this.read(depth + 1);
          out.set(k, this.read(depth + 1));
        }
        return out;
      }
      default:
        return this.fail(`unsupported tag ${tag}`, start);
    }
  }

  private float64(start: number): number {
    this.need(8, start);
    const x = this.buf.readDoubleBE(this.pos);
    this.pos += 8;
    return x;
  }

  private simple(info: number, start: number): unknown {
    switch (info) {
      case 20:
        return false;
      case 21:
        return true;
      case 22:
        return null;
      case 23:
        return undefined;
      case 27:
        return this.float64(start);
      case 25:
      case 26:
        return this.fail(`a float${info === 25 ? 16 : 32} (weir writes only float64)`, start);
      case 24:
        return this.fail('an unsupported simple value', start);
      case 31:
        return this.fail('a break outside an indefinite-length item (weir never writes them)', start);
      default:
        return this.fail(
          info < 20 ? `an unsupported simple value ${info}` : `reserved additional information ${info}`,
          start,
        );
    }
  }
}

/** Tag 1 seconds back to the milliseconds they came from: `ms / 1000` is distinct for every whole `ms` a Date can hold. */
function epochMillis(seconds: number): number {
  if (!Number.isFinite(seconds)) return NaN;
  let ms = Math.round(seconds * 1000);
  if (ms / 1000 !== seconds) {
    if ((ms + 1) / 1000 === seconds) ms += 1;
    else if ((ms - 1) / 1000 === seconds) ms -= 1;
  }
  return ms;
}

/**
 * Per length 0…16, an array of that many character codes, refilled by each call of shortAscii
 * (which runs to completion, so nothing else ever sees it).
 */
const ASCII_CODES: number[][] = Array.from({ length: 17 }, (_, n) => new Array<number>(n).fill(0));

/**
 * `n` ≤ 16 ASCII bytes as a string: one call, one string. (Keys are often this short; halves
 * joined made three strings, and from 13 characters on a cons string that a Map must flatten.)
 */
function shortAscii(b: Uint8Array, p: number, n: number): string {
  const codes = ASCII_CODES[n]!;
  for (let i = 0; i < n; i++) codes[i] = b[p + i]!;
  return String.fromCharCode.apply(null, codes);
}

// Big-endian 32-bit integers byte by byte: Buffer's read/writeUInt32BE check their arguments on
// every call, and a snapshot has one per count, length or timestamp.
function putU32(b: Uint8Array, p: number, n: number): void {
  b[p] = n >>> 24;
  b[p + 1] = (n >>> 16) & 0xff;
  b[p + 2] = (n >>> 8) & 0xff;
  b[p + 3] = n & 0xff;
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
}

/** One value as bytes. */
export function encodeValue(v: unknown): Uint8Array {
  const e = new ValueEncoder(256);
  e.encode(v);
  return e.finish();
}

/** Exactly one value: trailing bytes are an error. */
export function decodeValue(b: Uint8Array): unknown {
  const d = new ValueDecoder(b);
  const v = d.decode();
  if (!d.done) {
    throw new ValueCodecError(
      `malformed value at byte ${d.offset}: ${b.length - d.offset} bytes after the end of the value`,
    );
  }
  return v;
}
