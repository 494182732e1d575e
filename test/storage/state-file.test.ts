import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotLocation } from '../../src/storage/checkpoint-storage.js';
import { DeferredSink } from './deferred-sink.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import {
  allocateInSlabs,
  CorruptStateFileError,
  HEADER_BYTES,
  STATE_FILE_KEYED,
  STATE_FILE_OPERATOR,
  STATE_FILE_SINK,
  STATE_FILE_TIMERS,
  StateFileReader,
  StateFileWriter,
  type ByteSink,
  type ExpectedStateFile,
  type StateFileInfo,
  type StateFileSource,
} from '../../src/storage/state-file.js';

type Loc = { readonly uri: string };

/** Files in memory, every read recorded: a storage seen only through what the reader asks of it. */
class MemoryFiles implements StateFileSource<Loc> {
  readonly files = new Map<string, Buffer>();
  reads: Array<{ offset: number; length: number }> = [];

  sink(
    path: string,
    options: { delay?: () => Promise<void>; failAt?: number } = {},
  ): ByteSink & {
    inFlight: number;
    maxInFlight: number;
    writes: number;
    aborted: boolean;
  } {
    const chunks: Buffer[] = [];
    const files = this.files;
    return {
      inFlight: 0,
      maxInFlight: 0,
      writes: 0,
      aborted: false,
      async write(chunk) {
        this.writes++;
        this.inFlight++;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        try {
          await options.delay?.();
          if (this.writes === options.failAt) throw new Error('ENOSPC: no space left on device');
          chunks.push(Buffer.from(chunk)); // copies: the writer reuses its buffers
        } finally {
          this.inFlight--;
        }
      },
      async commit() {
        files.set(path, Buffer.concat(chunks));
      },
      async abort() {
        this.aborted = true;
      },
    };
  }

  async statFile(_loc: Loc, path: string): Promise<{ size: number } | undefined> {
    const f = this.files.get(path);
    return f === undefined ? undefined : { size: f.length };
  }

  async readRange(
    _loc: Loc,
    path: string,
    offset: number,
    length: number,
    into?: Uint8Array,
  ): Promise<Uint8Array> {
    const f = this.files.get(path);
    if (f === undefined) throw new Error(`ENOENT: ${path}`);
    this.reads.push({ offset, length });
    const bytes = f.subarray(offset, offset + length);
    if (into === undefined) return Buffer.from(bytes);
    into.set(bytes);
    return into.subarray(0, bytes.length);
  }
}

const MEM: Loc = { uri: 'mem://job/chk-1' };

async function writeSections(
  w: StateFileWriter,
  sections: ReadonlyArray<[number, Uint8Array]>,
  chunk = 1000,
): Promise<StateFileInfo> {
  for (const [id, payload] of sections) {
    w.beginSection(id);
    for (let o = 0; o < payload.length; o += chunk) await w.write(payload.subarray(o, o + chunk));
    w.endSection();
  }
  return w.close();
}

function memFile(
  sections: ReadonlyArray<[number, Uint8Array]>,
  kind = STATE_FILE_KEYED,
): Promise<{ files: MemoryFiles; info: StateFileInfo }> {
  const files = new MemoryFiles();
  return writeSections(new StateFileWriter('s.state', kind, files.sink('s.state'), 64), sections, 37).then(
    (info) => ({ files, info }),
  );
}

const SMALL: Array<[number, Buffer]> = [
  [2, Buffer.from('two')],
  [3, Buffer.alloc(0)],
  [9, Buffer.from('nine nine nine nine nine nine nine nine nine nine nine nine nine nine')],
  [40, Buffer.alloc(0)],
];

