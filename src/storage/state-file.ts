// The data file of a snapshot (ARCHITECTURE.md §8). An on-disk contract: change it only with a
// version bump and a reader for the old version. The layout below is that of every version; the
// version says how a kind's payloads are laid out: keyed files are written at version 2 (keys,
// then values, per state: state-serialization.ts), the other kinds at version 1. Version 1 keyed
// files (key, value pairs) are read as well.
//
//   header   "WEIRSTAT" · u16 version · u16 kind (1 keyed, 2 operator, 3 timers, 4 sink)
//   sections payloads back to back, from byte 12, in increasing id order
//            (keyed state: one per non-empty key group, id = key group; others: ids 0, 1, …)
//   index    per section: u32 id · u64 offset (from the file start) · u32 length · u32 crc32(payload)
//   footer   u32 section count · u32 crc32(index) · "WEIRIDX1"
//
// All integers big-endian; crc32 is zlib's. A reader that owns some key groups reads the footer,
// the index and only the byte ranges of its sections, each checked against its own checksum. The
// whole-file checksum recorded in `_metadata` is the crc32 of every byte; because the sections
// tile the bytes between header and index, a reader derives it from the index alone (crc32.ts),
// so a file swapped for another one is caught when it is opened, before any payload is read.
import { crc32, crc32Combine } from './crc32.js';

export const STATE_FILE_KEYED = 1;
export const STATE_FILE_OPERATOR = 2;
export const STATE_FILE_TIMERS = 3;
export const STATE_FILE_SINK = 4;

const KIND_NAMES: ReadonlyMap<number, string> = new Map([
  [STATE_FILE_KEYED, 'keyed'],
  [STATE_FILE_OPERATOR, 'operator'],
  [STATE_FILE_TIMERS, 'timers'],
  [STATE_FILE_SINK, 'sink'],
]);

/** 'keyed', 'operator', 'timers', 'sink', or `kind <n>` for a number this weir does not know. */
export function stateFileKindName(kind: number): string {
  return KIND_NAMES.get(kind) ?? `kind ${kind}`;
}

const MAGIC = Buffer.from('WEIRSTAT', 'latin1');
const INDEX_MAGIC = Buffer.from('WEIRIDX1', 'latin1');
export const HEADER_BYTES = 12;
const FOOTER_BYTES = 16;
const INDEX_ENTRY_BYTES = 20;
const U32_MAX = 0xffffffff;

export interface SectionRef {
  /** Key group for keyed files; 0, 1, … for the others. */
  readonly id: number;
  /** From the start of the file. */
  readonly offset: number;
  readonly length: number;
  /** Of the payload. */
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

/**
 * A state file that cannot be trusted: missing, truncated, of another version, or damaged.
 * `file` names it (its location and path); `problem` says what is wrong.
 */
export class CorruptStateFileError extends Error {
  override readonly name = 'CorruptStateFileError';
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`state file ${file}: ${problem}`, options);
  }
}

/**
 * Where a writer's bytes go: a temporary file, or an upload. Implemented by each storage.
 * The writer calls `write` with at most one call in flight, and does not touch `chunk` until
 * the promise settles.
 */
export interface ByteSink {
  /**
   * Appends `chunk`. A sink may take the chunk's memory (move it to another thread): it then
   * resolves with a buffer over that same memory, given back, for the caller to use instead.
   */
  write(chunk: Uint8Array): Promise<void | Uint8Array>;
  /**
   * Takes a `write` before the previous one settled and writes them in the order they came (a
   * failed one fails every later one): the writer then keeps several buffers on their way.
   */
  readonly ordered?: boolean;
  /**
   * Makes the bytes visible under the final name, at once, and durable (a snapshot's data file:
   * its name is made durable with the snapshot folder, before `_metadata` is written).
   */
  commit(): Promise<void>;
  /** Drops everything written; nothing becomes visible. Safe to call more than once. */
  abort(): Promise<void>;
}

/** The writer's buffer: bytes are copied into it and written when it is full, one write in flight. */
const DEFAULT_BUFFER_BYTES = 1 << 20;
/** Full buffers that may wait for the sink before `write` makes its caller wait. */
const QUEUED_BUFFERS = 4;

/**
 * Buffers of writers that were closed, for the next ones: fresh memory costs a page fault per
 * 4 KiB, and a job checkpointing every 100 ms would otherwise fault in megabytes each time (every
 * state file takes two buffers, also one of a hundred bytes).
 */
