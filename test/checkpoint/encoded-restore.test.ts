// A restore leaves keyed state encoded, key group by key group (EncodedKeyGroup), and decodes a
// group when it is first needed. What that must not change: every entry reaches the live state
// and the next snapshot, the background work decodes every group, and bytes that pass their
// checksum but would not decode are refused by the restore itself, naming the file and the key
// group (and should they still fail to decode later, every use fails, naming the snapshot).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { ListStateDescriptor, ValueStateDescriptor } from '../../src/index.js';
import {
  encodedKeyGroup,
  readKeyedSection,
  StateFormatError,
  writeKeyedState,
  type RestoredStateError,
} from '../../src/checkpoint/state-serialization.js';
import type { StateKind } from '../../src/state/descriptors.js';
import { HeapKeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange, keyGroupOf } from '../../src/state/key-group.js';
import type { EncodedKeyGroup } from '../../src/state/snapshot.js';
import { ValueCodecError, ValueDecoder, ValueEncoder } from '../../src/state/value-codec.js';
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

  it('refuses, before the job starts, a group whose bytes pass their checksum but do not decode', async () => {
    const good = await written(source(200), 'k.state');
    const bad = keyGroupOf('victim', MAX);
    const enc = new ValueEncoder();
    enc.encode('count');
    enc.encode('value');
    enc.encode(5); // five entries announced, none follows
    good.set(bad, enc.takeChunk());
    const refusal = (() => {
      try {
        restore(good);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(refusal).toBeInstanceOf(StateFormatError);
    expect((refusal as Error).name).toBe('StateFormatError');
    expect((refusal as Error).message).toMatch(`chk-1/k.state: key group ${bad}: malformed value at byte`);
    // The map-state check too: a value that is not a map.
    const m = new ValueEncoder();
    for (const item of ['seen', 'map', 1, 'key-0', 0, ['x']]) m.encode(item);
    const asMap = new Map([[keyGroupOf('key-0', MAX), m.takeChunk()]]);
    expect(() => restore(asMap, new Map([['seen', 'map']]))).toThrow(
      'chk-1/k.state: a map-state value is not a map',
    );
  });

  it('fails every use of a group that passed the checks yet does not decode, naming the snapshot', async () => {
    // The checks and the decoder disagreeing would be a fault of weir's; the job must still fail
    // with the snapshot named (the job master then takes it as unusable), not carry on.
    const { b } = restore(await written(source(200), 'k.state'));
    const decodeKey = vi.spyOn(ValueDecoder.prototype, 'decodeKey').mockImplementation(() => {
      throw new ValueCodecError('malformed value at byte 3: injected');
    });
    try {
      const count = b.getState(new ValueStateDescriptor<number>('count'));
      b.setCurrentKeyComputingGroup('key-7');
      const kg = keyGroupOf('key-7', MAX);
      for (let attempt = 0; attempt < 2; attempt++) {
        const e = (() => {
          try {
            count.value();
          } catch (x) {
            return x as RestoredStateError;
          }
          return undefined;
        })();
        expect(e?.name).toBe('RestoredStateError');
        expect(e?.snapshot).toBe('file:///chk-1');
        expect(e?.message).toMatch(
          `chk-1/k.state: key group ${kg}: malformed value at byte 3: injected; these bytes match their checksums`,
        );
      }
      decodeKey.mockRestore();
      expect(count.value()).toBe(7);
    } finally {
      decodeKey.mockRestore();
    }
  });

  it('refuses a group holding a state _metadata does not list, or lists as another kind', async () => {
    const sections = await written(source(200), 'k.state');
    const kg = keyGroupOf('key-0', MAX);
    const one = new Map([[kg, sections.get(kg)!]]);
    expect(() => restore(one, new Map<string, StateKind>([['count', 'value']]))).toThrow(
      `chk-1/k.state: key group ${kg} holds list state 'seen', which _metadata does not list`,
    );
    expect(() =>
      restore(
        one,
        new Map<string, StateKind>([
          ['count', 'reducing'],
          ['seen', 'list'],
        ]),
      ),
    ).toThrow(
      `chk-1/k.state: key group ${kg} holds value state 'count', which _metadata lists as reducing state`,
    );
  });
});
