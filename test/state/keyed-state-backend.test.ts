import { describe, expect, it } from 'vitest';
import {
  AggregatingStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  StateAccessError,
  ValueStateDescriptor,
  type AggregateFunction,
} from '../../src/index.js';
import { HeapKeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { keyGroupOf, KeyGroupRange, type KeyValue } from '../../src/state/key-group.js';
import { fromStateKey, toStateKey } from '../../src/state/state-key.js';
import { randomKeys, show } from './gen.js';

const M = 128;

function fullBackend(maxParallelism = M): HeapKeyedStateBackend {
  return new HeapKeyedStateBackend(KeyGroupRange.forSubtask(0, 1, maxParallelism), maxParallelism);
}

const average: AggregateFunction<number, { sum: number; n: number }, number> = {
  createAccumulator: () => ({ sum: 0, n: 0 }),
  add: (v, acc) => ({ sum: acc.sum + v, n: acc.n + 1 }),
  getResult: (acc) => acc.sum / acc.n,
};

describe('keyed state, per key', () => {
  it('value state: default, update, clear, and keys kept apart', () => {
    const b = fullBackend();
    const count = b.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
    const plain = b.getState(new ValueStateDescriptor<string>('plain'));
    b.setCurrentKeyComputingGroup('a');
    expect(count.value()).toBe(0);
    expect(plain.value()).toBeUndefined();
    count.update(5);
    plain.update('x');
    b.setCurrentKeyComputingGroup('b');
    expect(count.value()).toBe(0);
    count.update(7);
    b.setCurrentKeyComputingGroup('a');
    expect(count.value()).toBe(5);
    expect(plain.value()).toBe('x');
    count.clear();
    expect(count.value()).toBe(0);
    plain.update(undefined);
    expect(plain.value()).toBeUndefined();
    // Clearing removes the entry rather than storing the default, so snapshots stay small.
    expect(new Map(b.entries('count'))).toEqual(new Map([['b', 7]]));
    expect([...b.entries('plain')]).toEqual([]);
  });

  it('list state: add, addAll, update, clear', () => {
    const b = fullBackend();
    const l = b.getListState(new ListStateDescriptor<number>('l'));
    b.setCurrentKeyComputingGroup(1);
    expect(l.get()).toEqual([]);
    l.add(1);
    l.addAll([2, 3]);
    expect(l.get()).toEqual([1, 2, 3]);
    b.setCurrentKeyComputingGroup(2);
    l.addAll([]);
    expect([...b.entries('l')]).toEqual([[1, [1, 2, 3]]]);
    l.addAll(new Set([9]));
    l.add(10);
    expect(l.get()).toEqual([9, 10]);
    b.setCurrentKeyComputingGroup(1);
    l.update([4]);
    expect(l.get()).toEqual([4]);
    l.update([]);
    expect(l.get()).toEqual([]);
    expect(new Map(b.entries('l'))).toEqual(new Map([[2, [9, 10]]]));
    b.setCurrentKeyComputingGroup(2);
    l.clear();
    expect(l.get()).toEqual([]);
    expect([...b.entries('l')]).toEqual([]);
  });

  it('map state with array user keys and bigint user keys', () => {
    const b = fullBackend();
    const m = b.getMapState(new MapStateDescriptor<readonly [string, number] | bigint | number, string>('m'));
    b.setCurrentKeyComputingGroup(['user', 1]);
    expect(m.isEmpty()).toBe(true);
    m.put(['day', 1], 'one');
    // A new array with the same elements is the same user key.
    expect(m.get(['day', 1])).toBe('one');
    expect(m.contains(['day', 1])).toBe(true);
    expect(m.contains(['day', 2])).toBe(false);
    m.put(10n ** 30n, 'huge');
    m.put(-5n, 'negative');
    m.put(5, 'number five');
    // 5 and 5n are different keys, as in a Map.
    expect(m.get(5n)).toBeUndefined();
    expect(m.get(5)).toBe('number five');
    expect(m.get(10n ** 30n)).toBe('huge');
    m.putAll([
      [['day', 2], 'two'],
      [-5n, 'minus five'],
    ]);
    expect([...m.keys()]).toEqual([['day', 1], 10n ** 30n, -5n, 5, ['day', 2]]);
    expect([...m.values()]).toEqual(['one', 'huge', 'minus five', 'number five', 'two']);
    expect([...m.entries()]).toEqual([
      [['day', 1], 'one'],
      [10n ** 30n, 'huge'],
      [-5n, 'minus five'],
      [5, 'number five'],
      [['day', 2], 'two'],
    ]);

    b.setCurrentKeyComputingGroup(['user', 2]);
    expect(m.isEmpty()).toBe(true);
    expect(m.get(['day', 1])).toBeUndefined();
    m.put(['day', 1], 'other user');
    m.remove(['day', 1]);
    // Removing the last user key removes the key's map altogether.
    expect([...b.entries('m')].map(([k]) => k)).toEqual([['user', 1]]);
    m.remove(['never', 0]);

    b.setCurrentKeyComputingGroup(['user', 1]);
    m.remove(['day', 1]);
    expect(m.contains(['day', 1])).toBe(false);
    expect(m.isEmpty()).toBe(false);
    m.clear();
    expect(m.isEmpty()).toBe(true);
    expect([...m.entries()]).toEqual([]);
  });

  it('reducing state folds with its function', () => {
    const b = fullBackend();
    const r = b.getReducingState(new ReducingStateDescriptor<number>('max', Math.max));
    b.setCurrentKeyComputingGroup('k');
    expect(r.get()).toBeUndefined();
    r.add(3);
    r.add(9);
    r.add(4);
    expect(r.get()).toBe(9);
    b.setCurrentKeyComputingGroup('j');
    r.add(-1);
    expect(r.get()).toBe(-1);
    r.clear();
    expect(r.get()).toBeUndefined();
    b.setCurrentKeyComputingGroup('k');
    expect(r.get()).toBe(9);
  });

  it('aggregating state keeps the accumulator and returns the result', () => {
    const b = fullBackend();
    const avg = b.getAggregatingState(new AggregatingStateDescriptor('avg', average));
    b.setCurrentKeyComputingGroup(true);
    expect(avg.get()).toBeUndefined();
    avg.add(1);
    avg.add(2);
    avg.add(6);
    expect(avg.get()).toBe(3);
    expect(new Map(b.entries('avg'))).toEqual(new Map([[true, { sum: 9, n: 3 }]]));
    b.setCurrentKeyComputingGroup(false);
    expect(avg.get()).toBeUndefined();
    avg.add(10);
    expect(avg.get()).toBe(10);
    avg.clear();
    expect(avg.get()).toBeUndefined();
  });

  it('treats 0 and -0, and arrays built twice, as one key', () => {
    const b = fullBackend();
    const v = b.getState(new ValueStateDescriptor<string>('v'));
    b.setCurrentKeyComputingGroup(-0);
    v.update('zero');
    b.setCurrentKeyComputingGroup(0);
    expect(v.value()).toBe('zero');
    b.setCurrentKeyComputingGroup(['a', [1n]]);
    v.update('nested');
    b.setCurrentKeyComputingGroup(['a', [1n]]);
    expect(v.value()).toBe('nested');
    b.setCurrentKeyComputingGroup(NaN);
    v.update('nan');
    b.setCurrentKeyComputingGroup(0 / 0);
    expect(v.value()).toBe('nan');
  });
});

describe('keyed state misuse', () => {
  it('throws StateAccessError outside a key context, for every kind and operation', () => {
    const b = fullBackend();
    const v = b.getState(new ValueStateDescriptor<number>('v', { defaultValue: 1 }));
    const l = b.getListState(new ListStateDescriptor<number>('l'));
    const m = b.getMapState(new MapStateDescriptor<string, number>('m'));
    const r = b.getReducingState(new ReducingStateDescriptor<number>('r', (x, y) => x + y));
    const a = b.getAggregatingState(new AggregatingStateDescriptor('a', average));
    const ops: Array<[string, () => unknown]> = [
      ['value.value', () => v.value()],
      ['value.update', () => v.update(2)],
      ['value.clear', () => v.clear()],
      ['list.get', () => l.get()],
      ['list.add', () => l.add(1)],
      ['list.addAll', () => l.addAll([1])],
      ['list.update', () => l.update([1])],
      ['list.clear', () => l.clear()],
      ['map.get', () => m.get('x')],
      ['map.put', () => m.put('x', 1)],
      ['map.contains', () => m.contains('x')],
      ['map.isEmpty', () => m.isEmpty()],
      ['map.entries', () => [...m.entries()]],
      ['map.remove', () => m.remove('x')],
      ['map.clear', () => m.clear()],
      ['reducing.get', () => r.get()],
      ['reducing.add', () => r.add(1)],
      ['aggregating.get', () => a.get()],
      ['aggregating.add', () => a.add(1)],
    ];
    const check = (when: string): void => {
      for (const [name, op] of ops) {
        let err: unknown;
        try {
          op();
        } catch (e) {
          err = e;
        }
        expect(err, `${name} ${when}`).toBeInstanceOf(StateAccessError);
        expect((err as Error).message).toMatch(/outside of a keyed context.*after keyBy/);
      }
    };
    check('before any key');
    b.setCurrentKeyComputingGroup('k');
    v.update(5);
    b.clearCurrentKey();
    check('after clearCurrentKey');
    // Nothing was written by the failed calls.
    expect(new Map(b.entries('v'))).toEqual(new Map([['k', 5]]));
    expect([...b.entries('l')]).toEqual([]);
  });

  it('refuses one name as two kinds, and returns one handle per name', () => {
    const b = fullBackend();
    const d = new ValueStateDescriptor<number>('x');
    const h = b.getState(d);
    expect(b.getState(new ValueStateDescriptor<number>('x'))).toBe(h);
    expect(() => b.getListState(new ListStateDescriptor<number>('x'))).toThrow(StateAccessError);
    expect(() => b.getMapState(new MapStateDescriptor<string, number>('x'))).toThrow(
      "state 'x' is already registered as value state and cannot also be map state; give it another name",
    );
    expect(b.stateNames()).toEqual(['x']);
  });

  it('refuses a key outside the subtask range', () => {
    const b = new HeapKeyedStateBackend(KeyGroupRange.forSubtask(0, 2, M), M);
    const foreign = Array.from({ length: 100 }, (_, i) => `k${i}`).find((k) => keyGroupOf(k, M) >= 64)!;
    expect(() => b.setCurrentKeyComputingGroup(foreign)).toThrow(StateAccessError);
    expect(() => b.setCurrentKeyComputingGroup(foreign)).toThrow(
      `key ${foreign} is in key group ${keyGroupOf(foreign, M)}, outside this subtask's range [0, 63]`,
    );
  });
});

/** Fills a backend over all key groups with `n` random keys in each state kind. */
function filledBackend(keys: readonly KeyValue[]): HeapKeyedStateBackend {
  const b = fullBackend();
  const v = b.getState(new ValueStateDescriptor<string>('value'));
  const l = b.getListState(new ListStateDescriptor<number>('list'));
  const m = b.getMapState(new MapStateDescriptor<KeyValue, number>('map'));
  const r = b.getReducingState(new ReducingStateDescriptor<number>('sum', (x, y) => x + y));
  const a = b.getAggregatingState(new AggregatingStateDescriptor('avg', average));
  keys.forEach((k, i) => {
    b.setCurrentKeyComputingGroup(k);
    v.update(`v${i}`);
    l.add(i);
    m.put([i, 'x'], i);
    r.add(i);
    a.add(i);
  });
  b.clearCurrentKey();
  return b;
}

/** state name → entries, with keys in their stored form so that array keys compare by value. */
function contents(b: HeapKeyedStateBackend): Map<string, Map<unknown, unknown>> {
  return new Map(
    b.stateNames().map((n) => [n, new Map([...b.entries(n)].map(([k, v]) => [toStateKey(k), v]))]),
  );
}

describe('keyed state snapshots', () => {
  const keys = randomKeys(42, 400);

  it('restores into split ranges, each backend getting exactly its key groups', () => {
    const original = filledBackend(keys);
    const snap = original.snapshot();
    for (const p of [2, 3, 7]) {
      const parts = Array.from({ length: p }, (_, i) => {
        const b = new HeapKeyedStateBackend(KeyGroupRange.forSubtask(i, p, M), M);
        b.restore([snap]);
        return b;
      });
      const union = new Map<string, Map<unknown, unknown>>();
      parts.forEach((b, i) => {
        for (const name of b.stateNames()) {
          for (const [k] of b.entries(name)) {
            expect(b.range.contains(keyGroupOf(k, M)), `${name} ${show(k)} in subtask ${i}/${p}`).toBe(true);
          }
        }
        for (const [name, entries] of contents(b)) {
          const u = union.get(name) ?? new Map();
          for (const [k, v] of entries) {
            expect(u.has(k), `${name} ${show(k)} restored twice`).toBe(false);
            u.set(k, v);
          }
          union.set(name, u);
        }
      });
      expect(union).toEqual(contents(original));
    }
  });

  it('merges the snapshots of several subtasks back into one', () => {
    const original = filledBackend(keys);
    const halves = [0, 1].map((i) => {
      const b = new HeapKeyedStateBackend(KeyGroupRange.forSubtask(i, 2, M), M);
      b.restore([original.snapshot()]);
      return b.snapshot();
    });
    // Each half's snapshot holds only the groups of its range.
    halves.forEach((h, i) => {
      const range = KeyGroupRange.forSubtask(i, 2, M);
      for (const st of h.states)
        for (const kg of st.keyGroups) expect(range.contains(kg.keyGroup)).toBe(true);
    });
    const merged = fullBackend();
    merged.restore(halves);
    expect(contents(merged)).toEqual(contents(original));
  });

  it('snapshots group entries by key group and skip empty groups', () => {
    const b = filledBackend(['a', 'b', ['c', 1]]);
    const snap = b.snapshot();
    expect(snap.maxParallelism).toBe(M);
    expect(snap.states.map((s) => [s.name, s.kind])).toEqual([
      ['value', 'value'],
      ['list', 'list'],
      ['map', 'map'],
      ['sum', 'reducing'],
      ['avg', 'aggregating'],
    ]);
    const value = snap.states[0]!;
    const groups = value.keyGroups.map((g) => g.keyGroup);
    expect(groups).toEqual(
      [...new Set([keyGroupOf('a', M), keyGroupOf('b', M), keyGroupOf(['c', 1], M)])].sort((x, y) => x - y),
    );
    for (const g of value.keyGroups) {
      expect([...g.entries].length).toBeGreaterThan(0);
      for (const [k] of g.entries) expect(keyGroupOf(fromStateKey(k), M)).toBe(g.keyGroup);
    }
  });

  it('is detached from live state in both directions', () => {
    const b = fullBackend();
    const l = b.getListState(new ListStateDescriptor<number>('l'));
    b.setCurrentKeyComputingGroup('k');
    l.add(1);
    const snap = b.snapshot();
    l.add(2);
    expect(snap.states[0]!.keyGroups[0]!.entries).toEqual([['k', [1]]]);

    const restored = fullBackend();
    const l2 = restored.getListState(new ListStateDescriptor<number>('l'));
    restored.restore([snap]);
    restored.setCurrentKeyComputingGroup('k');
    l2.add(3);
    expect(l2.get()).toEqual([1, 3]);
    expect(snap.states[0]!.keyGroups[0]!.entries).toEqual([['k', [1]]]);
  });

  it('refuses a snapshot of another max parallelism', () => {
    const snap = filledBackend(['a']).snapshot();
    const other = fullBackend(256);
    expect(() => other.restore([snap])).toThrow(StateAccessError);
    expect(() => other.restore([snap])).toThrow(
      'state was written with max parallelism 128 but the job now has 256; max parallelism cannot change across a restore',
    );
  });

  it('refuses a snapshot whose state has another kind than the registered one', () => {
    const snap = filledBackend(['a']).snapshot();
    const b = fullBackend();
    b.getListState(new ListStateDescriptor<string>('value'));
    expect(() => b.restore([snap])).toThrow(
      "state 'value' was value state in the snapshot but is list state now",
    );
  });

  it('keeps restored state the function has not asked for yet in the next snapshot', () => {
    const snap = filledBackend(['a', 'b']).snapshot();
    const b = fullBackend();
    b.restore([snap]);
    expect(b.stateNames()).toEqual(['value', 'list', 'map', 'sum', 'avg']);
    expect(b.snapshot()).toEqual(snap);
  });

  it('takes decoded key groups (Maps) as its own without a copy, and merges them into groups it has', () => {
    const kg = keyGroupOf('a', M);
    expect(keyGroupOf('b', M)).not.toBe(kg); // two groups below: one empty, one with state
    const decoded = new Map<unknown, unknown>([['a', 1]]);
    const other = new Map<unknown, unknown>([['b', 2]]);
    const b = fullBackend();
    b.setCurrentKeyComputingGroup('b');
    const v = b.getState(new ValueStateDescriptor<number>('v'));
    v.update(20); // key group of 'b' exists: the restored map is merged into it
    b.setCurrentKeyComputingGroup('z');
    v.update(26);
    b.clearCurrentKey();
    b.restore(
      [
        {
          maxParallelism: M,
          states: [
            {
              name: 'v',
              kind: 'value',
              keyGroups: [
                { keyGroup: kg, entries: decoded },
                { keyGroup: keyGroupOf('b', M), entries: other },
              ],
            },
          ],
        },
      ],
      { copy: false },
    );
    const live = new Map(b.entries('v'));
    expect(live.get('a')).toBe(1);
    expect(live.get('b')).toBe(2);
    expect(live.get('z')).toBe(26);
    // Adopted: the table writes to the map it was handed (a restore's maps are not used again).
    b.setCurrentKeyComputingGroup('a');
    v.update(5);
    expect(decoded.get('a')).toBe(5);
    expect(other.size).toBe(1);
    // With a copy (the default), the snapshot stays detached.
    const kept = new Map<unknown, unknown>([['a', 1]]);
    const c = fullBackend();
    c.restore([
      {
        maxParallelism: M,
        states: [{ name: 'v', kind: 'value', keyGroups: [{ keyGroup: kg, entries: kept }] }],
      },
    ]);
    c.setCurrentKeyComputingGroup('a');
    c.getState(new ValueStateDescriptor<number>('v')).update(7);
    expect(kept.get('a')).toBe(1);
  });

  it('a handle asked for after restore reads and writes the restored state', () => {
    // A job restores keyed state in initializeState and functions ask for their handles in
    // open, so this order is the normal one. HeapKeyedStateBackend.restore() records names it
    // does not know yet with `handle: undefined`, and register() returns that stored handle
    // as it is, so getState (and every other kind) returns undefined after a restore.
    const b = fullBackend();
    b.setCurrentKeyComputingGroup('a');
    b.getState(new ValueStateDescriptor<number>('count')).update(3);
    const restored = fullBackend();
    restored.restore([b.snapshot()]);
    const h = restored.getState(new ValueStateDescriptor<number>('count'));
    expect(h).toBeDefined();
    restored.setCurrentKeyComputingGroup('a');
    expect(h.value()).toBe(3);
    h.update(4);
    expect(new Map(restored.entries('count'))).toEqual(new Map([['a', 4]]));
  });
});

describe('state keys', () => {
  it('round-trip every key', () => {
    const wrong: string[] = [];
    for (const key of randomKeys(8, 3000)) {
      const back = fromStateKey(toStateKey(key));
      // -0 inside an array comes back as 0; both are one key, so that is allowed.
      if (!sameKey(back, key)) wrong.push(`${show(key)} came back as ${show(back)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('store primitives as they are and arrays as one string per distinct key', () => {
    expect(toStateKey('plain')).toBe('plain');
    expect(toStateKey(42)).toBe(42);
    expect(toStateKey(5n)).toBe(5n);
    expect(toStateKey(true)).toBe(true);
    expect(toStateKey(['a', 1])).toBe(toStateKey(['a', 1]));
    expect(typeof toStateKey(['a', 1])).toBe('string');
    // Equal keys built independently give one state key, so a Map finds them.
    const a = randomKeys(9, 500);
    const b = randomKeys(9, 500);
    const differ = a.filter(
      (k, i) => !Object.is(toStateKey(k), toStateKey(b[i])) && !bothNaN(toStateKey(k), toStateKey(b[i])),
    );
    expect(differ.map(show)).toEqual([]);
  });

  it('never give two different keys one state key', () => {
    const distinct: unknown[] = [
      '1',
      1,
      1n,
      [1],
      ['1'],
      [1n],
      true,
      'true',
      [true],
      '',
      [''],
      [],
      [[]],
      [[], []],
      '\u0000',
      '\u0000x',
      ['\u0000'],
      '\u0000[1]',
      '[1]',
      '\u0000"x"',
      NaN,
      [NaN],
      'NaN',
      ['NaN'],
      Infinity,
      [Infinity],
      -Infinity,
      [-Infinity],
      ['Infinity'],
      [5n],
      ['5'],
      [5],
      ['{"$b":"5"}'],
      -1n,
      [-1n],
      2n ** 64n,
      [2n ** 64n],
      [[1], 2],
      [1, [2]],
    ];
    const encoded = distinct.map(toStateKey);
    const seen = new Map<unknown, unknown>();
    const collisions: string[] = [];
    distinct.forEach((k, i) => {
      const e = encoded[i];
      if (seen.has(e) && !sameKey(seen.get(e), k)) collisions.push(`${show(seen.get(e))} and ${show(k)}`);
      seen.set(e, k);
    });
    expect(collisions).toEqual([]);
  });
});

function bothNaN(a: unknown, b: unknown): boolean {
  return a !== a && b !== b;
}

/** One key by weir's rules: SameValueZero for primitives, element-wise for arrays. */
function sameKey(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameKey(x, b[i]));
  return a === b || bothNaN(a, b);
}