const spareBuffers: Buffer[] = [];
const SPARE_BUFFERS = 2 * QUEUED_BUFFERS;

function takeBuffer(size: number): Buffer {
  return (size === DEFAULT_BUFFER_BYTES ? spareBuffers.pop() : undefined) ?? Buffer.allocUnsafe(size);
}

function giveBack(b: Buffer | undefined): void {
  if (b !== undefined && b.length === DEFAULT_BUFFER_BYTES && spareBuffers.length < SPARE_BUFFERS)
    spareBuffers.push(b);
}

/** The version this weir writes a state file of `kind` at. */
export function stateFileVersion(kind: number): number {
  return kind === STATE_FILE_KEYED ? 2 : 1;
}

export function stateFileHeader(kind: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(h, 0);
  h.writeUInt16BE(stateFileVersion(kind), 8);
  h.writeUInt16BE(kind, 10);
  return h;
}

function encodeIndex(sections: readonly SectionRef[]): { index: Buffer; footer: Buffer } {
  const index = Buffer.alloc(sections.length * INDEX_ENTRY_BYTES);
  sections.forEach((s, i) => {
    const o = i * INDEX_ENTRY_BYTES;
    index.writeUInt32BE(s.id, o);
    index.writeBigUInt64BE(BigInt(s.offset), o + 4);
    index.writeUInt32BE(s.length, o + 12);
    index.writeUInt32BE(s.crc32, o + 16);
  });
  const footer = Buffer.alloc(FOOTER_BYTES);
  footer.writeUInt32BE(sections.length, 0);
  footer.writeUInt32BE(crc32(index), 4);
  INDEX_MAGIC.copy(footer, 8);
  return { index, footer };
}

/** crc32 of the bytes from HEADER_BYTES to the index: the sections, which tile them. */
function dataCrc(sections: readonly SectionRef[]): number {
  let c = 0;
  for (const s of sections) c = crc32Combine(c, s.crc32, s.length);
  return c;
}

type WriterState = 'open' | 'closing' | 'closed' | 'aborted' | 'failed';

const EMPTY = Buffer.alloc(0);

/**
 * Writes one state file as a stream of sections (a snapshot of a gigabyte never sits in memory
 * at once). Created by a `CheckpointStorage`; the file becomes visible only when `close()`
 * resolves. Use:
 *
 *   w.beginSection(id); await w.write(bytes)…; w.endSection(); … ; const info = await w.close();
 *   — or on any failure: await w.abort();
 *
 * Section ids increase strictly (key groups in order). `write` copies `chunk` into a buffer, so
 * the caller may reuse it as soon as `write` returns; it returns a promise only when
 * QUEUED_BUFFERS full buffers wait for the sink and it must wait too (backpressure) — await it
 * before the next call. A snapshot of a few megabytes is taken in without waiting, also while
 * the sink is still being opened (the filesystem storage creates its file on its I/O thread
 * meanwhile), so its capture is released sooner.
 */
export class StateFileWriter {
  private readonly sections: SectionRef[] = [];
  /** Bytes of the file so far (header and payloads). */
  private size = HEADER_BYTES;
  private current: { id: number; offset: number; length: number; crc: number } | undefined;
  private state: WriterState = 'open';
  /** A write() is waiting for the disk; no other call may come before its promise settles. */
  private busy = false;
  private buf: Buffer;
  private used = 0;
  /** Buffers written and free again. */
  private spares: Buffer[] = [];
  /** Full buffers on their way to the sink, oldest first; written one at a time, in order. */
  private queue: Array<Promise<void>> = [];
  /** Settles when the newest queued buffer is written (or failed). */
  private tail: Promise<void> = Promise.resolve();
  private failure: { error: unknown } | undefined;

  constructor(
    /** Relative to the snapshot folder. */
    readonly path: string,
    readonly kind: number,
    private readonly sink: ByteSink,
    private readonly bufferBytes = DEFAULT_BUFFER_BYTES,
  ) {
    if (!KIND_NAMES.has(kind)) throw new Error(`internal: unknown state file kind ${kind} for ${path}`);
    this.buf = takeBuffer(bufferBytes);
    stateFileHeader(kind).copy(this.buf, 0);
    this.used = HEADER_BYTES;
  }