describe('state file writer', () => {
  it('writes the documented layout: header, payloads back to back, index, footer', async () => {
    const { files, info } = await memFile(SMALL, STATE_FILE_TIMERS);
    const f = files.files.get('s.state')!;
    expect(f.length).toBe(info.size);
    expect(f.subarray(0, 8).toString('latin1')).toBe('WEIRSTAT');
    expect(f.readUInt16BE(8)).toBe(1);
    expect(f.readUInt16BE(10)).toBe(STATE_FILE_TIMERS);
    const nine = SMALL[2]![1];
    expect(f.subarray(12, 12 + 3 + nine.length).toString()).toBe('two' + nine.toString());
    expect(f.subarray(-8).toString('latin1')).toBe('WEIRIDX1');
    expect(f.readUInt32BE(f.length - 16)).toBe(4);
    const index = f.subarray(f.length - 16 - 80, f.length - 16);
    expect(f.readUInt32BE(f.length - 12)).toBe(crc32(index));
    expect([0, 1, 2, 3].map((i) => index.readUInt32BE(i * 20))).toEqual([2, 3, 9, 40]);
    expect(Number(index.readBigUInt64BE(2 * 20 + 4))).toBe(15);
    expect(info.sections).toEqual([
      { id: 2, offset: 12, length: 3, crc32: crc32(Buffer.from('two')) },
      { id: 3, offset: 15, length: 0, crc32: 0 },
      { id: 9, offset: 15, length: nine.length, crc32: crc32(nine) },
      { id: 40, offset: 15 + nine.length, length: 0, crc32: 0 },
    ]);
    expect(info.crc32).toBe(crc32(f));
    expect(info.kind).toBe(STATE_FILE_TIMERS);
    expect(info.path).toBe('s.state');
  });

  it('writes keyed files at version 2 and the other kinds at version 1, and reads each kind at its versions only', async () => {
    for (const [kind, version] of [
      [STATE_FILE_KEYED, 2],
      [STATE_FILE_OPERATOR, 1],
      [STATE_FILE_TIMERS, 1],
      [STATE_FILE_SINK, 1],
    ] as const) {
      const { files, info } = await memFile(SMALL, kind);
      const f = files.files.get('s.state')!;
      expect(f.readUInt16BE(8)).toBe(version);
      expect((await StateFileReader.open(files, MEM, 's.state', info)).version).toBe(version);
      // A keyed file of version 1 (what weir wrote before) is read; nothing else of version 2.
      f.writeUInt16BE(3 - version, 8);
      const other = StateFileReader.open(files, MEM, 's.state', { size: info.size });
      if (kind === STATE_FILE_KEYED) expect((await other).version).toBe(1);
      else
        await expect(other).rejects.toThrow(
          /unsupported state file version 2 for .* state; this weir reads version 1 \(written by a newer weir\?\)/,
        );
    }
  });

  it('writes a file without sections', async () => {
    const { files, info } = await memFile([], STATE_FILE_SINK);
    expect(info.size).toBe(28);
    expect(info.crc32).toBe(crc32(files.files.get('s.state')!));
    const r = await StateFileReader.open(files, MEM, 's.state', { size: 28, crc32: info.crc32 });
    expect(r.sections).toEqual([]);
    expect(r.kind).toBe(STATE_FILE_SINK);
    await r.verify();
    expect((await r.readAll()).size).toBe(0);
  });

  it('copies what it is given: the caller may reuse a chunk as soon as write returns', async () => {
    const files = new MemoryFiles();
    const w = new StateFileWriter('s.state', STATE_FILE_OPERATOR, files.sink('s.state'), 1024);
    const scratch = Buffer.alloc(100);
    const expected: Buffer[] = [];
    w.beginSection(0);
    for (let i = 0; i < 50; i++) {
      scratch.fill(i);
      expected.push(Buffer.from(scratch));
      await w.write(scratch);
    }
    w.endSection();
    const info = await w.close();
    const r = await StateFileReader.open(files, MEM, 's.state', info);
    expect(Buffer.from(await r.readSection(0))).toEqual(Buffer.concat(expected));
  });

  it('writes one buffer at a time, in order, and returns a promise only when four full buffers wait (backpressure)', async () => {
    const files = new MemoryFiles();
    let release: (() => void) | undefined;
    const sink = files.sink('s.state', { delay: () => new Promise<void>((r) => (release = r)) });
    const w = new StateFileWriter('s.state', STATE_FILE_OPERATOR, sink, 100);
    w.beginSection(0);
    expect(w.write(Buffer.alloc(80, 1))).toBeUndefined(); // 12 + 80 bytes buffered
    expect(w.write(Buffer.alloc(50, 2))).toBeUndefined(); // first buffer full: queued
    for (let i = 3; i < 6; i++) expect(w.write(Buffer.alloc(100, i))).toBeUndefined(); // four queued
    await new Promise((r) => setImmediate(r));
    expect(sink.inFlight).toBe(1);
    const waiting = w.write(Buffer.alloc(100, 6)); // a fifth full while four wait
    expect(waiting).toBeInstanceOf(Promise);
    expect(() => w.write(Buffer.alloc(1))).toThrow(/before the promise of the previous write settled/);
    let settled = false;
    void waiting!.then(() => (settled = true));
    while (!settled) {
      await new Promise((r) => setImmediate(r));
      release?.();
    }
    w.endSection();
    const closing = w.close();
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setImmediate(r));
      release?.();
    }
    const info = await closing;
    expect(sink.maxInFlight).toBe(1);
    expect(info.size).toBe(12 + 530 + 20 + 16);
    const f = files.files.get('s.state')!;
    expect(f.length).toBe(info.size);
    // In order: 80 × 1, 50 × 2, 100 × 3, 4, 5 and 6.
    expect([...f.subarray(12, 12 + 530)]).toEqual(
      [80, 50, 100, 100, 100, 100].flatMap((n, i) => new Array<number>(n).fill(i + 1)),
    );
  });

  it('hands a sink that keeps order every full buffer at once, up to four, and takes back memory it moved', async () => {
    // Like the storage's I/O thread: chunks are taken in call order, settled first in, first out.
    const taken: Buffer[] = [];
    const settle: Array<() => void> = [];
    let inFlight = 0;
    let maxInFlight = 0;
    let committed: Buffer | undefined;
    const sink: ByteSink = {
      ordered: true,
      write(chunk) {
        taken.push(Buffer.from(chunk));
        maxInFlight = Math.max(maxInFlight, ++inFlight);
        // Gives back a buffer over other memory, as a sink that moved the chunk away would.
        return new Promise((r) =>
          settle.push(() => {
            inFlight--;
            r(new Uint8Array(100).fill(0xee));
          }),
        );
      },
      async commit() {
        committed = Buffer.concat(taken);
      },
      async abort() {},
    };
    const w = new StateFileWriter('s.state', STATE_FILE_OPERATOR, sink, 100);
    w.beginSection(0);
    expect(w.write(Buffer.alloc(88, 1))).toBeUndefined(); // with the header: one full buffer
    for (let i = 2; i < 5; i++) expect(w.write(Buffer.alloc(100, i))).toBeUndefined();
    await new Promise((r) => setImmediate(r));
    expect(inFlight).toBe(4); // all four sent, none settled
    const waiting = w.write(Buffer.alloc(100, 5));
    expect(waiting).toBeInstanceOf(Promise);
    settle.shift()!();
    await waiting;
    // The fifth went out in the memory the sink gave back (its bytes, not the 0xee filler).
    w.endSection();
    const closing = w.close();
    while (committed === undefined) {
      await new Promise((r) => setImmediate(r));
      settle.shift()?.();
    }
    await closing;
    expect(maxInFlight).toBe(4);
    expect([...committed.subarray(12, 12 + 488)]).toEqual(
      [88, 100, 100, 100, 100].flatMap((n, i) => new Array<number>(n).fill(i + 1)),
    );
  });

  it('fails every later call with the disk error, and makes nothing visible', async () => {
    const files = new MemoryFiles();
    const sink = files.sink('s.state', { failAt: 2 });
    const w = new StateFileWriter('s.state', STATE_FILE_OPERATOR, sink, 64);
    w.beginSection(0);
    let failure: unknown;
    try {
      for (let i = 0; i < 20; i++) await w.write(Buffer.alloc(64));
    } catch (e) {
      failure = e;
    }
    expect(String(failure)).toMatch(/ENOSPC/);
    await w.abort();
    expect(sink.aborted).toBe(true);
    expect(files.files.has('s.state')).toBe(false);

    const w2 = new StateFileWriter('t.state', STATE_FILE_OPERATOR, files.sink('t.state', { failAt: 1 }), 64);
    w2.beginSection(0);
    await w2.write(Buffer.alloc(10));
    w2.endSection();
    await expect(w2.close()).rejects.toThrow(/ENOSPC/);
    expect(files.files.has('t.state')).toBe(false);
    await w2.abort(); // safe after a failed close
  });

  it('takes bytes into its buffers while its sink is still being opened, and waits for it once they are full', async () => {
    const files = new MemoryFiles();
    let open: (() => void) | undefined;
    const sink = files.sink('s.state');
    const w = new StateFileWriter(
      's.state',
      STATE_FILE_KEYED,
      new DeferredSink(new Promise<ByteSink>((r) => (open = () => r(sink)))),
      100,
    );
    const scratch = Buffer.alloc(60);
    const expected: Buffer[] = [];
    w.beginSection(1);
    const offered = (i: number): Promise<void> | undefined => {
      scratch.fill(i);
      expected.push(Buffer.from(scratch));
      return w.write(scratch);
    };
    // 12 + 60 · 8 = 492 bytes: four full buffers wait for the opening, the fifth fills.
    for (let i = 1; i <= 8; i++) expect(offered(i)).toBeUndefined();
    const waiting = offered(9); // the fifth full too: backpressure
    expect(waiting).toBeInstanceOf(Promise);
    expect(sink.writes).toBe(0);
    open!();
    await waiting;
    for (let i = 10; i < 20; i++) await offered(i);
    w.endSection();
    const info = await w.close();
    const r = await StateFileReader.open(files, MEM, 's.state', info);
    expect(Buffer.from(await r.readSection(1))).toEqual(Buffer.concat(expected));
  });

  it('fails with the error of a sink that cannot be opened, and aborts one opened after the abort', async () => {
    const files = new MemoryFiles();
    const w = new StateFileWriter(
      'x.state',
      STATE_FILE_OPERATOR,
      new DeferredSink(Promise.reject(new Error('EACCES: permission denied'))),
      64,
    );
    w.beginSection(0);
    await w.write(Buffer.alloc(10));
    w.endSection();
    await expect(w.close()).rejects.toThrow(/EACCES/);
    await w.abort();

    let open: (() => void) | undefined;
    const late = files.sink('y.state');
    const w2 = new StateFileWriter(
      'y.state',
      STATE_FILE_OPERATOR,
      new DeferredSink(new Promise<ByteSink>((r) => (open = () => r(late)))),
      64,
    );
    const aborting = w2.abort();
    open!();
    await aborting;
    expect(late.aborted).toBe(true);
    expect(files.files.has('y.state')).toBe(false);
  });

  it('refuses misuse as internal errors', async () => {
    const files = new MemoryFiles();
    expect(() => new StateFileWriter('x', 9, files.sink('x'))).toThrow(/internal: unknown state file kind 9/);
    const w = new StateFileWriter('x', STATE_FILE_KEYED, files.sink('x'));
    expect(() => w.write(Buffer.from('a'))).toThrow(/internal: write to x outside a section/);
    expect(() => w.endSection()).toThrow(/internal: no open section/);
    expect(() => w.beginSection(-1)).toThrow(/internal: bad section id/);
    w.beginSection(5);
    expect(() => w.beginSection(6)).toThrow(/still open/);
    w.endSection();
    expect(() => w.beginSection(5)).toThrow(/must increase/);
    w.beginSection(6);
    await expect(w.close()).rejects.toThrow(/still open/);
    w.endSection();
    await w.close();
    expect(() => w.beginSection(7)).toThrow(/which is closed/);
    await w.abort(); // after a successful close: nothing to do
    expect(files.files.has('x')).toBe(true);
  });
});

