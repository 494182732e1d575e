import { describe, expect, it } from 'vitest';
import { ListStateDescriptor, MapStateDescriptor, StateAccessError } from '../../src/index.js';
import { redistributeOperatorState } from '../../src/checkpoint/redistribution.js';
import { OperatorStateStore } from '../../src/state/operator-state-store.js';
import type { OperatorStateMode, OperatorStateSnapshot } from '../../src/state/snapshot.js';
import { Rng } from './gen.js';

describe('OperatorStateStore', () => {
  it('snapshots split and union lists with their mode', () => {
    const s = new OperatorStateStore();
    const offsets = s.getListState(new ListStateDescriptor<number>('offsets'));
    const all = s.getUnionListState(new ListStateDescriptor<string>('all'));
    offsets.add(1);
    offsets.addAll([2, 3]);
    all.update(['x', 'y']);
    const format = { serializer: 'weir-cbor', version: 1 };
    expect(s.snapshot()).toEqual({
      states: [
        { name: 'offsets', mode: 'split', entries: [1, 2, 3], format },
        { name: 'all', mode: 'union', entries: ['x', 'y'], format },
      ],
    });
    all.clear();
    expect(all.get()).toEqual([]);
    expect(s.snapshot().states[1]!.entries).toEqual([]);
  });

  it('restores byte entries that are views into one read buffer as copies of their own bytes', () => {
    const payload = Buffer.alloc(8 << 20, 3); // as an operator-state section read from a file
    const entries = Array.from(
      { length: 100 },
      (_, i) => new Uint8Array(payload.buffer, payload.byteOffset + i * 1024, 1024),
    );
    const s = new OperatorStateStore();
    s.restore({
      states: [{ name: 'blobs', mode: 'split', entries, format: { serializer: 'weir-cbor', version: 1 } }],
    });
    const got = s.getListState(new ListStateDescriptor<Uint8Array>('blobs')).get();
    expect(got).toHaveLength(100);
    for (const b of got) {
      expect(b.byteLength).toBe(1024);
      expect(b.buffer.byteLength).toBe(1024);
      expect(b[0]).toBe(3);
    }
  });

  it('returns one list per name and refuses the other mode for it', () => {
    const s = new OperatorStateStore();
    const a = s.getListState(new ListStateDescriptor<number>('a'));
    a.add(1);
    expect(s.getListState(new ListStateDescriptor<number>('a')).get()).toEqual([1]);
    expect(() => s.getUnionListState(new ListStateDescriptor<number>('a'))).toThrow(StateAccessError);
    expect(() => s.getUnionListState(new ListStateDescriptor<number>('a'))).toThrow(
      "operator state 'a' is already registered as split list state, not union",
    );
    const u = new OperatorStateStore();
    u.getUnionListState(new ListStateDescriptor<number>('u'));
    expect(() => u.getListState(new ListStateDescriptor<number>('u'))).toThrow(
      'already registered as union list state, not split',
    );
  });

  it('snapshots are copies', () => {
    const s = new OperatorStateStore();
    const l = s.getListState(new ListStateDescriptor<{ pos: number }>('l'));
    const item = { pos: 1 };
    l.add(item);
    const snap = s.snapshot();
    item.pos = 2;
    l.add({ pos: 3 });
    expect(snap.states[0]!.entries).toEqual([{ pos: 1 }]);
  });

  it('restores entries into the lists the function asks for, as copies', () => {
    const snap: OperatorStateSnapshot = { states: [{ name: 'l', mode: 'split', entries: [{ pos: 7 }] }] };
    const s = new OperatorStateStore();
    expect(s.isRestored).toBe(false);
    s.restore(snap);
    expect(s.isRestored).toBe(true);
    const l = s.getListState(new ListStateDescriptor<{ pos: number }>('l'));
    expect(l.get()).toEqual([{ pos: 7 }]);
    (l.get()[0] as { pos: number }).pos = 8;
    l.add({ pos: 9 });
    expect(snap.states[0]!.entries).toEqual([{ pos: 7 }]);
    expect(s.getListState(new ListStateDescriptor<{ pos: number }>('new')).get()).toEqual([]);
  });

  it('is restored even from a snapshot that gave it nothing', () => {
    // A subtask added by a rescale gets no entries, but it still must not act as a fresh start.
    const s = new OperatorStateStore();
    s.restore({ states: [] });
    expect(s.isRestored).toBe(true);
  });

  it('keeps restored state that this version of the function no longer asks for', () => {
    const s = new OperatorStateStore();
    s.restore({
      states: [
        { name: 'old', mode: 'union', entries: ['kept'] },
        { name: 'l', mode: 'split', entries: [1] },
      ],
    });
    s.getListState(new ListStateDescriptor<number>('l')).add(2);
    expect(s.snapshot()).toEqual({
      states: [
        { name: 'l', mode: 'split', entries: [1, 2], format: { serializer: 'weir-cbor', version: 1 } },
        { name: 'old', mode: 'union', entries: ['kept'] },
      ],
    });
  });

  it('keeps broadcast state as a map, snapshotted as [key, value] pairs, tuple keys included', () => {
    const s = new OperatorStateStore();
    const rules = s.getBroadcastState(new MapStateDescriptor<string | [string, number], number>('rules'));
    rules.put('a', 1);
    rules.put(['b', 2], 2);
    rules.putAll([['c', 3]]);
    rules.remove('c');
    expect(rules.get(['b', 2])).toBe(2);
    expect(rules.contains('a')).toBe(true);
    expect([...rules.keys()]).toEqual(['a', ['b', 2]]);
    expect(s.snapshot()).toEqual({
      states: [
        {
          name: 'rules',
          mode: 'broadcast',
          entries: [
            ['a', 1],
            [['b', 2], 2],
          ],
          format: { serializer: 'weir-cbor', version: 1 },
        },
      ],
    });
    const restored = new OperatorStateStore();
    restored.restore(s.snapshot());
    const again = restored.getBroadcastState(
      new MapStateDescriptor<string | [string, number], number>('rules'),
    );
    expect([...again.entries()]).toEqual([
      ['a', 1],
      [['b', 2], 2],
    ]);
    expect(again.get(['b', 2])).toBe(2);
  });

  it('refuses to restore state under another mode than it was written with', () => {
    const s = new OperatorStateStore();
    s.restore({ states: [{ name: 'x', mode: 'split', entries: [1] }] });
    expect(() => s.getBroadcastState(new MapStateDescriptor<string, number>('x'))).toThrow(
      "operator state 'x' was split list state in the snapshot and cannot be restored as broadcast state",
    );
    expect(() => s.getUnionListState(new ListStateDescriptor<number>('x'))).toThrow(
      /cannot be restored as union/,
    );
    const b = new OperatorStateStore();
    b.getBroadcastState(new MapStateDescriptor<string, number>('b'));
    expect(() => b.getListState(new ListStateDescriptor<number>('b'))).toThrow(
      "operator state 'b' is already registered as broadcast state, not split list state",
    );
  });
});