  beginSection(id: number): void {
    this.checkUsable('beginSection');
    if (this.current !== undefined)
      throw new Error(`internal: section ${this.current.id} of ${this.path} is still open`);
    if (!Number.isInteger(id) || id < 0 || id > U32_MAX)
      throw new Error(`internal: bad section id ${id} for ${this.path}`);
    const last = this.sections[this.sections.length - 1];
    if (last !== undefined && id <= last.id)
      throw new Error(`internal: section ids of ${this.path} must increase (${id} after ${last.id})`);
    this.current = { id, offset: this.size, length: 0, crc: 0 };
  }

  /** Appends to the open section; returns a promise only when it has to wait for the disk. */
  write(chunk: Uint8Array): Promise<void> | undefined {
    this.checkUsable('write');
    const s = this.current;
    if (s === undefined) throw new Error(`internal: write to ${this.path} outside a section`);
    if (chunk.length === 0) return undefined;
    if (s.length + chunk.length > U32_MAX)
      throw new Error(`internal: section ${s.id} of ${this.path} exceeds 4 GiB`);
    s.crc = crc32(chunk, s.crc);
    s.length += chunk.length;
    this.size += chunk.length;
    return this.put(chunk);
  }

  endSection(): void {
    this.checkUsable('endSection');
    const s = this.current;
    if (s === undefined) throw new Error(`internal: no open section in ${this.path}`);
    this.sections.push({ id: s.id, offset: s.offset, length: s.length, crc32: s.crc });
    this.current = undefined;
  }

  /** Writes the index and footer, makes the file visible and durable (see ByteSink.commit); returns its handle. */
  async close(): Promise<StateFileInfo> {
    this.checkUsable('close');
    if (this.current !== undefined)
      throw new Error(`internal: close of ${this.path} with section ${this.current.id} still open`);
    this.state = 'closing';
    try {
      const { index, footer } = encodeIndex(this.sections);
      const header = stateFileHeader(this.kind);
      let fileCrc = crc32(header);
      fileCrc = crc32Combine(fileCrc, dataCrc(this.sections), this.size - HEADER_BYTES);
      fileCrc = crc32Combine(fileCrc, crc32(index), index.length);
      fileCrc = crc32Combine(fileCrc, crc32(footer), footer.length);
      await this.put(index);
      await this.put(footer);
      await this.settle();
      if (this.used > 0) this.flush();
      await this.settle();
      await this.sink.commit();
      this.state = 'closed';
      this.releaseBuffers();
      return {
        path: this.path,
        size: this.size + index.length + footer.length,
        crc32: fileCrc,
        kind: this.kind,
        sections: this.sections,
      };
    } catch (e) {
      this.state = 'failed';
      await this.tail;
      await this.sink.abort().catch(() => undefined);
      this.releaseBuffers();
      throw e;
    }
  }

  /**
   * Drops the file; nothing becomes visible. Safe after a failure and more than once; after a
   * successful close() it does nothing (the file belongs to its snapshot folder then).
   */
  async abort(): Promise<void> {
    if (this.state === 'closed' || this.state === 'aborted') return;
    this.state = 'aborted';
    await this.tail;
    this.releaseBuffers();
    await this.sink.abort();
  }

  /** Once nothing is in flight and no call can come (closed, failed or aborted): buffers for the next writer. */
  private releaseBuffers(): void {
    if (this.queue.length > 0) return;
    giveBack(this.buf);
    for (const b of this.spares) giveBack(b);
    this.buf = EMPTY;
    this.spares = [];
  }

  private checkUsable(op: string): void {
    if (this.state !== 'open') throw new Error(`internal: ${op} on ${this.path}, which is ${this.state}`);
    if (this.busy)
      throw new Error(`internal: ${op} on ${this.path} before the promise of the previous write settled`);
    if (this.failure !== undefined) {
      this.state = 'failed';
      throw this.failure.error;
    }
  }

  /** Copies `chunk` into the buffers, starting a write whenever one is full. */
  private put(chunk: Uint8Array): Promise<void> | undefined {
    let off = this.copyIn(chunk, 0);
    while (this.used === this.bufferBytes) {
      if (this.queue.length >= QUEUED_BUFFERS) return this.putLater(chunk, off);
      this.flush();
      off = this.copyIn(chunk, off);
    }
    return undefined;
  }