describe('state file reader', () => {
  it('reads only the footer and index at open, and only the section asked for', async () => {
    const sections: Array<[number, Buffer]> = [];
    for (let id = 0; id < 128; id++) sections.push([id, randomBytes(id * 97)]);
    const { files, info } = await memFile(sections);
    const r = await StateFileReader.open(files, MEM, 's.state', info);
    // The last 64 KiB + 16 bytes (footer and index) and the header: not the payloads.
    const openBytes = files.reads.reduce((n, x) => n + x.length, 0);
    expect(openBytes).toBeLessThanOrEqual(Math.min(info.size, 64 * 1024 + 16) + HEADER_BYTES);
    files.reads = [];
    expect(Buffer.from(await r.readSection(77))).toEqual(sections[77]![1]);
    const s77 = info.sections.find((s) => s.id === 77)!;
    expect(files.reads).toEqual([{ offset: s77.offset, length: s77.length }]);
    files.reads = [];
    // Adjacent sections in one read, a gap makes two.
    const got = await r.readSections([10, 11, 12, 100, 101]);
    expect([...got.keys()].sort((a, b) => a - b)).toEqual([10, 11, 12, 100, 101]);
    for (const [id, payload] of got) expect(Buffer.from(payload)).toEqual(sections[id]![1]);
    const s10 = info.sections[10]!;
    const s100 = info.sections[100]!;
    expect(files.reads).toEqual([
      { offset: s10.offset, length: info.sections[12]!.offset + info.sections[12]!.length - s10.offset },
      { offset: s100.offset, length: info.sections[101]!.offset + info.sections[101]!.length - s100.offset },
    ]);
    expect(r.hasSection(77)).toBe(true);
    await expect(r.readSection(128)).rejects.toThrow(/has no section for key group 128/);
  });

  it('names the file, and what is wrong, for every damaged byte and every truncation', async () => {
    const { files, info } = await memFile(SMALL);
    const good = files.files.get('s.state')!;
    const expected = { size: info.size, crc32: info.crc32, kind: STATE_FILE_KEYED };
    const openAndVerify = async (): Promise<void> => {
      const r = await StateFileReader.open(files, MEM, 's.state', expected);
      await r.verify();
    };
    await openAndVerify();
    for (let at = 0; at < good.length; at++) {
      for (const bit of [0, 7]) {
        const bad = Buffer.from(good);
        bad[at] = bad[at]! ^ (1 << bit);
        files.files.set('s.state', bad);
        const e = await openAndVerify().then(
          () => undefined,
          (x: unknown) => x,
        );
        expect(e, `byte ${at} bit ${bit}`).toBeInstanceOf(CorruptStateFileError);
        expect((e as CorruptStateFileError).message).toMatch(/^state file mem:\/\/job\/chk-1\/s\.state: /);
      }
    }
    for (let size = 0; size < good.length; size++) {
      files.files.set('s.state', good.subarray(0, size));
      await expect(openAndVerify(), `truncated to ${size}`).rejects.toThrow(
        `state file mem://job/chk-1/s.state: truncated: expected ${good.length} bytes, found ${size}`,
      );
      // Without the expected size (a handle from an older format, a listing): still caught.
      await expect(StateFileReader.open(files, MEM, 's.state'), `truncated to ${size}`).rejects.toThrow(
        CorruptStateFileError,
      );
    }
  });

  it('catches a valid state file put in the place of another', async () => {
    const a = await memFile([[1, Buffer.from('aaaa')]]);
    const b = await memFile([[1, Buffer.from('bbbb')]]);
    a.files.files.set('s.state', b.files.files.get('s.state')!);
    await expect(StateFileReader.open(a.files, MEM, 's.state', a.info)).rejects.toThrow(
      /s\.state: checksum mismatch: the file is not the one _metadata recorded/,
    );
  });

  it('names a file that disappears after it was opened as missing', async () => {
    const { files, info } = await memFile(SMALL);
    const r = await StateFileReader.open(files, MEM, 's.state', info);
    files.files.delete('s.state');
    await expect(r.readSection(9)).rejects.toThrow(
      'state file mem://job/chk-1/s.state: missing (no such file)',
    );
  });
});

