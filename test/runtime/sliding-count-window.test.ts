// Sliding count windows (`countWindow(size, slide)`) through the keyed harness: every `slide`
// records of a key fire with its last `size` records (fewer at first, as in Flink), with reduce
// and aggregate, checked against a plain computation, across a snapshot restored at p=3 and p=1.
import { describe, expect, it } from 'vitest';
import type { CountWindowFunction } from '../../src/runtime/operators/count-window-operator.js';
import { KeyedOperatorTestHarness } from '../../src/testing/index.js';
import { Rng } from '../state/gen.js';

type Ev = { key: string; v: number };
const byKey = (e: Ev): string => e.key;

/** `key:v1+v2+…` of the records a firing covers. */
const listing: CountWindowFunction<Ev> = {
  kind: 'aggregate',
  aggregate: {
    createAccumulator: () => ({ key: '', vs: [] as number[] }),
    add: (e: Ev, acc: { key: string; vs: number[] }) => ({ key: e.key, vs: [...acc.vs, e.v] }),
    getResult: (acc: { key: string; vs: number[] }) => `${acc.key}:${acc.vs.join('+')}`,
  },
};

/** What sliding count windows over `evs` must emit, per key in order. */
function plain(evs: readonly Ev[], size: number, slide: number): string[] {
  const seen = new Map<string, number[]>();
  const out: string[] = [];
  for (const e of evs) {
    const vs = seen.get(e.key) ?? [];
    vs.push(e.v);
    seen.set(e.key, vs);
    if (vs.length % slide === 0) out.push(`${e.key}:${vs.slice(Math.max(0, vs.length - size)).join('+')}`);
  }
  return out;
}

function events(seed: number, n: number, keys: number): Ev[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => ({ key: `k${rng.int(0, keys - 1)}`, v: i }));
}

describe('sliding count windows', () => {
  it('fire every slide records of a key with its last size records', async () => {
    const h = KeyedOperatorTestHarness.forCountWindow<string, Ev, string>(3, listing, byKey, { slide: 2 });
    await h.open();
    h.processElements([1, 2, 3, 4, 5, 6, 7].map((v) => ({ key: 'a', v })));
    expect(h.output).toEqual(['a:1+2', 'a:2+3+4', 'a:4+5+6']);
  });

  it('with a reduce, and with a slide larger than the size', async () => {
    const sum: CountWindowFunction<Ev> = { kind: 'reduce', reduce: (a, b) => ({ key: a.key, v: a.v + b.v }) };
    const h = KeyedOperatorTestHarness.forCountWindow<string, Ev, Ev>(2, sum, byKey, { slide: 3 });
    await h.open();
    h.processElements([1, 2, 4, 8, 16, 32, 64].map((v) => ({ key: 'a', v })));
    expect(h.output.map((e) => e.v)).toEqual([2 + 4, 16 + 32]);
  });

  for (const [size, slide] of [
    [5, 2],
    [4, 4],
    [2, 3],
  ] as const)
    it(`countWindow(${size}, ${slide}) gives the plain computation's output across a snapshot restored at p=3 and p=1`, async () => {
      const evs = events(size * 10 + slide, 3000, 11);
      const half = 1333;
      const h = KeyedOperatorTestHarness.forCountWindow<string, Ev, string>(size, listing, byKey, { slide });
      await h.open();
      h.processElements(evs.slice(0, half));
      const before = h.takeOutput();
      const snapshot = h.snapshot(1);
      await h.close();
      for (const p of [3, 1]) {
        const out = [...before];
        for (let i = 0; i < p; i++) {
          const r = KeyedOperatorTestHarness.forCountWindow<string, Ev, string>(size, listing, byKey, {
            slide,
            parallelism: p,
            subtaskIndex: i,
          });
          await r.restore([snapshot]);
          r.processElements(evs.slice(half).filter((e) => r.ownsKey(e.key)));
          out.push(...r.output);
          await r.close();
        }
        expect(out.sort()).toEqual(plain(evs, size, slide).sort());
      }
    });

  it('keep at most size + slide − 1 records of a key', async () => {
    const h = KeyedOperatorTestHarness.forCountWindow<string, Ev, string>(3, listing, byKey, { slide: 2 });
    await h.open();
    h.processElements(events(1, 100, 1));
    for (const s of h.state<{ records: Ev[] }>('_sliding_count_window').values())
      expect(s.records.length).toBeLessThanOrEqual(4);
  });
});