  private async putLater(chunk: Uint8Array, off: number): Promise<void> {
    this.busy = true;
    try {
      while (this.used === this.bufferBytes) {
        await this.queue[0];
        if (this.state === 'aborted') throw new Error(`${this.path}: the write was aborted`);
        if (this.failure !== undefined) throw this.failure.error;
        this.flush();
        off = this.copyIn(chunk, off);
      }
    } finally {
      this.busy = false;
    }
  }

  private copyIn(chunk: Uint8Array, off: number): number {
    const n = Math.min(this.bufferBytes - this.used, chunk.length - off);
    if (n > 0) {
      this.buf.set(n === chunk.length ? chunk : chunk.subarray(off, off + n), this.used);
      this.used += n;
    }
    return off + n;
  }

  /** Queues the buffer for the sink and takes a free one. */
  private flush(): void {
    const full = this.buf;
    const data = this.used === full.length ? full : full.subarray(0, this.used);
    let write: () => Promise<void | Uint8Array> | undefined;
    if (this.sink.ordered === true && this.failure === undefined) {
      // Sent now, while earlier buffers are still on their way: the sink keeps them in order.
      const sent = this.sink.write(data);
      sent.catch(() => undefined); // its failure is taken below, in turn
      write = () => sent;
    } else write = () => (this.failure === undefined ? this.sink.write(data) : undefined);
    const written = this.tail.then(write).then(
      (back) => {
        // (A buffer the sink took comes back whole: every buffer of a writer is bufferBytes long.)
        this.spares.push(
          back === undefined ? full : Buffer.from(back.buffer, back.byteOffset, this.bufferBytes),
        );
        void this.queue.shift(); // this write's own promise, settling now
      },
      (error: unknown) => {
        this.failure ??= { error };
        void this.queue.shift(); // this write's own promise, settling now
      },
    );
    this.queue.push(written);
    this.tail = written;
    this.buf = this.spares.pop() ?? takeBuffer(this.bufferBytes);
    this.used = 0;
  }

  private async settle(): Promise<void> {
    await this.tail;
    if (this.failure !== undefined) throw this.failure.error;
  }
}

/** What a reader needs of a storage (kept apart from checkpoint-storage.ts, which imports this file). */
export interface StateFileSource<L extends { readonly uri: string }> {
  statFile(location: L, relativePath: string): Promise<{ size: number } | undefined>;
  /**
   * `length` bytes from `offset`; fewer only where the file ends before `offset + length`. With
   * `into` (at least `length` bytes) the bytes land in it and the result is a view of it, so a
   * reader can reuse its buffers: fresh memory costs a page fault per 4 KiB.
   */
  readRange(
    location: L,
    relativePath: string,
    offset: number,
    length: number,
    into?: Uint8Array,
  ): Promise<Uint8Array>;
}

type Location = { readonly uri: string };

/** What `_metadata` recorded about a file; each given value is checked when it is opened. */
export interface ExpectedStateFile {
  readonly size?: number;
  readonly crc32?: number;
  readonly kind?: number;
}

/** verify() reads a file in reads of this size, into two buffers it reuses. */
const READ_BYTES = 8 << 20;
/**
 * Adjacent sections are read together, into one buffer, up to this many bytes (see
 * prepareRead): large enough that a read costs little per byte, small enough that reading
 * and decoding overlap and that few bytes wait in memory to be decoded.
 */
const PIECE_BYTES = 16 << 20;
/** A prepared read allocates its pieces' memory in slabs of at most this much (see PreparedRead). */
const SLAB_BYTES = 256 << 20;
/** Pieces read ahead of the one being decoded. */
const PIECES_IN_FLIGHT = 2;
/** The bytes at the end of a file read at once when it is opened: the footer and, mostly, the index. */
const TAIL_BYTES = 64 << 10;

/**
 * Reads one state file. `open` checks what can be checked without reading payloads: size,
 * magic, version, kind, footer, index checksum, the layout of the sections, and the whole-file
 * checksum derived from the index; each section is checked against its own checksum when read.
 * Every failure is a `CorruptStateFileError` that names the file.
 */
export class StateFileReader {
  private readonly byId: Map<number, SectionRef>;