describe('memory of a prepared read', () => {
  it('puts consecutive pieces in shared slabs of at most the slab size, a larger piece alone', () => {
    // In units of 8 KiB: smaller buffers would come from Node's shared pool.
    const K = 8 << 10;
    const bufs = allocateInSlabs(
      [3, 3, 3, 5, 9, 2].map((n) => n * K),
      8 * K,
    );
    expect(bufs.map((b) => b.length / K)).toEqual([3, 3, 3, 5, 9, 2]);
    const slabs = bufs.map((b) => b.buffer);
    // [3, 3] | [3, 5] | [9] | [2]: no slab over 8 bytes but the one of the 9-byte piece.
    expect(slabs[0]).toBe(slabs[1]);
    expect(slabs[2]).toBe(slabs[3]);
    expect(new Set(slabs).size).toBe(4);
    expect(bufs[1]!.byteOffset - bufs[0]!.byteOffset).toBe(3 * K);
    expect(bufs[3]!.byteOffset - bufs[2]!.byteOffset).toBe(3 * K);
    // Views of one slab do not overlap: writing each leaves the others intact.
    bufs.forEach((b, i) => b.fill(i + 1));
    bufs.forEach((b, i) => expect([...b].every((x) => x === i + 1)).toBe(true));
  });
});

