// The data file of a snapshot, format version 1 (ARCHITECTURE.md §8; docs/savepoint-format.md):
//
//   header   "WEIRSTAT" · u16 version · u16 kind
//   sections payloads back to back (keyed state: one per key group)
//   index    per section: u32 id · u64 offset · u32 length · u32 crc32(payload)
//   footer   u32 section count · u32 crc32(index) · "WEIRIDX1"
//
// All integers big-endian. A reader that owns some key groups reads the footer, the index and
// only the byte ranges of its sections, each checked against its own checksum.
import { crc32 } from 'node:zlib';

/** What a reader needs of a storage (kept apart from checkpoint-storage.ts, which imports this file). */
export interface StateFileSource<L extends { readonly uri: string }> {
  statFile(location: L, relativePath: string): Promise<{ size: number } | undefined>;
  readRange(location: L, relativePath: string, offset: number, length: number): Promise<Uint8Array>;
}

export const STATE_FILE_VERSION = 1;
export const STATE_FILE_KEYED = 1;
export const STATE_FILE_OPERATOR = 2;
export const STATE_FILE_TIMERS = 3;
export const STATE_FILE_SINK = 4;

const MAGIC = Buffer.from('WEIRSTAT', 'latin1');
const INDEX_MAGIC = Buffer.from('WEIRIDX1', 'latin1');
export const HEADER_BYTES = 12;
const FOOTER_BYTES = 16;
const INDEX_ENTRY_BYTES = 20;

export interface SectionRef {
  readonly id: number;
  readonly offset: number;
  readonly length: number;
  readonly crc32: number;
}

export interface StateFileInfo {
  /** Relative to the snapshot folder. */
  readonly path: string;
  readonly size: number;
  /** Of the whole file. */
  readonly crc32: number;
  readonly kind: number;
  readonly sections: SectionRef[];
}

/** A state file that cannot be trusted: missing, truncated, of another version, or damaged. */
export class CorruptStateFileError extends Error {
  override readonly name = 'CorruptStateFileError';
}

/** Where a writer's bytes go: a temp file, or an upload. Implemented by each storage. */
export interface ByteSink {
  write(chunk: Uint8Array): Promise<void>;
  /** Makes the bytes durable and visible under the final name. */
  commit(): Promise<void>;
  /** Drops everything written. */
  abort(): Promise<void>;
}

const BUFFER_BYTES = 1 << 20;

export function stateFileHeader(kind: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(h, 0);
  h.writeUInt16BE(STATE_FILE_VERSION, 8);
  h.writeUInt16BE(kind, 10);
  return h;
}

export class StateFileWriter {
  private readonly sections: SectionRef[] = [];
  private offset = HEADER_BYTES;
  private current: { id: number; offset: number; length: number; crc: number } | undefined;
  private fileCrc: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private closed = false;

  constructor(
    private readonly path: string,
    private readonly kind: number,
    private readonly sink: ByteSink,
  ) {
    const header = stateFileHeader(kind);
    this.fileCrc = crc32(header);
    this.pending.push(header);
    this.pendingBytes = header.length;
  }

  beginSection(id: number): void {
    if (this.current !== undefined)
      throw new Error(`internal: section ${this.current.id} of ${this.path} is still open`);
    if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new Error(`internal: bad section id ${id}`);
    this.current = { id, offset: this.offset, length: 0, crc: 0 };
  }

  /** Appends to the open section; returns a promise only when it had to write (backpressure). */
  write(chunk: Uint8Array): Promise<void> | undefined {
    const s = this.current;
    if (s === undefined) throw new Error(`internal: write to ${this.path} outside a section`);
    s.crc = crc32(chunk, s.crc);
    s.length += chunk.length;
    return this.append(chunk);
  }

  endSection(): void {
    const s = this.current;
    if (s === undefined) throw new Error(`internal: no open section in ${this.path}`);
    this.sections.push({ id: s.id, offset: s.offset, length: s.length, crc32: s.crc });
    this.current = undefined;
  }

  private append(chunk: Uint8Array): Promise<void> | undefined {
    this.fileCrc = crc32(chunk, this.fileCrc);
    this.offset += chunk.length;
    this.pending.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= BUFFER_BYTES) return this.drain();
    return undefined;
  }

  private async drain(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const data =
      this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    await this.sink.write(data);
  }

  async close(): Promise<StateFileInfo> {
    if (this.current !== undefined) this.endSection();
    if (this.closed) throw new Error(`internal: ${this.path} closed twice`);
    this.closed = true;
    const index = Buffer.alloc(this.sections.length * INDEX_ENTRY_BYTES);
    this.sections.forEach((s, i) => {
      const o = i * INDEX_ENTRY_BYTES;
      index.writeUInt32BE(s.id, o);
      index.writeBigUInt64BE(BigInt(s.offset), o + 4);
      index.writeUInt32BE(s.length, o + 12);
      index.writeUInt32BE(s.crc32, o + 16);
    });
    const footer = Buffer.alloc(FOOTER_BYTES);
    footer.writeUInt32BE(this.sections.length, 0);
    footer.writeUInt32BE(crc32(index), 4);
    INDEX_MAGIC.copy(footer, 8);
    void this.append(index);
    void this.append(footer);
    await this.drain();
    await this.sink.commit();
    return {
      path: this.path,
      size: this.offset,
      crc32: this.fileCrc,
      kind: this.kind,
      sections: this.sections,
    };
  }

  async abort(): Promise<void> {
    this.closed = true;
    this.pending = [];
    await this.sink.abort();
  }
}

type Location = { readonly uri: string };

export class StateFileReader {
  private constructor(
    private readonly storage: StateFileSource<Location>,
    private readonly location: Location,
    readonly path: string,
    readonly size: number,
    readonly kind: number,
    readonly sections: SectionRef[],
    private readonly expectedCrc: number | undefined,
  ) {}