  private constructor(
    private readonly storage: StateFileSource<Location>,
    private readonly location: Location,
    /** Relative to the snapshot folder. */
    readonly path: string,
    readonly size: number,
    readonly kind: number,
    /** The header's version: how this kind's payloads are laid out. */
    readonly version: number,
    readonly sections: readonly SectionRef[],
    /** `location/path`, for messages. */
    readonly where: string,
  ) {
    this.byId = new Map(sections.map((s) => [s.id, s]));
  }

  static async open<L extends Location>(
    storage: StateFileSource<L>,
    location: L,
    path: string,
    expected: ExpectedStateFile = {},
  ): Promise<StateFileReader> {
    const where = `${location.uri}/${path}`;
    const bad = (problem: string): CorruptStateFileError => new CorruptStateFileError(where, problem);
    const read = (offset: number, length: number): Promise<Buffer> =>
      readExactly(storage, location, path, where, offset, length);

    const stat = await storage.statFile(location, path);
    if (stat === undefined) throw bad('missing (no such file)');
    const size = stat.size;
    if (expected.size !== undefined && size !== expected.size)
      throw bad(
        size < expected.size
          ? `truncated: expected ${expected.size} bytes, found ${size}`
          : `too long: expected ${expected.size} bytes, found ${size} (bytes appended?)`,
      );
    if (size < HEADER_BYTES + FOOTER_BYTES)
      throw bad(
        `truncated: ${size} bytes is less than the ${HEADER_BYTES + FOOTER_BYTES} of an empty state file`,
      );

    // One read for the footer and, unless the index is large, the index (and, in a small file, the header).
    const tailLength = Math.min(size, TAIL_BYTES + FOOTER_BYTES);
    const tail = await read(size - tailLength, tailLength);
    const header = size === tailLength ? tail.subarray(0, HEADER_BYTES) : await read(0, HEADER_BYTES);
    if (!header.subarray(0, 8).equals(MAGIC)) throw bad('bad magic: not a weir state file');
    const version = header.readUInt16BE(8);
    const kind = header.readUInt16BE(10);
    if (!KIND_NAMES.has(kind)) {
      if (version > 2) throw bad(`unsupported state file version ${version} (written by a newer weir?)`);
      throw bad(`unknown state file kind ${kind}`);
    }
    if (expected.kind !== undefined && kind !== expected.kind)
      throw bad(
        `holds ${stateFileKindName(kind)} state where ${stateFileKindName(expected.kind)} state was expected`,
      );
    // A version no kind has: before the layout is trusted. A version another kind has: after the
    // checksum, which tells a damaged header from a file of a newer weir.
    const newest = stateFileVersion(kind);
    const unsupported = (): CorruptStateFileError =>
      bad(
        `unsupported state file version ${version} for ${stateFileKindName(kind)} state; this weir reads ` +
          (newest === 1 ? 'version 1' : `versions 1 and ${newest}`) +
          (version > newest ? ' (written by a newer weir?)' : ''),
      );
    if (version < 1 || version > stateFileVersion(STATE_FILE_KEYED)) throw unsupported();

    const footer = tail.subarray(tailLength - FOOTER_BYTES);
    if (!footer.subarray(8).equals(INDEX_MAGIC))
      throw bad('bad footer magic: the file is truncated, has bytes appended, or was overwritten');
    const count = footer.readUInt32BE(0);
    const indexBytes = count * INDEX_ENTRY_BYTES;
    const dataEnd = size - FOOTER_BYTES - indexBytes;
    if (dataEnd < HEADER_BYTES)
      throw bad(`damaged footer: an index of ${count} sections does not fit in ${size} bytes`);
    const index =
      indexBytes + FOOTER_BYTES <= tailLength
        ? tail.subarray(tailLength - FOOTER_BYTES - indexBytes, tailLength - FOOTER_BYTES)
        : await read(dataEnd, indexBytes);
    if (crc32(index) !== footer.readUInt32BE(4)) throw bad('index checksum mismatch');

    const sections: SectionRef[] = [];
    let next = HEADER_BYTES;
    for (let i = 0; i < count; i++) {
      const o = i * INDEX_ENTRY_BYTES;
      const s: SectionRef = {
        id: index.readUInt32BE(o),
        offset: Number(index.readBigUInt64BE(o + 4)),
        length: index.readUInt32BE(o + 12),
        crc32: index.readUInt32BE(o + 16),
      };
      const prev = sections[sections.length - 1];
      if (prev !== undefined && s.id <= prev.id)
        throw bad(`damaged index: section ids out of order (${s.id} after ${prev.id})`);
      if (s.offset !== next)
        throw bad(`damaged index: ${sectionName(kind, s.id)} is not where the previous one ends`);
      next = s.offset + s.length;
      if (next > dataEnd) throw bad(`damaged index: ${sectionName(kind, s.id)} runs past the data`);
      sections.push(s);
    }
    if (next !== dataEnd)
      throw bad(`damaged index: ${dataEnd - next} bytes between the last section and the index`);

    if (expected.crc32 !== undefined) {
      let whole = crc32(header);
      whole = crc32Combine(whole, dataCrc(sections), dataEnd - HEADER_BYTES);
      whole = crc32Combine(whole, crc32(index), index.length);
      whole = crc32Combine(whole, crc32(footer), footer.length);
      if (whole !== expected.crc32 >>> 0)
        throw bad(
          `checksum mismatch: the file is not the one _metadata recorded (crc32 ${hex(whole)}, expected ${hex(expected.crc32)})`,
        );
    }
    if (version > newest) throw unsupported();
    return new StateFileReader(
      storage as StateFileSource<Location>,
      location,
      path,
      size,
      kind,
      version,
      sections,
      where,
    );
  }

