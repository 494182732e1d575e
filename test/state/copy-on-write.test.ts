// The heap backend's asynchronous snapshots: a capture must keep showing the state as it was at
// capture time while records keep changing it, and the live state must never lose a write.
import { describe, expect, it } from 'vitest';
import { ListStateDescriptor, MapStateDescriptor, ValueStateDescriptor } from '../../src/index.js';
import { HeapKeyedStateBackend, type KeyedStateCapture } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange } from '../../src/state/key-group.js';
import { fromStateKey } from '../../src/state/state-key.js';
import { Rng } from './gen.js';
import { Tally, tallySerializer as tally } from './tally.js';

type Model = Map<string, Map<string, unknown>>; // state name → key → value

function backend(): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend(KeyGroupRange.forSubtask(0, 1, 16), 16);
}

/** What a capture holds, as plain data: state → key → value (map state values as sorted entries). */
function readCapture(c: KeyedStateCapture): Model {
  const out: Model = new Map();
  for (const s of c.states) {
    const m = new Map<string, unknown>();
    for (const g of s.maps)
      if (g !== undefined) for (const [k, v] of g) m.set(fromStateKey(k) as string, norm(v));
    out.set(s.name, m);
  }
  return out;
}

function norm(v: unknown): unknown {
  if (v instanceof Map) return [...v.entries()].sort();
  return structuredClone(v);
}

function readLive(b: HeapKeyedStateBackend): Model {
  const out: Model = new Map();
  for (const name of b.stateNames()) {
    const m = new Map<string, unknown>();
    for (const [k, v] of b.entries(name)) m.set(k as string, norm(v));
    out.set(name, m);
  }
  return out;
}

