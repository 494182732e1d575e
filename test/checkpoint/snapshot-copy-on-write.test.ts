// A snapshot writer hands each key group back to the state table as soon as it is encoded, and
// captures may overlap (a savepoint while a checkpoint is being written). Whatever the order,
// every capture must read each key group as it was at capture time until it hands the group
// back, and the live state must never lose a write. The same holds from a restore that left its
// key groups encoded, decoded on first use, in the background or by a capture's writer.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { ListStateDescriptor, ValueStateDescriptor } from '../../src/index.js';
import {
  encodedKeyGroup,
  readKeyedSection,
  writeKeyedState,
} from '../../src/checkpoint/state-serialization.js';
import { writeTaskSnapshot } from '../../src/checkpoint/task-snapshot-writer.js';
import { HeapKeyedStateBackend, type KeyedStateCapture } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange, keyGroupOf } from '../../src/state/key-group.js';
import { fromStateKey } from '../../src/state/state-key.js';
import { adoptCapture, releaseCapture, releaseCapturedGroup } from '../../src/state/state-table.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import { STATE_FILE_KEYED, StateFileReader } from '../../src/storage/state-file.js';
import { Rng } from '../state/gen.js';

const MAX = 16;

/** state name → key → value, as plain data. */
type Model = Map<string, Map<string, unknown>>;

function backend(): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend(KeyGroupRange.forSubtask(0, 1, MAX), MAX);
}

function groupOf(model: Model, kg: number): Model {
  const out: Model = new Map();
  for (const [name, m] of model) {
    const g = new Map<string, unknown>();
    for (const [k, v] of m) if (keyGroupOf(k, MAX) === kg) g.set(k, structuredClone(v));
    out.set(name, g);
  }
  return out;
}

/** One key group of a capture, as plain data (read as a writer does: encoded groups decoded). */
function readGroup(c: KeyedStateCapture, kg: number): Model {
  const out: Model = new Map();
  for (const s of c.states) {
    const g = new Map<string, unknown>();
    for (const [k, v] of s.maps[kg] ?? s.encoded?.[kg]?.mapOf(s.name) ?? [])
      g.set(fromStateKey(k) as string, structuredClone(v));
    out.set(s.name, g);
  }
  return out;
}

function readLive(b: HeapKeyedStateBackend): Model {
  const out: Model = new Map();
  for (const name of b.stateNames()) {
    const m = new Map<string, unknown>();
    for (const [k, v] of b.entries(name)) m.set(k as string, structuredClone(v));
    out.set(name, m);
  }
  return out;
}

/**
 * A backend restored, as a job restores, from a state file of random entries of states 'v' and
 * 'l' (and 'gone', which the job no longer registers): its key groups left encoded. Returns the
 * backend and the model of what it holds.
 */
async function restoredBackend(rng: Rng): Promise<{ b: HeapKeyedStateBackend; model: Model }> {
  const a = backend();
  const v = a.getState(new ValueStateDescriptor<number[]>('v'));
  const l = a.getListState(new ListStateDescriptor<number>('l'));
  const gone = a.getState(new ValueStateDescriptor<string>('gone'));
  const model: Model = new Map([
    ['v', new Map()],
    ['l', new Map()],
    ['gone', new Map()],
  ]);
  for (let i = 0; i < 60; i++) {
    const key = `k${rng.int(0, 80)}`;
    a.setCurrentKeyComputingGroup(key);
    const r = rng.int(0, 2);
    if (r === 0) {
      v.update([i]);
      model.get('v')!.set(key, [i]);
    } else if (r === 1) {
      l.add(i);
      model.get('l')!.set(key, [...((model.get('l')!.get(key) as number[] | undefined) ?? []), i]);
    } else {
      gone.update(`g${i}`);
      model.get('gone')!.set(key, `g${i}`);
    }
  }
  const storage = new FsCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-cow-')));
  const loc = storage.checkpointLocation('job', 1);
  const cap = a.capture();
  const file = storage.createStateFile(loc, 'k.state', STATE_FILE_KEYED);
  await writeKeyedState(cap, file);
  cap.release();
  const info = await file.close();
  const reader = await StateFileReader.open(storage, loc, 'k.state', {
    size: info.size,
    crc32: info.crc32,
    kind: STATE_FILE_KEYED,
  });
  const kinds = new Map([
    ['v', 'value'],
    ['l', 'list'],
    ['gone', 'value'],
  ] as const);
  const encoded = [...(await reader.readAll())].map(([id, payload]) =>
    encodedKeyGroup(payload, id, kinds, { snapshot: 'test', where: 'test', version: reader.version }),
  );
  expect(encoded.length).toBeGreaterThan(4);
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
  return { b, model };
}