  /** Whether the file has a section `id` (an empty key group has none). */
  hasSection(id: number): boolean {
    return this.byId.has(id);
  }

  /** Reads one section's bytes (only its range) and checks them against its checksum. */
  async readSection(id: number): Promise<Uint8Array> {
    const s = this.section(id);
    const bytes = await this.read(s.offset, s.length);
    this.check(s, bytes);
    return bytes;
  }

  /**
   * Reads several sections, each checked against its checksum (see `forEachSection`), into a map
   * from id to payload.
   */
  async readSections(ids: readonly number[]): Promise<Map<number, Uint8Array>> {
    const out = new Map<number, Uint8Array>();
    await this.forEachSection(ids, (id, payload) => out.set(id, payload));
    return out;
  }

  /**
   * Reads sections in file order and hands each to `use` as soon as it is read and checked
   * against its checksum, while the next ones are being read: `prepareRead(ids).forEach(use)`.
   */
  forEachSection(ids: readonly number[], use: (id: number, payload: Uint8Array) => void): Promise<void> {
    return this.prepareRead(ids).forEach(use);
  }

  /**
   * Plans a read of several sections and allocates its memory (untouched until read); run it
   * with `forEach`. Adjacent sections are read together, in pieces of about PIECE_BYTES (a
   * larger section is a piece of its own), into slabs of up to SLAB_BYTES shared by
   * consecutive pieces: payloads are views into them (restored values too, so a slab lives as
   * long as they do).
   *
   * Apart from forEach, so a restore can allocate all it will read before it decodes anything:
   * V8 may start a garbage collection for each large allocation and for about every 64 MiB of
   * new buffer memory, and each marks the whole heap, which grows by hundreds of MB as state is
   * decoded. A few slabs up front cost a few collections of a small heap instead of one per
   * piece or per 64 MiB of a growing one.
   */
  prepareRead(ids: readonly number[]): PreparedRead {
    const wanted = [...new Set(ids)].map((id) => this.section(id)).sort((a, b) => a.offset - b.offset);
    return new PreparedRead(planPieces(wanted, PIECE_BYTES), (piece, into) => this.readPiece(piece, into));
  }

  /** Every section, checked; with the index checked at open, this is every byte of the file. */
  readAll(): Promise<Map<number, Uint8Array>> {
    return this.readSections(this.sections.map((s) => s.id));
  }

  /**
   * Reads the whole file in pieces and checks every section against its checksum (the header,
   * the index and the whole-file checksum were checked by open()); nothing is kept in memory.
   */
  async verify(): Promise<void> {
    const all = this.sections;
    const last = all[all.length - 1];
    const dataEnd = last === undefined ? HEADER_BYTES : last.offset + last.length;
    const check = new RunningCheck(all, (s) => this.mismatch(s));
    const buffers = [Buffer.allocUnsafe(READ_BYTES), Buffer.allocUnsafe(READ_BYTES)];
    let turn = 0;
    await this.readPipelined(
      HEADER_BYTES,
      dataEnd - HEADER_BYTES,
      READ_BYTES,
      () => buffers[turn++ % 2]!,
      (chunk, end) => check.feed(chunk, end - chunk.length),
    );
    check.finish();
  }

