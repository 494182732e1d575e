// The value codec of every state file: a documented subset of CBOR (RFC 8949), so any CBOR
// decoder in any language reads weir's snapshots (docs/value-codec.md). Deterministic: the same
// value always gives the same bytes. Fast paths for the common cases (small integers, short
// ASCII strings) because snapshots push millions of entries through here.

export class ValueCodecError extends Error {
  override readonly name = 'ValueCodecError';
}

const SUPPORTED =
  'null, undefined, booleans, numbers, bigints, strings, Uint8Array, arrays, plain objects, Map, Set and Date';
const MAX_DEPTH = 512;

const TAG_DATE_EPOCH = 1;
const TAG_POS_BIGNUM = 2;
const TAG_NEG_BIGNUM = 3;
const TAG_SET = 258;
const TAG_MAP_ANY_KEYS = 259;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class ValueEncoder {
  private buf: Buffer;
  private pos = 0;

  constructor(initialCapacity = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.pos;
  }

  reset(): void {
    this.pos = 0;
  }

  /** A copy of the bytes written so far. */
  finish(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buf, 0, this.pos);
  }

  /** A copy of the bytes written so far, then reset: for streaming writes. */
  takeChunk(): Buffer {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    this.pos = 0;
    return out;
  }

  encode(value: unknown): void {
    this.write(value, 0, undefined);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Major type `major` with argument `n` (0 ≤ n < 2^53), in the shortest form. */
  private head(major: number, n: number): void {
    this.ensure(9);
    const b = this.buf;
    const m = major << 5;
    if (n < 24) b[this.pos++] = m | n;
    else if (n < 0x100) {
      b[this.pos++] = m | 24;
      b[this.pos++] = n;
    } else if (n < 0x10000) {
      b[this.pos++] = m | 25;
      b.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else if (n < 0x100000000) {
      b[this.pos++] = m | 26;
      b.writeUInt32BE(n, this.pos);
      this.pos += 4;
    } else {
      b[this.pos++] = m | 27;
      b.writeUInt32BE(Math.floor(n / 0x100000000), this.pos);
      b.writeUInt32BE(n >>> 0, this.pos + 4);
      this.pos += 8;
    }
  }

  private float(x: number): void {
    this.ensure(9);
    this.buf[this.pos++] = 0xfb;
    this.buf.writeDoubleBE(x, this.pos);
    this.pos += 8;
  }

  private string(s: string): void {
    const n = s.length;
    // Short ASCII: write the bytes directly; fall back on the first non-ASCII character.
    if (n < 24) {
      this.ensure(1 + n);
      const start = this.pos;
      const b = this.buf;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[start + 1 + i] = c;
      }
      if (i === n) {
        b[start] = 0x60 | n;
        this.pos = start + 1 + n;
        return;
      }
    }
    const bytes = Buffer.byteLength(s, 'utf8');
    this.head(3, bytes);
    this.ensure(bytes);
    this.buf.write(s, this.pos, bytes, 'utf8');
    this.pos += bytes;
  }

  private bytes(u: Uint8Array): void {
    this.head(2, u.length);
    this.ensure(u.length);
    this.buf.set(u, this.pos);
    this.pos += u.length;
  }

  private bigint(v: bigint): void {
    const neg = v < 0n;
    let m = neg ? -1n - v : v;
    const parts: number[] = [];
    while (m > 0n) {
      parts.push(Number(m & 0xffn));
      m >>= 8n;
    }
    this.head(6, neg ? TAG_NEG_BIGNUM : TAG_POS_BIGNUM);
    this.head(2, parts.length);
    this.ensure(parts.length);
    for (let i = parts.length - 1; i >= 0; i--) this.buf[this.pos++] = parts[i]!;
  }

  private write(v: unknown, depth: number, path: string | undefined): void {
    switch (typeof v) {
      case 'number':
        if (Number.isSafeInteger(v) && !Object.is(v, -0)) {
          if (v >= 0) this.head(0, v);
          else this.head(1, -1 - v);
        } else this.float(v);
        return;
      case 'string':
        this.string(v);
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
          return;
        }
        this.object(v, depth, path);
        return;
      default:
        throw new ValueCodecError(
          `cannot encode a ${typeof v} at ${path ?? 'value'}; state values must be plain data (${SUPPORTED})`,
        );
    }
  }

  private object(v: object, depth: number, path: string | undefined): void {
    if (depth >= MAX_DEPTH) {
      throw new ValueCodecError(
        `value nested deeper than ${MAX_DEPTH} levels at ${path ?? 'value'} (a cycle?); state values must be plain, acyclic data`,
      );
    }
    const d = depth + 1;
    const at = (k: string | number): string | undefined =>
      path === undefined && depth > 64
        ? undefined
        : `${path ?? 'value'}${typeof k === 'number' ? `[${k}]` : `.${k}`}`;
    if (Array.isArray(v)) {
      this.head(4, v.length);
      for (let i = 0; i < v.length; i++) this.write(v[i], d, at(i));
      return;
    }
    if (v instanceof Uint8Array && (v.constructor === Uint8Array || v.constructor === Buffer)) {
      this.bytes(v);
      return;
    }
    if (v instanceof Map) {
      this.head(6, TAG_MAP_ANY_KEYS);
      this.head(5, v.size);
      let i = 0;
      for (const [k, x] of v) {
        this.write(k, d, at(`<key ${i}>`));
        this.write(x, d, at(`<value ${i++}>`));
      }
      return;
    }
    if (v instanceof Set) {
      this.head(6, TAG_SET);
      this.head(4, v.size);
      let i = 0;
      for (const x of v) this.write(x, d, at(i++));
      return;
    }
    if (v instanceof Date) {
      const ms = v.getTime();
      this.head(6, TAG_DATE_EPOCH);
      const s = ms / 1000;
      if (Number.isSafeInteger(s)) this.write(s, d, path);
      else this.float(s);
      return;
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto !== Object.prototype && proto !== null) {
      const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      throw new ValueCodecError(
        `cannot encode a ${name} at ${path ?? 'value'}; state values must be plain data (${SUPPORTED})`,
      );
    }
    const keys = Object.keys(v);
    this.head(5, keys.length);
    for (const k of keys) {
      this.string(k);
      this.write((v as Record<string, unknown>)[k], d, at(k));
    }
  }
}