  private static where(location: Location, path: string): string {
    return `${location.uri}/${path}`;
  }

  /** Checks magic, version, footer and index (and the size, when known); sections are checked when read. */
  static async open<L extends Location>(
    storage: StateFileSource<L>,
    location: L,
    path: string,
    expected: { size?: number; crc32?: number; kind?: number } = {},
  ): Promise<StateFileReader> {
    const where = StateFileReader.where(location, path);
    const bad = (what: string): CorruptStateFileError =>
      new CorruptStateFileError(`state file ${where} is damaged: ${what}`);
    const stat = await storage.statFile(location, path);
    if (stat === undefined) throw new CorruptStateFileError(`state file ${where} is missing`);
    const size = stat.size;
    if (expected.size !== undefined && size !== expected.size)
      throw bad(
        `${size < expected.size ? 'truncated' : 'too long'}: expected ${expected.size} bytes, found ${size}`,
      );
    if (size < HEADER_BYTES + FOOTER_BYTES) throw bad(`truncated: only ${size} bytes`);
    const header = Buffer.from(await storage.readRange(location, path, 0, HEADER_BYTES));
    if (!header.subarray(0, 8).equals(MAGIC)) throw bad('bad magic (not a weir state file)');
    const version = header.readUInt16BE(8);
    if (version !== STATE_FILE_VERSION)
      throw new CorruptStateFileError(
        `state file ${where} has format version ${version}; this weir reads version ${STATE_FILE_VERSION}`,
      );
    const kind = header.readUInt16BE(10);
    if (expected.kind !== undefined && kind !== expected.kind)
      throw bad(`holds state of kind ${kind} where kind ${expected.kind} was expected`);
    const footer = Buffer.from(await storage.readRange(location, path, size - FOOTER_BYTES, FOOTER_BYTES));
    if (!footer.subarray(8).equals(INDEX_MAGIC)) throw bad('bad index magic (truncated or overwritten)');
    const count = footer.readUInt32BE(0);
    const indexBytes = count * INDEX_ENTRY_BYTES;
    if (indexBytes > size - HEADER_BYTES - FOOTER_BYTES) throw bad(`index of ${count} sections does not fit`);
    const index = Buffer.from(
      await storage.readRange(location, path, size - FOOTER_BYTES - indexBytes, indexBytes),
    );
    if (crc32(index) !== footer.readUInt32BE(4)) throw bad('index checksum mismatch');
    const sections: SectionRef[] = [];
    const dataEnd = size - FOOTER_BYTES - indexBytes;
    for (let i = 0; i < count; i++) {
      const o = i * INDEX_ENTRY_BYTES;
      const s: SectionRef = {
        id: index.readUInt32BE(o),
        offset: Number(index.readBigUInt64BE(o + 4)),
        length: index.readUInt32BE(o + 12),
        crc32: index.readUInt32BE(o + 16),
      };
      if (s.offset < HEADER_BYTES || s.offset + s.length > dataEnd)
        throw bad(`section ${s.id} lies outside the data`);
      sections.push(s);
    }
    return new StateFileReader(
      storage as StateFileSource<Location>,
      location,
      path,
      size,
      kind,
      sections,
      expected.crc32,
    );
  }

  /** Reads one section's bytes (only its range) and checks them against its checksum. */
  async readSection(id: number): Promise<Uint8Array> {
    const s = this.sections.find((x) => x.id === id);
    const where = StateFileReader.where(this.location, this.path);
    if (s === undefined) throw new CorruptStateFileError(`state file ${where} has no section ${id}`);
    const bytes = await this.storage.readRange(this.location, this.path, s.offset, s.length);
    if (bytes.length !== s.length || crc32(bytes) !== s.crc32)
      throw new CorruptStateFileError(`state file ${where} is damaged: checksum mismatch in section ${id}`);
    return bytes;
  }

  /**
   * Reads several sections with one read of the byte range that spans them, each checked
   * against its checksum. One allocation instead of one per section: restored values are views
   * into it, and a restore of a gigabyte must not become a garbage-collection storm.
   */
  async readSections(ids: readonly number[]): Promise<Map<number, Uint8Array>> {
    const where = StateFileReader.where(this.location, this.path);
    const wanted = ids.map((id) => {
      const s = this.sections.find((x) => x.id === id);
      if (s === undefined) throw new CorruptStateFileError(`state file ${where} has no section ${id}`);
      return s;
    });
    const out = new Map<number, Uint8Array>();
    if (wanted.length === 0) return out;
    const from = Math.min(...wanted.map((s) => s.offset));
    const to = Math.max(...wanted.map((s) => s.offset + s.length));
    const bytes = await this.storage.readRange(this.location, this.path, from, to - from);
    if (bytes.length !== to - from)
      throw new CorruptStateFileError(`state file ${where} is damaged: truncated`);
    for (const s of wanted) {
      const payload = bytes.subarray(s.offset - from, s.offset - from + s.length);
      if (crc32(payload) !== s.crc32)
        throw new CorruptStateFileError(
          `state file ${where} is damaged: checksum mismatch in section ${s.id}`,
        );
      out.set(s.id, payload);
    }
    return out;
  }

  /** Reads the whole file and checks it against the checksum `_metadata` recorded. */
  async verify(): Promise<void> {
    if (this.expectedCrc === undefined) return;
    const bytes = await this.storage.readRange(this.location, this.path, 0, this.size);
    if (crc32(bytes) !== this.expectedCrc)
      throw new CorruptStateFileError(
        `state file ${StateFileReader.where(this.location, this.path)} is damaged: checksum mismatch`,
      );
  }
}
