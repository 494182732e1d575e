// Keyed state files of version 2: per state, the keys, then the values — one float64 column when
// they are all numbers — and a key column copied from the previous snapshot only when the map
// holds exactly the keys it was encoded from, in the same order.
import { describe, expect, it, vi } from 'vitest';
import {
  readKeyedSection,
  StateFormatError,
  writeKeyedState,
  type DecodedKeyedState,
} from '../../src/checkpoint/state-serialization.js';
import {
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  ValueStateDescriptor,
} from '../../src/index.js';
import { KeyColumnCache } from '../../src/state/key-column-cache.js';
import { HeapKeyedStateBackend, type KeyedStateCapture } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange } from '../../src/state/key-group.js';
import { ValueEncoder } from '../../src/state/value-codec.js';

const MAX = 16;

/** The sections `capture` is written as, by key group; then the capture is released. */
async function sectionsOfCapture(capture: KeyedStateCapture): Promise<Map<number, Buffer>> {
  const out = new Map<number, Buffer>();
  let id = -1;
  let parts: Buffer[] = [];
  try {
    await writeKeyedState(capture, {
      beginSection(i: number) {
        id = i;
        parts = [];
      },
      write(chunk: Uint8Array) {
        parts.push(Buffer.from(chunk));
        return undefined;
      },
      endSection() {
        out.set(id, Buffer.concat(parts));
      },
    });
  } finally {
    capture.release();
  }
  return out;
}

/** The sections one snapshot of `b` writes, by key group. */
async function sectionsOf(b: HeapKeyedStateBackend): Promise<Map<number, Buffer>> {
  const out = await sectionsOfCapture(b.capture());
  while (!b.mergeStep()) {
    /* fold the copy-on-write overlay back */
  }
  return out;
}

function decode(sections: Map<number, Buffer>, version = 2): DecodedKeyedState {
  const into: DecodedKeyedState = new Map();
  for (const [id, payload] of sections) readKeyedSection(payload, id, into, 'test', version);
  return into;
}

/** state name → key → value, from decoded sections. */
function flat(d: DecodedKeyedState): Map<string, Map<unknown, unknown>> {
  const out = new Map<string, Map<unknown, unknown>>();
  for (const [name, s] of d) {
    const m = new Map<unknown, unknown>();
    for (const g of s.keyGroups) for (const [k, v] of g.entries) m.set(k, v);
    out.set(name, m);
  }
  return out;
}

function backend(): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend(KeyGroupRange.forSubtask(0, 1, MAX), MAX);
}