export class ValueDecoder {
  private pos: number;
  private readonly end: number;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    offset = 0,
    end = bytes.length,
  ) {
    this.pos = offset;
    this.end = end;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  decode(): unknown {
    return this.read(0);
  }

  private fail(what: string, at = this.pos): never {
    throw new ValueCodecError(`malformed value at byte ${at}: ${what}`);
  }

  private need(n: number): void {
    if (this.pos + n > this.end) this.fail(`truncated (needs ${n} more bytes, ${this.end - this.pos} left)`);
  }

  private argument(info: number, start: number): number {
    if (info < 24) return info;
    switch (info) {
      case 24:
        this.need(1);
        return this.bytes[this.pos++]!;
      case 25: {
        this.need(2);
        const n = this.view.getUint16(this.pos);
        this.pos += 2;
        return n;
      }
      case 26: {
        this.need(4);
        const n = this.view.getUint32(this.pos);
        this.pos += 4;
        return n;
      }
      case 27: {
        this.need(8);
        const hi = this.view.getUint32(this.pos);
        const lo = this.view.getUint32(this.pos + 4);
        this.pos += 8;
        if (hi >= 0x200000) this.fail('integer beyond 2^53', start);
        return hi * 0x100000000 + lo;
      }
      default:
        return this.fail(
          info === 31 ? 'indefinite lengths are not used by weir' : `reserved additional info ${info}`,
          start,
        );
    }
  }

  private length(info: number, start: number, minBytesEach: number): number {
    const n = this.argument(info, start);
    if (n * minBytesEach > this.end - this.pos) this.fail(`length ${n} runs past the end of the data`, start);
    return n;
  }

  private read(depth: number): unknown {
    if (depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
    const start = this.pos;
    this.need(1);
    const ib = this.bytes[this.pos++]!;
    const major = ib >> 5;
    const info = ib & 31;
    switch (major) {
      case 0:
        return this.argument(info, start);
      case 1:
        return -1 - this.argument(info, start);
      case 2: {
        const n = this.length(info, start, 1);
        // A view, not a copy: one ArrayBuffer per value would make restoring millions of small
        // byte strings a garbage-collection storm. Views of one payload never overlap.
        const b = this.bytes;
        const out = new Uint8Array(b.buffer, b.byteOffset + this.pos, n);
        this.pos += n;
        return out;
      }
      case 3: {
        const n = this.length(info, start, 1);
        const b = this.bytes;
        const p = this.pos;
        this.pos += n;
        if (n < 32) {
          let ascii = true;
          for (let i = p; i < p + n; i++) if (b[i]! >= 0x80) ascii = false;
          if (ascii) {
            let s = '';
            for (let i = p; i < p + n; i++) s += String.fromCharCode(b[i]!);
            return s;
          }
        }
        try {
          return utf8.decode(b.subarray(p, p + n));
        } catch {
          return this.fail('invalid UTF-8 in a text string', start);
        }
      }
      case 4: {
        const n = this.length(info, start, 1);
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.read(depth + 1);
        return out;
      }
      case 5: {
        const n = this.length(info, start, 2);
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = this.read(depth + 1);
          if (typeof k !== 'string') this.fail('an object key that is not a text string', start);
          Object.defineProperty(out, k, {
            value: this.read(depth + 1),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
      case 6:
        return this.tagged(this.argument(info, start), start, depth);
      default:
        return this.simple(info, start);
    }
  }

  private tagged(tag: number, start: number, depth: number): unknown {
    switch (tag) {
      case TAG_POS_BIGNUM:
      case TAG_NEG_BIGNUM: {
        this.need(1);
        const ib = this.bytes[this.pos++]!;
        if (ib >> 5 !== 2) this.fail('a bignum tag without a byte string', start);
        const n = this.length(ib & 31, start, 1);
        let m = 0n;
        for (let i = 0; i < n; i++) m = (m << 8n) | BigInt(this.bytes[this.pos + i]!);
        this.pos += n;
        return tag === TAG_POS_BIGNUM ? m : -1n - m;
      }
      case TAG_DATE_EPOCH: {
        const s = this.read(depth + 1);
        if (typeof s !== 'number') this.fail('a date tag without a number', start);
        return new Date(Math.round(s * 1000));
      }
      case TAG_SET: {
        const items = this.read(depth + 1);
        if (!Array.isArray(items)) this.fail('a set tag without an array', start);
        return new Set(items);
      }
      case TAG_MAP_ANY_KEYS: {
        this.need(1);
        const ib = this.bytes[this.pos++]!;
        if (ib >> 5 !== 5) this.fail('a map tag without a map', start);
        const n = this.length(ib & 31, start, 2);
        const out = new Map<unknown, unknown>();
        for (let i = 0; i < n; i++) {
          const k = this.read(depth + 1);
          out.set(k, this.read(depth + 1));
        }
        return out;
      }
      default:
        return this.fail(`unknown tag ${tag}`, start);
    }
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
      case 27: {
        this.need(8);
        const x = this.view.getFloat64(this.pos);
        this.pos += 8;
        return x;
      }
      default:
        return this.fail(`unsupported simple value or float form (additional info ${info})`, start);
    }
  }
}

export function encodeValue(v: unknown): Uint8Array {
  const e = new ValueEncoder(256);
  e.encode(v);
  return e.finish();
}

export function decodeValue(b: Uint8Array): unknown {
  const d = new ValueDecoder(b);
  const v = d.decode();
  if (!d.done)
    throw new ValueCodecError(`malformed value: ${b.length - d.offset} bytes after the end of the value`);
  return v;
}