interface Open {
  cap: KeyedStateCapture;
  /** Per key group, as it was at capture time. */
  expected: Model[];
  /** Adopted: handed back group by group, then ended with releaseCapture. */
  adopted: boolean;
  next: number;
}

describe('copy-on-write with key groups handed back early and overlapping captures', () => {
  it('matches a model over random writes, captures, early hand-backs and releases', async () => {
    for (let seed = 1; seed <= 40; seed++) {
      const rng = new Rng(seed);
      // Even seeds start from a restore whose key groups are still encoded.
      const { b, model } =
        seed % 2 === 0
          ? await restoredBackend(rng)
          : {
              b: backend(),
              model: new Map([
                ['v', new Map()],
                ['l', new Map()],
              ]) as Model,
            };
      const v = b.getState(new ValueStateDescriptor<number[]>('v'));
      const l = b.getListState(new ListStateDescriptor<number>('l'));
      const open: Open[] = [];
      for (let step = 0; step < 4000; step++) {
        const key = `k${rng.int(0, 80)}`;
        b.setCurrentKeyComputingGroup(key);
        const op = rng.int(0, 11);
        const where = `seed ${seed} step ${step}`;
        if (op <= 2) {
          const val = [rng.int(0, 9)];
          v.update(val);
          model.get('v')!.set(key, [...val]);
        } else if (op === 3) {
          v.clear();
          model.get('v')!.delete(key);
        } else if (op <= 5) {
          const x = rng.int(0, 9);
          l.add(x);
          model.get('l')!.set(key, [...((model.get('l')!.get(key) as number[] | undefined) ?? []), x]);
        } else if (op === 6) {
          const cur = v.value();
          if (cur !== undefined) {
            cur.push(7); // in place: must never reach a capture that still needs the group
            v.update(cur);
            model.get('v')!.set(key, [...cur]);
          }
        } else if (op === 7 && open.length < 3 && rng.bool(0.2)) {
          const cap = b.capture();
          const adopted = rng.bool(0.6);
          if (adopted) for (const s of cap.states) adoptCapture(s.maps);
          const expected = Array.from({ length: MAX }, (_, kg) => groupOf(model, kg));
          open.push({ cap, expected, adopted, next: 0 });
        } else if (op === 8 && open.length > 0) {
          // A writer encodes (checks) its next key group and hands it back.
          const o = rng.pick(open);
          if (o.adopted && o.next < MAX) {
            expect(readGroup(o.cap, o.next), where).toEqual(o.expected[o.next]);
            for (const s of o.cap.states) releaseCapturedGroup(s.maps, o.next);
            o.next++;
          }
        } else if (op === 9 && open.length > 0 && rng.bool(0.3)) {
          const i = rng.int(0, open.length - 1);
          const o = open[i]!;
          for (let kg = o.next; kg < MAX; kg++) expect(readGroup(o.cap, kg), where).toEqual(o.expected[kg]);
          if (o.adopted) for (const s of o.cap.states) releaseCapture(s.maps);
          o.cap.release();
          open.splice(i, 1);
        } else if (op >= 10) {
          b.mergeStep(rng.int(1, 5));
        }
        if (step % 250 === 249) expect(readLive(b), where).toEqual(model);
      }
      for (const o of open) {
        for (let kg = o.next; kg < MAX; kg++) expect(readGroup(o.cap, kg)).toEqual(o.expected[kg]);
        if (o.adopted) for (const s of o.cap.states) releaseCapture(s.maps);
        o.cap.release();
      }
      while (!b.mergeStep(7));
      expect(readLive(b)).toEqual(model);
      // Nothing holds the maps any more: writes go straight to them.
      b.setCurrentKeyComputingGroup('k1');
      v.update([42]);
      expect(b.mergeStep(1)).toBe(true);
    }
  });

  it('writes each key group as it was at capture time while records keep changing state', async () => {
    const b = backend();
    const v = b.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
    const keys = Array.from({ length: 30_000 }, (_, i) => `key-${i}`);
    for (const k of keys) {
      b.setCurrentKeyComputingGroup(k);
      v.update(1);
    }
    const storage = new FsCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-cow-')));
    const loc = storage.checkpointLocation('job', 1);
    const cap = b.capture();
    // Records keep counting on every turn of the event loop while the snapshot is written.
    let stop = false;
    let turns = 0;
    const writer = (async () => {
      while (!stop) {
        for (let i = 0; i < 500; i++) {
          b.setCurrentKeyComputingGroup(keys[(turns * 500 + i) % keys.length]);
          v.update(v.value()! + 1);
        }
        b.mergeStep();
        turns++;
        await nextTurn();
      }
    })();
    const [handles] = await writeTaskSnapshot(
      storage,
      loc,
      0,
      [b.range],
      [{ operatorId: 'abcdefabcdef', keyed: cap, operator: { states: [] }, pending: undefined }],
    );
    stop = true;
    await writer;
    expect(turns).toBeGreaterThan(1);
    const h = handles!.keyed!;
    const reader = await StateFileReader.open(storage, loc, h.path, {
      size: h.size,
      crc32: h.crc32,
      kind: STATE_FILE_KEYED,
    });
    const into = new Map<
      string,
      { kind: 'value'; keyGroups: Array<{ keyGroup: number; entries: Array<[unknown, unknown]> }> }
    >();
    for (const [id, payload] of await reader.readAll())
      readKeyedSection(payload, id, into as Parameters<typeof readKeyedSection>[2], 'test', reader.version);
    const written = new Map<unknown, unknown>();
    for (const g of into.get('count')!.keyGroups) for (const [k, x] of g.entries) written.set(k, x);
    expect(written.size).toBe(keys.length);
    for (const x of written.values()) expect(x).toBe(1);
    // The live state kept every write.
    expect([...b.entries('count')].reduce((n, [, x]) => n + (x as number), 0)).toBe(
      keys.length + turns * 500,
    );
  });

  it('writes the same bytes through writeKeyedState whether or not the capture was adopted', async () => {
    const storage = new FsCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-cow-')));
    const loc = storage.checkpointLocation('job', 2);
    const sizes: number[] = [];
    const crcs: number[] = [];
    for (const adopt of [false, true]) {
      const b = backend();
      const v = b.getState(new ValueStateDescriptor<string>('v'));
      for (let i = 0; i < 2000; i++) {
        b.setCurrentKeyComputingGroup(i % 3 === 0 ? i : `k${i}`);
        v.update(`value ${i}`);
      }
      const cap = b.capture();
      if (adopt) for (const s of cap.states) adoptCapture(s.maps);
      const file = storage.createStateFile(loc, `f${adopt ? 1 : 0}.state`, STATE_FILE_KEYED);
      await writeKeyedState(cap, file);
      if (adopt) for (const s of cap.states) releaseCapture(s.maps);
      cap.release();
      const info = await file.close();
      sizes.push(info.size);
      crcs.push(info.crc32);
    }
    expect(sizes[0]).toBe(sizes[1]);
    expect(crcs[0]).toBe(crcs[1]);
  });
});