describe('state file reader: sections in pieces', () => {
  const MiB = 1 << 20;
  /** Keyed sections 0…7 of 6 MiB and section 8 of 20 MiB: larger than a piece (16 MiB). */
  const sizes = [6, 6, 6, 6, 6, 6, 6, 6, 20];
  let files: MemoryFiles;
  let info: StateFileInfo;
  const payload = (id: number): Buffer => Buffer.alloc(sizes[id]! * MiB, id + 1);

  beforeAll(async () => {
    files = new MemoryFiles();
    const w = new StateFileWriter('s.state', STATE_FILE_KEYED, files.sink('s.state'), MiB);
    info = await writeSections(
      w,
      sizes.map((_, id) => [id, payload(id)]),
      MiB,
    );
  });

  /** Its reads, how many are in flight at most, and how many were started when `use` was first called. */
  function counting(): MemoryFiles & { started: number; inFlight: number; maxInFlight: number } {
    const c = Object.assign(Object.create(files) as MemoryFiles, {
      started: 0,
      inFlight: 0,
      maxInFlight: 0,
      reads: [],
    });
    c.readRange = async (...args: Parameters<MemoryFiles['readRange']>) => {
      c.started++;
      c.inFlight++;
      c.maxInFlight = Math.max(c.maxInFlight, c.inFlight);
      try {
        await new Promise((r) => setImmediate(r));
        return await MemoryFiles.prototype.readRange.apply(c, args);
      } finally {
        c.inFlight--;
      }
    };
    return c;
  }

  it('reads adjacent sections together, pieces of up to 16 MiB, into one buffer allocated up front, the next ones meanwhile', async () => {
    const c = counting();
    const r = await StateFileReader.open(c, MEM, 's.state', info);
    c.reads = [];
    c.started = 0;
    const seen: Array<{ id: number; buffer: ArrayBufferLike; readsStarted: number }> = [];
    await r.forEachSection([8, 5, 0, 1, 2, 4, 6, 7], (id, p) => {
      expect(Buffer.from(p).equals(payload(id)), `section ${id}`).toBe(true);
      seen.push({ id, buffer: p.buffer, readsStarted: c.started });
    });
    expect(seen.map((x) => x.id)).toEqual([0, 1, 2, 4, 5, 6, 7, 8]);
    const at = (id: number): number => info.sections[id]!.offset;
    expect(c.reads).toEqual([
      { offset: at(0), length: 12 * MiB }, // 0 and 1
      { offset: at(2), length: 6 * MiB }, // 3 is not asked for
      { offset: at(4), length: 12 * MiB },
      { offset: at(6), length: 12 * MiB },
      { offset: at(8), length: 16 * MiB }, // a larger section: a piece of its own, read in parts
      { offset: at(8) + 16 * MiB, length: 4 * MiB },
    ]);
    // One allocation for the whole read; the next pieces were being read while one was handed out.
    expect(new Set(seen.map((x) => x.buffer)).size).toBe(1);
    expect(seen[0]!.buffer).toBe(seen[1]!.buffer);
    expect(seen[0]!.readsStarted).toBeGreaterThanOrEqual(2);
    expect(c.maxInFlight).toBeLessThanOrEqual(2);
    expect(c.inFlight).toBe(0);
  });

  it('hands out nothing of a damaged piece, names the file and key group, and leaves no read running', async () => {
    const good = files.files.get('s.state')!;
    const c = counting();
    try {
      const bad = Buffer.from(good);
      bad[info.sections[5]!.offset + 123_456]! ^= 0x01;
      files.files.set('s.state', bad);
      const r = await StateFileReader.open(c, MEM, 's.state', info); // the index is intact
      const seen: number[] = [];
      await expect(r.forEachSection([0, 1, 2, 3, 4, 5, 6, 7], (id) => seen.push(id))).rejects.toThrow(
        new CorruptStateFileError('mem://job/chk-1/s.state', 'checksum mismatch in section for key group 5'),
      );
      expect(seen).toEqual([0, 1, 2, 3]);
      expect(c.inFlight).toBe(0);
    } finally {
      files.files.set('s.state', good);
    }
  });

  it('runs a prepared read once; reads nothing for no sections', async () => {
    const r = await StateFileReader.open(files, MEM, 's.state', info);
    const read = r.prepareRead([0]);
    await read.forEach(() => undefined);
    await expect(read.forEach(() => undefined)).rejects.toThrow(/runs once/);
    files.reads = [];
    expect((await r.readSections([])).size).toBe(0);
    expect(files.reads).toEqual([]);
  });
});