/** The old subtasks' snapshots: each holds a slice of 'split' and of 'union', some only one. */
function oldSubtasks(rng: Rng, p: number): OperatorStateSnapshot[] {
  return Array.from({ length: p }, (_, i) => {
    const states: OperatorStateSnapshot['states'] = [];
    const make = (name: string, mode: OperatorStateMode): void => {
      const n = rng.pick([0, 0, 1, 2, 3, 7, 20]);
      states.push({ name, mode, entries: Array.from({ length: n }, (_, j) => `${name}/${i}/${j}`) });
    };
    if (rng.bool(0.9)) make('split', 'split');
    if (rng.bool(0.9)) make('union', 'union');
    if (i === 0) make('first-only', 'split');
    return { states };
  });
}

function entriesOf(snaps: readonly OperatorStateSnapshot[], name: string): unknown[] {
  return snaps.flatMap((s) => s.states.find((st) => st.name === name)?.entries ?? []);
}

describe('redistributeOperatorState', () => {
  it('gives each new subtask a contiguous share of split lists, every entry exactly once, in order', () => {
    const rng = new Rng(17);
    for (let p = 1; p <= 8; p++) {
      for (let q = 1; q <= 8; q++) {
        if (p === q) continue;
        for (let round = 0; round < 5; round++) {
          const old = oldSubtasks(rng, p);
          const out = redistributeOperatorState(old, q);
          expect(out).toHaveLength(q);
          for (const name of ['split', 'first-only']) {
            const before = entriesOf(old, name);
            // Concatenating the new subtasks' parts in order gives back the old lists: nothing is
            // lost, duplicated or reordered.
            expect(entriesOf(out, name), `${name} ${p} -> ${q}`).toEqual(before);
            const sizes = out.map((s) => s.states.find((st) => st.name === name)?.entries.length ?? 0);
            expect(
              Math.max(...sizes) - Math.min(...sizes),
              `${name} ${p} -> ${q} sizes ${sizes}`,
            ).toBeLessThanOrEqual(1);
            for (const s of out)
              expect(s.states.find((st) => st.name === name)?.mode ?? 'split').toBe('split');
          }
        }
      }
    }
  });

  it('gives every new subtask all entries of union lists', () => {
    const rng = new Rng(23);
    for (let p = 1; p <= 6; p++) {
      for (let q = 1; q <= 6; q++) {
        if (p === q) continue;
        const old = oldSubtasks(rng, p);
        const all = entriesOf(old, 'union');
        const out = redistributeOperatorState(old, q);
        for (const s of out) {
          const u = s.states.find((st) => st.name === 'union');
          if (all.length > 0 || u !== undefined)
            expect(u).toEqual({ name: 'union', mode: 'union', entries: all });
        }
      }
    }
  });

  it('keeps each subtask its own split lists when the parallelism is unchanged', () => {
    const rng = new Rng(29);
    for (let p = 1; p <= 6; p++) {
      const old = oldSubtasks(rng, p).map((s) => ({ states: s.states.filter((st) => st.mode === 'split') }));
      const out = redistributeOperatorState(old, p);
      expect(out).toEqual(old);
    }
  });

  it('deals out a small list to the first subtasks in order', () => {
    const old: OperatorStateSnapshot[] = [
      { states: [{ name: 's', mode: 'split', entries: ['a', 'b', 'c'] }] },
      { states: [{ name: 's', mode: 'split', entries: ['d', 'e'] }] },
    ];
    const parts = redistributeOperatorState(old, 3).map((s) => s.states[0]!.entries);
    expect(parts).toEqual([['a'], ['b', 'c'], ['d', 'e']]);
    const grown = redistributeOperatorState(old, 7).map((s) => s.states[0]!.entries);
    expect(grown.flat()).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(grown.filter((e) => e.length === 1)).toHaveLength(5);
  });

  it('gives every new subtask the broadcast state of the first old subtask that has it, at any parallelism', () => {
    const pairs = [
      ['a', 1],
      ['b', 2],
    ];
    const old: OperatorStateSnapshot[] = [
      { states: [{ name: 'l', mode: 'split', entries: [1] }] },
      { states: [{ name: 'r', mode: 'broadcast', entries: pairs }] },
      { states: [{ name: 'r', mode: 'broadcast', entries: pairs }] },
    ];
    for (const q of [1, 2, 3, 5]) {
      const out = redistributeOperatorState(old, q);
      for (const sub of out)
        expect(sub.states.find((st) => st.name === 'r')).toEqual({
          name: 'r',
          mode: 'broadcast',
          entries: pairs,
        });
    }
  });

  it('refuses a snapshot whose subtasks disagree on the mode of a state', () => {
    const old: OperatorStateSnapshot[] = [
      { states: [{ name: 'x', mode: 'split', entries: [1] }] },
      { states: [{ name: 'x', mode: 'union', entries: [2] }] },
    ];
    expect(() => redistributeOperatorState(old, 3)).toThrow(
      /'x' is split state in one subtask of the snapshot and union state/,
    );
  });

  it('gives union lists whole to every subtask at unchanged parallelism too', () => {
    // getUnionListState's contract is that "every subtask receives the union of all subtasks'
    // lists on restore", which is also Flink's (RoundRobinOperatorStateRepartitioner unions
    // UNION state when the parallelism is unchanged). redistributeOperatorState returns the old
    // snapshots as they are when old.length === newParallelism, so a function relying on union
    // state sees everything after a rescale but only its own part after a plain restore.
    const old: OperatorStateSnapshot[] = [
      { states: [{ name: 'u', mode: 'union', entries: ['a'] }] },
      { states: [{ name: 'u', mode: 'union', entries: ['b'] }] },
    ];
    for (const s of redistributeOperatorState(old, 2)) expect(s.states[0]!.entries).toEqual(['a', 'b']);
  });
});
