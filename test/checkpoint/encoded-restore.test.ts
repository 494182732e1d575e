// A restore leaves keyed state encoded, key group by key group (EncodedKeyGroup), and decodes a
// group when it is first needed. What that must not change: every entry reaches the live state
// and the next snapshot, the background work decodes every group, and bytes that pass their
// checksum but do not decode fail the first use, naming the file and the key group.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ListStateDescriptor, ValueStateDescriptor } from '../../src/index.js';
import {
  encodedKeyGroup,
  readKeyedSection,
  StateFormatError,
  writeKeyedState,
} from '../../src/checkpoint/state-serialization.js';
import type { StateKind } from '../../src/state/descriptors.js';
import { HeapKeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange, keyGroupOf } from '../../src/state/key-group.js';
import type { EncodedKeyGroup } from '../../src/state/snapshot.js';
import { ValueEncoder } from '../../src/state/value-codec.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import { STATE_FILE_KEYED, StateFileReader } from '../../src/storage/state-file.js';

const MAX = 32;
const KINDS = new Map<string, StateKind>([
  ['count', 'value'],
  ['seen', 'list'],
]);

function backend(): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend(KeyGroupRange.forSubtask(0, 1, MAX), MAX);
}

function storage(): FsCheckpointStorage {
  return new FsCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-encoded-')));
}

/** A backend with `keys` keys in 'count' (value) and every third key in 'seen' (list). */
function source(keys: number): HeapKeyedStateBackend {
  const a = backend();
  const count = a.getState(new ValueStateDescriptor<number>('count'));
  const seen = a.getListState(new ListStateDescriptor<string>('seen'));
  for (let i = 0; i < keys; i++) {
    a.setCurrentKeyComputingGroup(`key-${i}`);
    count.update(i);
    if (i % 3 === 0) seen.add(`s${i}`);
  }
  a.clearCurrentKey();
  return a;
}

/** Writes `b`'s keyed state as a checkpoint does; returns the file's sections, read back and checked. */
async function written(b: HeapKeyedStateBackend, name: string): Promise<Map<number, Uint8Array>> {
  const st = storage();
  const loc = st.checkpointLocation('job', 1);
  const cap = b.capture();
  const file = st.createStateFile(loc, name, STATE_FILE_KEYED);
  await writeKeyedState(cap, file);
  cap.release();
  const info = await file.close();
  const reader = await StateFileReader.open(st, loc, name, {
    size: info.size,
    crc32: info.crc32,
    kind: STATE_FILE_KEYED,
  });
  return reader.readAll();
}

/** Every (state, key, value) of a file's sections, decoded at once. */
function contents(sections: Map<number, Uint8Array>): Map<string, unknown> {
  const into = new Map() as Parameters<typeof readKeyedSection>[2];
  for (const [id, payload] of sections) readKeyedSection(payload, id, into, 'test', 2);
  const out = new Map<string, unknown>();
  for (const [name, st] of into)
    for (const g of st.keyGroups) for (const [k, v] of g.entries) out.set(`${name}/${String(k)}`, v);
  return out;
}

function liveContents(b: HeapKeyedStateBackend): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const name of b.stateNames()) for (const [k, v] of b.entries(name)) out.set(`${name}/${String(k)}`, v);
  return out;
}

/** Restores `sections` into a new backend as a job does (adopted, left encoded); `decoded` collects the key groups decoded. */
function restore(
  sections: Map<number, Uint8Array>,
  kinds: ReadonlyMap<string, StateKind> = KINDS,
): { b: HeapKeyedStateBackend; decoded: Set<number> } {
  const decoded = new Set<number>();
  const encoded: EncodedKeyGroup[] = [...sections].map(([id, payload]) => {
    const g = encodedKeyGroup(payload, id, kinds, {
      snapshot: 'file:///chk-1',
      where: 'chk-1/k.state',
      version: 2,
    });
    return {
      keyGroup: id,
      mapOf: (name: string) => {
        decoded.add(id);
        return g.mapOf(name);
      },
    };
  });
  const b = backend();
  b.restore(
    [
      {
        maxParallelism: MAX,
        states: [...kinds].map(([name, kind]) => ({ name, kind, keyGroups: [] })),
        encoded,
      },
    ],
    { copy: false },
  );
  return { b, decoded };
}