  /**
   * One piece into `bytes`, in reads of at most PIECE_BYTES (more than one only for a larger
   * section), each checksummed as soon as it is in, while the next one is being read.
   */
  private async readPiece(piece: Piece, bytes: Buffer): Promise<Buffer> {
    const check = new RunningCheck(piece.sections, (s) => this.mismatch(s));
    await this.readPipelined(
      piece.from,
      bytes.length,
      PIECE_BYTES,
      (pos) => bytes.subarray(pos - piece.from),
      (chunk, end) => check.feed(chunk, end - chunk.length),
    );
    check.finish();
    return bytes;
  }

  /**
   * Reads `length` bytes from `from` in reads of at most `step` bytes, each into `target(pos)`,
   * and hands each part to `use` while the next one is being read. `target` must not return
   * memory that `use` still looks at: the part before the current one is free again.
   */
  private async readPipelined(
    from: number,
    length: number,
    step: number,
    target: (pos: number) => Buffer,
    use: (chunk: Buffer, end: number) => void,
  ): Promise<void> {
    const end = from + length;
    let pos = from;
    const next = (): Promise<Buffer> | undefined => {
      if (pos >= end) return undefined;
      const n = Math.min(step, end - pos);
      const p = this.read(pos, n, target(pos));
      pos += n;
      return p;
    };
    let pending = next();
    try {
      while (pending !== undefined) {
        const chunk = await pending;
        const chunkEnd = pos;
        pending = next();
        use(chunk, chunkEnd);
      }
    } finally {
      if (pending !== undefined) await pending.catch(() => undefined);
    }
  }

  private section(id: number): SectionRef {
    const s = this.byId.get(id);
    if (s === undefined)
      throw new CorruptStateFileError(
        this.where,
        `has no ${sectionName(this.kind, id)} (its index lacks it)`,
      );
    return s;
  }

  private check(s: SectionRef, bytes: Uint8Array): void {
    if (crc32(bytes) !== s.crc32) throw this.mismatch(s);
  }

  private mismatch(s: SectionRef): CorruptStateFileError {
    return new CorruptStateFileError(this.where, `checksum mismatch in ${sectionName(this.kind, s.id)}`);
  }

  private read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    return readExactly(this.storage, this.location, this.path, this.where, offset, length, into);
  }
}

/**
 * A read of some sections of one file, with its memory allocated: see
 * StateFileReader.prepareRead. Runs once.
 */
export class PreparedRead {
  /** Of each piece, until it is being read. */
  private readonly buffers: Array<Buffer | undefined>;
  private started = false;

  constructor(
    private readonly pieces: readonly Piece[],
    private readonly readPiece: (piece: Piece, into: Buffer) => Promise<Buffer>,
  ) {
    this.buffers = allocateInSlabs(
      pieces.map((p) => p.to - p.from),
      SLAB_BYTES,
    );
  }

  /**
   * Reads the sections in file order and hands each to `use` as soon as it is read and checked
   * against its checksum, with up to PIECES_IN_FLIGHT pieces being read meanwhile. Settles
   * only once no read it started is still running.
   */
  async forEach(use: (id: number, payload: Uint8Array) => void): Promise<void> {
    if (this.started) throw new Error('internal: a prepared read runs once');
    this.started = true;
    const { pieces, buffers } = this;
    const inFlight: Array<Promise<Buffer>> = [];
    let next = 0;
    const readAhead = (): void => {
      for (; next < pieces.length && inFlight.length < PIECES_IN_FLIGHT; next++) {
        const p = this.readPiece(pieces[next]!, buffers[next]!);
        buffers[next] = undefined;
        p.catch(() => undefined); // awaited in order below; a later piece may fail first
        inFlight.push(p);
      }
    };
    try {
      for (const piece of pieces) {
        readAhead();
        const bytes = await inFlight.shift()!;
        readAhead();
        for (const s of piece.sections)
          use(s.id, bytes.subarray(s.offset - piece.from, s.offset - piece.from + s.length));
      }
    } finally {
      buffers.fill(undefined);
      await Promise.allSettled(inFlight);
    }
  }
}