describe('keyed state file version 2', () => {
  it('round-trips every kind of state; numbers as one float64 column, other values as items', async () => {
    const b = backend();
    const num = b.getState(new ValueStateDescriptor<number>('num'));
    const mixed = b.getState(new ValueStateDescriptor<unknown>('mixed'));
    const list = b.getListState(new ListStateDescriptor<number>('list'));
    const map = b.getMapState(new MapStateDescriptor<string, number>('map'));
    const sum = b.getReducingState(new ReducingStateDescriptor<number>('sum', (a, x) => a + x));
    const odd = [-0, NaN, Infinity, -Infinity, 2 ** 53 + 2, 0.1, -7, 4294967296];
    const want = new Map<string, Map<unknown, unknown>>([
      ['num', new Map()],
      ['mixed', new Map()],
      ['list', new Map()],
      ['map', new Map()],
      ['sum', new Map()],
    ]);
    for (let i = 0; i < 300; i++) {
      const key = i % 3 === 0 ? i : `k${i}`; // number and string keys side by side
      b.setCurrentKeyComputingGroup(key);
      const n = odd[i % odd.length]! * (i % 2 === 0 ? 1 : i);
      num.update(n);
      want.get('num')!.set(key, n);
      const m = i % 5 === 0 ? { i } : i;
      mixed.update(m);
      want.get('mixed')!.set(key, m);
      list.addAll([i, i + 1]);
      want.get('list')!.set(key, [i, i + 1]);
      map.put(`m${i}`, i);
      want.get('map')!.set(key, new Map([[`m${i}`, i]]));
      sum.add(i);
      sum.add(1);
      want.get('sum')!.set(key, i + 1);
    }
    b.clearCurrentKey();
    const sections = await sectionsOf(b);
    const got = flat(decode(sections));
    expect(got.get('num')).toEqual(want.get('num'));
    expect(Object.is(got.get('num')!.get(0), -0)).toBe(true); // -0 stays -0
    expect(got.get('mixed')).toEqual(want.get('mixed'));
    expect(got.get('list')).toEqual(want.get('list'));
    expect(got.get('sum')).toEqual(want.get('sum'));
    // Map-state values come back keyed by state keys: compare through the backend's own restore.
    const restored = backend();
    restored.restore([
      {
        maxParallelism: MAX,
        states: [...decode(sections)].map(([name, s]) => ({ name, kind: s.kind, keyGroups: s.keyGroups })),
      },
    ]);
    const rmap = restored.getMapState(new MapStateDescriptor<string, number>('map'));
    for (const [key, m] of want.get('map')!) {
      restored.setCurrentKeyComputingGroup(key);
      expect(new Map(rmap.entries())).toEqual(m);
    }
    // The layout: "num" is followed by its keys, then 1 and a tag-86 byte string; "mixed" by 0.
    const anySection = [...sections.values()].find((p) => p.includes(Buffer.from('cnum', 'latin1')))!;
    const at = anySection.indexOf(Buffer.from([0xd8, 86]));
    expect(at).toBeGreaterThan(0);
    expect(anySection[at - 1]).toBe(1);
  });

  it('reads version 1 payloads (key, value pairs), and refuses versions it does not know', () => {
    const enc = new ValueEncoder();
    for (const x of ['count', 'value', 2, 'a', 1, 'b', 2]) enc.encode(x);
    const v1 = new Map([[3, Buffer.from(enc.finish())]]);
    expect(flat(decode(v1, 1)).get('count')).toEqual(
      new Map([
        ['a', 1],
        ['b', 2],
      ]),
    );
    expect(() => decode(v1, 3)).toThrow(StateFormatError);
  });

  // Per kind of state: how a value is put, and what the snapshot holds for it.
  const kinds = [
    {
      name: 'numbers (float64 column)',
      make: (b: HeapKeyedStateBackend) => {
        const v = b.getState(new ValueStateDescriptor<number>('v'));
        return { put: (n: number) => v.update(n), clear: () => v.clear(), stored: (n: number): unknown => n };
      },
    },
    {
      name: 'objects (one item each)',
      make: (b: HeapKeyedStateBackend) => {
        const v = b.getState(new ValueStateDescriptor<{ n: number }>('v'));
        return {
          put: (n: number) => v.update({ n }),
          clear: () => v.clear(),
          stored: (n: number): unknown => ({ n }),
        };
      },
    },
    {
      name: 'map state',
      make: (b: HeapKeyedStateBackend) => {
        const v = b.getMapState(new MapStateDescriptor<string, number>('v'));
        return {
          put: (n: number) => {
            v.clear();
            v.put(`m${n % 3}`, n);
          },
          clear: () => v.clear(),
          stored: (n: number): unknown => new Map([[`m${n % 3}`, n]]),
        };
      },
    },
  ];

  it.each(kinds)(
    'copies a key column only while the map holds the same keys in the same order: $name',
    async ({ make }) => {
      const b = backend();
      const st = make(b);
      const model = new Map<string, unknown>();
      const put = (key: string, n: number): void => {
        b.setCurrentKeyComputingGroup(key);
        st.put(n);
        model.set(key, st.stored(n));
      };
      const remove = (key: string): void => {
        b.setCurrentKeyComputingGroup(key);
        st.clear();
        model.delete(key);
      };
      const keysEncoded = vi.spyOn(ValueEncoder.prototype, 'encodeString');
      const check = async (): Promise<number> => {
        keysEncoded.mockClear();
        expect(flat(decode(await sectionsOf(b))).get('v') ?? new Map()).toEqual(model);
        return keysEncoded.mock.calls.length;
      };
      try {
        for (let i = 0; i < 200; i++) put(`k${i}`, i);
        expect(await check()).toBe(200);
        // Values change, keys do not: every column is copied (and the values are the new ones).
        for (let i = 0; i < 200; i++) put(`k${i}`, i * 10);
        expect(await check()).toBe(0);
        // Keys added, none removed: each column is copied and only the new keys follow it.
        for (let i = 0; i < 30; i++) put(`a${i}`, i);
        expect(await check()).toBe(30);
        expect(await check()).toBe(0);
        // Those keys removed again: the groups that held one encode their keys, the others copy.
        for (let i = 0; i < 30; i++) remove(`a${i}`);
        const regrouped = await check();
        expect(regrouped).toBeGreaterThan(0);
        expect(regrouped).toBeLessThan(200);
        expect(await check()).toBe(0);
        // As many keys as before, but other ones: one removed, one added, in several groups.
        for (let i = 0; i < 200; i += 7) {
          remove(`k${i}`);
          put(`n${i}`, -i);
        }
        const changed = await check();
        expect(changed).toBeGreaterThan(0);
        expect(changed).toBeLessThan(200);
        // The same keys in another order: removed and put back (to the end of their map).
        for (let i = 1; i < 200; i += 5) {
          const n = i * 10 + 1;
          remove(`k${i}`);
          put(`k${i}`, n);
        }
        expect(await check()).toBeGreaterThan(0);
        // Changed while a snapshot holds the maps (copy-on-write), then snapshotted again.
        const capture = b.capture();
        for (let i = 2; i < 200; i += 3) {
          remove(`k${i}`);
          put(`z${i}`, i);
        }
        capture.release();
        await check();
        expect(await check()).toBe(0);
        // Only added and updated while a snapshot holds the maps: merged back by appending keys
        // (into a group of a dozen keys, so not by replacing its map).
        const held = b.capture();
        put('w0', 1);
        put('k3', 333);
        held.release();
        expect(await check()).toBe(1);
      } finally {
        keysEncoded.mockRestore();
      }
    },
  );

  it('writes two snapshots of one backend that overlap in time, each with its own values', async () => {
    // Two key groups of 30 k numbers: each snapshot gives the event loop turns inside a group.
    const b = new HeapKeyedStateBackend(KeyGroupRange.forSubtask(0, 1, 2), 2);
    const v = b.getState(new ValueStateDescriptor<number>('v'));
    const KEYS = 60_000;
    const keys = Array.from({ length: KEYS }, (_, i) => `k${i}`);
    for (let i = 0; i < KEYS; i++) {
      b.setCurrentKeyComputingGroup(keys[i]!);
      v.update(i);
    }
    const older = b.capture(); // a checkpoint…
    for (let i = 0; i < KEYS; i++) {
      b.setCurrentKeyComputingGroup(keys[i]!);
      v.update(-i);
    }
    const newer = b.capture(); // …and a savepoint while it is being written
    const [a, c] = await Promise.all([sectionsOfCapture(older), sectionsOfCapture(newer)]);
    const got = [a, c].map((sections) => flat(decode(sections)).get('v')!);
    expect(got[0]!.size).toBe(KEYS);
    expect(got[1]!.size).toBe(KEYS);
    for (let i = 0; i < KEYS; i += 997) {
      expect(got[0]!.get(keys[i])).toBe(i);
      expect(Object.is(got[1]!.get(keys[i]), -i)).toBe(true);
    }
    expect([...got[0]!.values()].reduce((x, y) => (x as number) + (y as number), 0)).toBe(
      (KEYS * (KEYS - 1)) / 2,
    );
  });

  it('encodes a snapshot of fewer entries than one turn holds without handing the thread to records', async () => {
    // Records processed between two key groups would be written to the copy-on-write overlay of
    // every group not yet encoded: a snapshot whose writer never waits encodes in one go.
    const b = backend();
    const v = b.getState(new ValueStateDescriptor<number>('v'));
    const m = b.getMapState(new MapStateDescriptor<string, string>('m'));
    for (let i = 0; i < 2000; i++) {
      b.setCurrentKeyComputingGroup(`k${i}`);
      v.update(i);
      m.put('x', `y${i}`);
    }
    const capture = b.capture();
    const ended: number[] = [];
    const writing = writeKeyedState(capture, {
      beginSection: () => undefined,
      write: () => undefined,
      endSection: () => void ended.push(1),
    });
    const groupsWhenReturned = ended.length;
    await writing;
    capture.release();
    expect(ended.length).toBe(MAX);
    expect(groupsWhenReturned).toBe(MAX);
  });

  it('writes every NaN of a float64 column as the one quiet NaN, whatever its payload', async () => {
    const b = backend();
    const v = b.getState(new ValueStateDescriptor<number>('v'));
    const otherNaN = new Float64Array(new Uint32Array([1, 0x7ff00000]).buffer)[0]!;
    b.setCurrentKeyComputingGroup('a');
    v.update(otherNaN);
    const sections = await sectionsOf(b);
    const bytes = Buffer.concat([...sections.values()]);
    const quiet = Buffer.from(new Float64Array([NaN]).buffer);
    const other = Buffer.from(new Float64Array([otherNaN]).buffer);
    expect(other.equals(quiet)).toBe(false);
    expect(bytes.includes(quiet)).toBe(true);
    expect(bytes.includes(other)).toBe(false);
    expect(flat(decode(sections)).get('v')!.get('a')).toBeNaN();
  });

  it('keeps key columns within its budget', () => {
    const c = new KeyColumnCache(4, 100);
    const col = (n: number): { keys: string[]; bytes: Uint8Array } => ({
      keys: Array.from({ length: n }, (_, i) => `k${i}`),
      bytes: new Uint8Array(n * 3),
    });
    c.keep(0, col(5)); // 5 × (8 + 3) = 55 bytes
    expect(c.size).toBe(55);
    c.keep(1, col(5)); // would make 110: not kept
    expect(c.size).toBe(55);
    expect(c.get(1, 5)).toBeUndefined();
    expect(c.get(0, 5)).toBeDefined();
    c.keep(0, col(2)); // replaces: 22 bytes
    expect(c.size).toBe(22);
    c.drop(0);
    expect(c.size).toBe(0);
  });

  it('names a damaged value layout', () => {
    const payload = (...items: unknown[]): Map<number, Buffer> => {
      const enc = new ValueEncoder();
      for (const x of items) enc.encode(x);
      return new Map([[0, Buffer.from(enc.finish())]]);
    };
    expect(() => decode(payload('v', 'value', 1, 'a', 7, 1))).toThrow(
      /test: key group 0 has a bad value layout for value state 'v'/,
    );
    // A float64 column for list state, whose values are arrays.
    const enc = new ValueEncoder();
    for (const x of ['l', 'list', 1, 'a', 1]) enc.encode(x);
    enc.float64Column(new Float64Array([1]), 1);
    expect(() => decode(new Map([[0, Buffer.from(enc.finish())]]))).toThrow(
      /bad value layout for list state 'l'/,
    );
    // A column of the wrong length.
    const short = new ValueEncoder();
    for (const x of ['v', 'value', 2, 'a', 'b', 1]) short.encode(x);
    short.float64Column(new Float64Array([1]), 1);
    expect(() => decode(new Map([[0, Buffer.from(short.finish())]]))).toThrow(
      /^test: key group 0: malformed value at byte \d+: a float64 column of 8 bytes where 2 numbers \(16 bytes\) belong$/,
    );
    // More keys than bytes.
    expect(() => decode(payload('v', 'value', 1000, 'a'))).toThrow(/bad entry count for state 'v'/);
  });
});