describe('a restore that leaves key groups encoded', () => {
  it('decodes a group on first use, and every group in the background, one per mergeStep', async () => {
    const sections = await written(source(3000), 'k.state');
    const { b, decoded } = restore(sections);
    expect(decoded.size).toBe(0);
    const count = b.getState(new ValueStateDescriptor<number>('count'));
    b.setCurrentKeyComputingGroup('key-17');
    expect(count.value()).toBe(17);
    expect([...decoded]).toEqual([keyGroupOf('key-17', MAX)]);
    let steps = 0;
    while (!b.mergeStep()) steps++;
    // One step per group still encoded (the last one returns true).
    expect(steps + 1).toBe(sections.size);
    expect(decoded.size).toBe(sections.size);
    expect(liveContents(b)).toEqual(contents(sections));
  });

  it('writes every entry to a snapshot taken before any group was decoded, and keeps later writes', async () => {
    const sections = await written(source(3000), 'k.state');
    const { b, decoded } = restore(sections);
    const again = await written(b, 'again.state');
    expect(contents(again)).toEqual(contents(sections));
    // The writer decoded the groups for itself; the live state is still whole.
    expect(decoded.size).toBe(sections.size);
    const count = b.getState(new ValueStateDescriptor<number>('count'));
    b.setCurrentKeyComputingGroup('key-5');
    count.update(-5);
    b.setCurrentKeyComputingGroup('key-6');
    count.clear();
    const third = contents(await written(b, 'third.state'));
    const expected = contents(sections);
    expected.set('count/key-5', -5);
    expected.delete('count/key-6');
    expect(third).toEqual(expected);
    expect(liveContents(b)).toEqual(expected);
  });

  it('fails the first use of a group whose bytes pass their checksum but do not decode, every time', async () => {
    const good = await written(source(200), 'k.state');
    const bad = keyGroupOf('victim', MAX);
    const enc = new ValueEncoder();
    enc.encode('count');
    enc.encode('value');
    enc.encode(5); // five entries announced, none follows
    good.set(bad, enc.takeChunk());
    const { b } = restore(good);
    const count = b.getState(new ValueStateDescriptor<number>('count'));
    b.setCurrentKeyComputingGroup('victim');
    for (let attempt = 0; attempt < 2; attempt++) {
      expect(() => count.value()).toThrow(StateFormatError);
      expect(() => count.value()).toThrow(`chk-1/k.state: key group ${bad}:`);
    }
    // The other groups are intact.
    const other = [...Array(200).keys()].find((i) => keyGroupOf(`key-${i}`, MAX) !== bad)!;
    b.setCurrentKeyComputingGroup(`key-${other}`);
    expect(count.value()).toBe(other);
  });

  it('takes a state the group holds but _metadata does not list, or lists as another kind, as damage', async () => {
    const sections = await written(source(200), 'k.state');
    const kg = keyGroupOf('key-0', MAX);
    // Each reads the state _metadata lists as it was: the group is decoded whole, so the other
    // state's damage shows.
    const readCount = (b: HeapKeyedStateBackend): unknown =>
      b.getState(new ValueStateDescriptor<number>('count')).value();
    const readSeen = (b: HeapKeyedStateBackend): unknown => [
      ...b.getListState(new ListStateDescriptor<string>('seen')).get(),
    ];
    for (const [kinds, read, says] of [
      [
        new Map<string, StateKind>([['count', 'value']]),
        readCount,
        "holds list state 'seen', which _metadata does not list",
      ],
      [
        new Map<string, StateKind>([
          ['count', 'reducing'],
          ['seen', 'list'],
        ]),
        readSeen,
        "holds value state 'count', which _metadata lists as reducing state",
      ],
    ] as const) {
      const { b } = restore(new Map([[kg, sections.get(kg)!]]), kinds);
      b.setCurrentKeyComputingGroup('key-0');
      expect(() => read(b)).toThrow(`chk-1/k.state: key group ${kg} ${says}`);
    }
  });
});