/**
 * Buffers of the given sizes, consecutive ones sharing slabs of up to `slabBytes` (a larger one
 * gets its own): V8 may start a collection for each large allocation, so few of them; but not
 * one for a whole read, which could exceed a Buffer's maximum length and would be kept whole by
 * any one restored value.
 */
export function allocateInSlabs(sizes: readonly number[], slabBytes: number): Buffer[] {
  const out: Buffer[] = [];
  let slab: Buffer | undefined;
  let at = 0;
  for (let i = 0; i < sizes.length; i++) {
    const size = sizes[i]!;
    if (slab === undefined || at + size > slab.length) {
      let total = 0;
      for (let j = i; j < sizes.length && total + sizes[j]! <= slabBytes; j++) total += sizes[j]!;
      slab = Buffer.allocUnsafe(Math.max(total, size));
      at = 0;
    }
    out.push(slab.subarray(at, at + size));
    at += size;
  }
  return out;
}

/** Adjacent sections read into one buffer. */
interface Piece {
  readonly from: number;
  to: number;
  readonly sections: SectionRef[];
}

/**
 * Sections (sorted by offset) as pieces: runs of adjacent sections of at most `target` bytes in
 * all, or one larger section alone.
 */
function planPieces(sorted: readonly SectionRef[], target: number): Piece[] {
  const out: Piece[] = [];
  let cur: Piece | undefined;
  for (const s of sorted) {
    const end = s.offset + s.length;
    if (cur !== undefined && s.offset === cur.to && end - cur.from <= target) {
      cur.sections.push(s);
      cur.to = end;
    } else {
      cur = { from: s.offset, to: end, sections: [s] };
      out.push(cur);
    }
  }
  return out;
}

/**
 * Checks adjacent sections (sorted by offset) against their checksums as their bytes come in,
 * in order and in parts of any size; `finish` checks that every section was complete.
 */
class RunningCheck {
  /** The section being checksummed. */
  private k = 0;
  /** Of the part of section k seen so far. */
  private crc = 0;

  constructor(
    private readonly sections: readonly SectionRef[],
    private readonly mismatch: (s: SectionRef) => Error,
  ) {
    this.skipEmpty();
  }

  /** `chunk` holds the bytes from file offset `at`, which follow the ones fed before. */
  feed(chunk: Uint8Array, at: number): void {
    let off = 0;
    while (off < chunk.length) {
      const s = this.sections[this.k]!;
      const n = Math.min(chunk.length - off, s.offset + s.length - (at + off));
      this.crc = crc32(n === chunk.length ? chunk : chunk.subarray(off, off + n), this.crc);
      off += n;
      if (at + off === s.offset + s.length) {
        if (this.crc !== s.crc32) throw this.mismatch(s);
        this.crc = 0;
        this.k++;
        this.skipEmpty();
      }
    }
  }

  finish(): void {
    if (this.k !== this.sections.length)
      throw new Error(`internal: section ${this.sections[this.k]!.id} was not read to its end`);
  }

  private skipEmpty(): void {
    const all = this.sections;
    for (; this.k < all.length && all[this.k]!.length === 0; this.k++)
      if (all[this.k]!.crc32 !== 0) throw this.mismatch(all[this.k]!);
  }
}

function sectionName(kind: number, id: number): string {
  return kind === STATE_FILE_KEYED ? `section for key group ${id}` : `section ${id}`;
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** Reads a range that must exist; a short read or a file gone since it was opened is corruption. */
async function readExactly<L extends Location>(
  storage: StateFileSource<L>,
  location: L,
  path: string,
  where: string,
  offset: number,
  length: number,
  into?: Buffer,
): Promise<Buffer> {
  let bytes: Uint8Array;
  try {
    bytes = await storage.readRange(location, path, offset, length, into);
  } catch (e) {
    // Gone since it was opened is corruption (named); any other failure is the storage's own.
    let gone = false;
    try {
      gone = (await storage.statFile(location, path)) === undefined;
    } catch {
      // keep the original error
    }
    if (gone) throw new CorruptStateFileError(where, 'missing (no such file)', { cause: e });
    throw e;
  }
  if (bytes.length !== length)
    throw new CorruptStateFileError(
      where,
      `truncated: bytes ${offset}..${offset + length} were expected, the file ends at ${offset + bytes.length}`,
    );
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