describe('state files on disk', () => {
  let root: string;
  let storage: FsCheckpointStorage;
  let loc: SnapshotLocation;
  let big: StateFileInfo;
  const payloads = new Map<number, Buffer>();
  const BIG_ID = 60;
  const BIG = 50 * 1000 * 1000;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'weir-state-file-'));
    storage = new FsCheckpointStorage(root);
    loc = storage.checkpointLocation('job', 1);
    const w = storage.createStateFile(loc, 'big-keyed.state', STATE_FILE_KEYED);
    let seed = 1;
    const next = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const ids = new Set<number>([BIG_ID]);
    for (let id = 0; id < 120; id += 1 + next(3)) ids.add(id);
    for (const id of [...ids].sort((a, b) => a - b)) {
      const size = id === BIG_ID ? BIG : id % 7 === 0 ? 0 : next(100_000);
      const p = id === BIG_ID ? randomBytes(size) : Buffer.alloc(size, id);
      payloads.set(id, p);
      w.beginSection(id);
      // Chunks from 1 byte to 3 MiB: within, across and larger than the writer's buffers.
      for (let o = 0; o < p.length;) {
        const n = Math.min(p.length - o, [1, 4095, 1 << 20, 3 << 20, next(70_000) + 1][next(5)]!);
        const pending = w.write(p.subarray(o, o + n));
        if (pending !== undefined) await pending;
        o += n;
      }
      w.endSection();
    }
    big = await w.close();
  }, 120_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  const path = (): string => join(loc.uri, big.path);
  const open = (expected: ExpectedStateFile = big): Promise<StateFileReader> =>
    StateFileReader.open(storage, loc, big.path, expected);
  /** Runs `damage` on a copy of the file, checks, then puts the good file back. */
  async function damaged(damage: (file: string) => void, check: () => Promise<void>): Promise<void> {
    const good = readFileSync(path());
    try {
      damage(path());
      await check();
    } finally {
      writeFileSync(path(), good);
    }
  }

  it('round-trips many sections, empty ones and one of 50 MB, with the whole-file checksum', async () => {
    expect(big.sections.map((s) => s.id)).toEqual([...payloads.keys()]);
    expect(big.sections.find((s) => s.id === BIG_ID)!.length).toBe(BIG);
    expect(big.crc32).toBe(crc32(readFileSync(path())));
    const r = await open();
    expect(r.sections).toEqual(big.sections);
    for (const [id, p] of payloads)
      expect(Buffer.from(await r.readSection(id)).equals(p), `section ${id}`).toBe(true);
    const all = await r.readAll();
    expect(all.size).toBe(payloads.size);
    for (const [id, p] of payloads) expect(Buffer.from(all.get(id)!).equals(p), `section ${id}`).toBe(true);
    await r.verify();
  });

  it('reads a single section by its byte range only', async () => {
    const reads: Array<[number, number]> = [];
    const counting = {
      statFile: storage.statFile.bind(storage),
      readRange: (l: SnapshotLocation, p: string, offset: number, length: number, into?: Uint8Array) => {
        reads.push([offset, length]);
        return storage.readRange(l, p, offset, length, into);
      },
    };
    const r = await StateFileReader.open(counting, loc, big.path, big);
    expect(reads.reduce((n, [, len]) => n + len, 0)).toBeLessThan(70_000); // header, footer and index
    reads.length = 0;
    const id = [...payloads.keys()].find((k) => k > BIG_ID && payloads.get(k)!.length > 0)!;
    const s = big.sections.find((x) => x.id === id)!;
    expect(Buffer.from(await r.readSection(id)).equals(payloads.get(id)!)).toBe(true);
    expect(reads).toEqual([[s.offset, s.length]]);
  });

  it('flags a flipped payload byte when that section is read, naming the file and key group', async () => {
    const s = big.sections.find((x) => x.id === BIG_ID)!;
    await damaged(
      (f) => {
        const b = readFileSync(f);
        b[s.offset + 12_345_678] = b[s.offset + 12_345_678]! ^ 0x10;
        writeFileSync(f, b);
      },
      async () => {
        const r = await open(); // the index is intact: open cannot tell
        await expect(r.readSection(BIG_ID)).rejects.toThrow(
          `state file ${path()}: checksum mismatch in section for key group ${BIG_ID}`,
        );
        await expect(r.readAll()).rejects.toThrow(CorruptStateFileError);
        await expect(r.verify()).rejects.toThrow(`checksum mismatch in section for key group ${BIG_ID}`);
      },
    );
  });

  const flips: Array<[string, (size: number) => number, RegExp]> = [
    ['the header magic', () => 2, /: bad magic: not a weir state file$/],
    ['the index', (size) => size - 16 - 5, /: index checksum mismatch$/],
    ['the footer section count', (size) => size - 13, /: (index checksum mismatch|damaged footer)/],
    ['the footer index checksum', (size) => size - 10, /: index checksum mismatch$/],
    ['the footer magic', (size) => size - 3, /: bad footer magic/],
  ];
  for (const [where, at, message] of flips) {
    it(`rejects a flipped byte in ${where} when opening, naming the file`, () =>
      damaged(
        (f) => {
          const b = readFileSync(f);
          b[at(b.length)] = b[at(b.length)]! ^ 0x01;
          writeFileSync(f, b);
        },
        async () => {
          const e = await open().catch((x: unknown) => x);
          expect(e).toBeInstanceOf(CorruptStateFileError);
          expect((e as CorruptStateFileError).file).toBe(path());
          expect((e as Error).message).toMatch(message);
          expect((e as Error).message).toContain(path());
        },
      ));
  }

  it('rejects another format version and another kind', async () => {
    await damaged(
      (f) => {
        const b = readFileSync(f);
        b.writeUInt16BE(3, 8);
        writeFileSync(f, b);
      },
      async () =>
        expect(open()).rejects.toThrow(
          `state file ${path()}: unsupported state file version 3 for keyed state; this weir reads versions 1 and 2 (written by a newer weir?)`,
        ),
    );
    await damaged(
      (f) => {
        const b = readFileSync(f);
        b.writeUInt16BE(0, 8);
        writeFileSync(f, b);
      },
      async () =>
        expect(open()).rejects.toThrow(
          `state file ${path()}: unsupported state file version 0 for keyed state; this weir reads versions 1 and 2`,
        ),
    );
    await damaged(
      (f) => {
        const b = readFileSync(f);
        b.writeUInt16BE(STATE_FILE_OPERATOR, 10);
        writeFileSync(f, b);
      },
      async () => {
        await expect(open()).rejects.toThrow(/holds operator state where keyed state was expected/);
        // Without an expected kind the whole-file checksum still tells.
        await expect(open({ crc32: big.crc32 })).rejects.toThrow(/checksum mismatch/);
      },
    );
  });

  it('rejects a truncated file at several points, naming the sizes', async () => {
    for (const size of [0, 5, 12, 27, 1000, big.size - 16 - 1, big.size - 1]) {
      await damaged(
        (f) => truncateSync(f, size),
        async () => {
          await expect(open()).rejects.toThrow(
            `state file ${path()}: truncated: expected ${big.size} bytes, found ${size}`,
          );
          await expect(open({}), `${size}`).rejects.toThrow(CorruptStateFileError);
        },
      );
    }
  });

  it('rejects a file with bytes appended', () =>
    damaged(
      (f) => appendFileSync(f, 'garbage'),
      async () => {
        await expect(open()).rejects.toThrow(
          `state file ${path()}: too long: expected ${big.size} bytes, found ${big.size + 7}`,
        );
        await expect(open({})).rejects.toThrow(/bad footer magic/);
      },
    ));

  it('names a deleted file as missing', () =>
    damaged(
      (f) => unlinkSync(f),
      async () => {
        await expect(open()).rejects.toThrow(CorruptStateFileError);
        await expect(open()).rejects.toThrow(`state file ${path()}: missing (no such file)`);
      },
    ));
});