describe('copy-on-write snapshots of the heap backend', () => {
  it('keeps a capture unchanged while values, lists and maps change, then merges the writes back', () => {
    const b = backend();
    const v = b.getState(new ValueStateDescriptor<{ n: number }>('v'));
    const l = b.getListState(new ListStateDescriptor<number>('l'));
    const m = b.getMapState(new MapStateDescriptor<string, number>('m'));
    for (const key of ['a', 'b', 'c']) {
      b.setCurrentKeyComputingGroup(key);
      v.update({ n: 1 });
      l.add(1);
      m.put('x', 1);
    }
    const before = readLive(b);
    const cap = b.capture();
    b.setCurrentKeyComputingGroup('a');
    v.value()!.n = 99; // an in-place change without update() must not reach the capture either
    l.add(2);
    m.put('y', 2);
    b.setCurrentKeyComputingGroup('b');
    v.clear();
    l.clear();
    m.remove('x');
    b.setCurrentKeyComputingGroup('d');
    v.update({ n: 4 });
    expect(readCapture(cap)).toEqual(before);
    const live = readLive(b);
    expect(live.get('v')).toEqual(
      new Map<string, unknown>([
        ['a', { n: 99 }],
        ['c', { n: 1 }],
        ['d', { n: 4 }],
      ]),
    );
    expect(live.get('l')!.get('a')).toEqual([1, 2]);
    expect(live.get('l')!.has('b')).toBe(false);
    expect(live.get('m')!.get('a')).toEqual([
      ['x', 1],
      ['y', 2],
    ]);
    cap.release();
    while (!b.mergeStep(1)) {
      expect(readLive(b)).toEqual(live);
    }
    expect(readLive(b)).toEqual(live);
  });

  it('matches a model over random operations with captures taken and released at random moments', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const rng = new Rng(seed);
      const b = backend();
      const v = b.getState(new ValueStateDescriptor<number[]>('v'));
      const l = b.getListState(new ListStateDescriptor<number>('l'));
      const model: Model = new Map([
        ['v', new Map()],
        ['l', new Map()],
      ]);
      const open: Array<{ cap: KeyedStateCapture; expected: Model }> = [];
      for (let step = 0; step < 3000; step++) {
        const key = `k${rng.int(0, 60)}`;
        b.setCurrentKeyComputingGroup(key);
        const op = rng.int(0, 9);
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
          l.clear();
          model.get('l')!.delete(key);
        } else if (op === 7) {
          const cur = v.value();
          if (cur !== undefined) {
            cur.push(7); // in place, then written back
            v.update(cur);
            model.get('v')!.set(key, [...cur]);
          }
        } else if (op === 8 && open.length === 0 && rng.bool(0.1)) {
          open.push({ cap: b.capture(), expected: structuredClone(model) });
        } else if (op === 9) {
          if (open.length > 0 && rng.bool(0.05)) {
            const { cap, expected } = open.pop()!;
            expect(readCapture(cap), `seed ${seed} step ${step}`).toEqual(expected);
            cap.release();
          } else b.mergeStep(rng.int(1, 5));
        }
        if (step % 500 === 0) expect(readLive(b), `seed ${seed} step ${step}`).toEqual(model);
      }
      for (const { cap, expected } of open) expect(readCapture(cap)).toEqual(expected);
      expect(readLive(b)).toEqual(model);
    }
  });

  it('keeps a default value that one key changed and stored out of other keys and of a capture', () => {
    const b = backend();
    const s = b.getState(new ValueStateDescriptor<{ n: number }>('s', { defaultValue: { n: 0 } }));
    const bump = (k: string): void => {
      b.setCurrentKeyComputingGroup(k);
      const v = s.value()!;
      v.n += 1;
      s.update(v);
    };
    bump('a');
    const cap = b.capture();
    bump('b'); // after the barrier, through the default again
    expect(readCapture(cap).get('s')).toEqual(new Map([['a', { n: 1 }]]));
    cap.release();
    b.setCurrentKeyComputingGroup('c');
    expect(s.value()).toEqual({ n: 0 });
    // Bytes are plain data too.
    const bytes = b.getState(
      new ValueStateDescriptor<Uint8Array>('bytes', { defaultValue: new Uint8Array(2) }),
    );
    b.setCurrentKeyComputingGroup('a');
    bytes.value()![0] = 7;
    b.setCurrentKeyComputingGroup('b');
    expect([...bytes.value()!]).toEqual([0, 0]);
    expect(readLive(b).get('s')).toEqual(
      new Map([
        ['a', { n: 1 }],
        ['b', { n: 1 }],
      ]),
    );
  });

  it('hands out a default that is not plain data as it is (without a serializer, only plain data is copied)', () => {
    class Reading {
      constructor(public n = 0) {}
      f = (): number => this.n;
    }
    const b = backend();
    const d = b.getState(new ValueStateDescriptor<Reading>('d', { defaultValue: new Reading(3) }));
    const withFn = b.getState(
      new ValueStateDescriptor<{ t: Reading }>('w', { defaultValue: { t: new Reading(1) } }),
    );
    b.setCurrentKeyComputingGroup('k');
    expect(d.value()).toBeInstanceOf(Reading);
    expect(d.value()!.f()).toBe(3);
    expect(withFn.value()!.t.f()).toBe(1);
  });

  it('copies values of a state with its own serializer through it: a class instance stays one', () => {
    const b = backend();
    const one = b.getState(new ValueStateDescriptor<Tally>('one', { serializer: tally }));
    const many = b.getListState(new ListStateDescriptor<Tally>('many', { serializer: tally }));
    const byName = b.getMapState(new MapStateDescriptor<string, Tally>('byName', { serializer: tally }));
    const dflt = b.getState(
      new ValueStateDescriptor<Tally>('dflt', { serializer: tally, defaultValue: new Tally(5) }),
    );
    b.setCurrentKeyComputingGroup('a');
    one.update(new Tally(1));
    many.add(new Tally(1));
    byName.put('x', new Tally(1));
    const cap = b.capture();
    // A checkpoint is being written: each read copies what the capture holds, before it changes.
    one.update(one.value()!.inc());
    for (const t of many.get()) t.inc();
    byName.get('x')!.inc();
    expect(dflt.value()!.inc().n).toBe(6);
    expect(dflt.value()!.n).toBe(5);
    expect(readCapture(cap)).toEqual(
      new Map<string, unknown>([
        ['one', new Map([['a', { n: 1 }]])],
        ['many', new Map([['a', [{ n: 1 }]]])],
        ['byName', new Map([['a', [['x', { n: 1 }]]]])],
        ['dflt', new Map()],
      ]),
    );
    cap.release();
    expect(one.value()).toBeInstanceOf(Tally);
    expect([one.value()!.n, many.get()[0]!.n, byName.get('x')!.n]).toEqual([2, 2, 2]);

    // Restored, the state is copied through its serializer as well.
    const r = backend();
    r.restore([b.snapshot()]);
    const again = r.getState(new ValueStateDescriptor<Tally>('one', { serializer: tally }));
    r.setCurrentKeyComputingGroup('a');
    const held = r.capture();
    expect(again.value()!.inc().n).toBe(3);
    held.release();
  });

  it('takes the synchronous part in time independent of the number of keys', () => {
    const b = backend();
    const v = b.getState(new ValueStateDescriptor<number>('v'));
    for (let i = 0; i < 200_000; i++) {
      b.setCurrentKeyComputingGroup(i);
      v.update(i);
    }
    const t0 = performance.now();
    const cap = b.capture();
    const elapsed = performance.now() - t0;
    expect(elapsed).toBeLessThan(5);
    cap.release();
  });
});
