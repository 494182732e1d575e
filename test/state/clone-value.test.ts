import { describe, expect, it } from 'vitest';
import { ValueStateDescriptor } from '../../src/index.js';
import { cloneValue } from '../../src/state/clone-value.js';
import { HeapKeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange, keyGroupOf } from '../../src/state/key-group.js';

describe('cloneValue', () => {
  it('copies only the bytes a view shows, keeping its type', () => {
    const big = Buffer.alloc(1 << 20, 7);
    const views: ArrayBufferView[] = [
      new Uint8Array(big.buffer, big.byteOffset + 1000, 1024),
      big.subarray(5000, 5100),
      new Float64Array(big.buffer, big.byteOffset + 8 * 100, 10),
      new DataView(big.buffer, big.byteOffset + 3, 17),
    ];
    for (const v of views) {
      const c = cloneValue(v);
      expect(c.constructor).toBe(v.constructor);
      expect(c.byteLength).toBe(v.byteLength);
      expect(c.buffer.byteLength).toBe(v.byteLength);
      expect(c.buffer).not.toBe(v.buffer);
      expect(Buffer.from(c.buffer, c.byteOffset, c.byteLength)).toEqual(
        Buffer.from(v.buffer, v.byteOffset, v.byteLength),
      );
    }
    const c = cloneValue(views[0]) as Uint8Array;
    c[0] = 1;
    expect(big[1000]).toBe(7);
  });

  it('deep-copies plain objects, arrays, Maps, Sets and Dates, keeping shared references and cycles', () => {
    const shared = { n: 1 };
    const o: Record<string, unknown> = {
      a: [1, 'x', shared, [2, 3]],
      m: new Map<unknown, unknown>([
        ['k', shared],
        [shared, 'as a key'],
      ]),
      s: new Set([shared, 2]),
      d: new Date(12345),
      b: 10n,
      u: undefined,
      nul: null,
    };
    o['self'] = o;
    Object.defineProperty(o, '__proto__', {
      value: { own: true },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    const c = cloneValue(o);
    expect(c).not.toBe(o);
    expect(c['self']).toBe(c);
    const ca = c['a'] as unknown[];
    const cm = c['m'] as Map<unknown, unknown>;
    const cs = c['s'] as Set<unknown>;
    expect(ca[2]).not.toBe(shared);
    expect(ca[2]).toEqual({ n: 1 });
    expect(cm.get('k')).toBe(ca[2]);
    expect(cm.get(ca[2])).toBe('as a key');
    expect(cs.has(ca[2])).toBe(true);
    expect(c['d']).toEqual(new Date(12345));
    expect(c['d']).not.toBe(o['d']);
    expect(c['b']).toBe(10n);
    expect('u' in c && c['u'] === undefined).toBe(true);
    expect(Object.getPrototypeOf(c)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(c, '__proto__')?.value).toEqual({ own: true });
    shared.n = 2;
    expect(ca[2]).toEqual({ n: 1 });
  });

  it('keeps holes, and copies anything else as structuredClone does', () => {
    const holey = [1, , 3];
    const c = cloneValue(holey);
    expect(1 in c).toBe(false);
    expect(c).toHaveLength(3);
    class Point {
      constructor(readonly x: number) {}
    }
    expect(cloneValue(new Point(3))).toEqual(structuredClone(new Point(3)));
    const f = (): number => 1;
    expect(cloneValue({ f }).f).toBe(f); // shared, as every non-object is
    expect(cloneValue(5)).toBe(5);
    expect(cloneValue('s')).toBe('s');
  });
});

describe('copy-on-write of restored byte values', () => {
  it('copies a value restored as a view into a large read buffer by its own bytes only', () => {
    const M = 16;
    const read = Buffer.alloc(64 << 20, 9); // as a prepared read's slab: values are views into it
    const value = new Uint8Array(read.buffer, read.byteOffset + 4096, 1024);
    const b = new HeapKeyedStateBackend(KeyGroupRange.forSubtask(0, 1, M), M);
    const kg = keyGroupOf('k', M);
    b.restore(
      [
        {
          maxParallelism: M,
          states: [
            {
              name: 'v',
              kind: 'value',
              format: { serializer: 'weir-cbor', version: 1 },
              keyGroups: [{ keyGroup: kg, entries: new Map([['k', value]]) }],
            },
          ],
        },
      ],
      { copy: false },
    );
    const s = b.getState(new ValueStateDescriptor<Uint8Array>('v'));
    const cap = b.capture();
    b.setCurrentKeyComputingGroup('k');
    const live = s.value()!;
    expect(live).not.toBe(value); // copied on write: the capture still holds the original
    expect(live.byteLength).toBe(1024);
    expect(live.buffer.byteLength).toBe(1024);
    expect(live[0]).toBe(9);
    cap.release();
  });
});

describe('cloneValue of typed-array subclasses', () => {
  it('gives the standard array, whatever the subclass calls itself', () => {
    class Tagged extends Uint8Array {
      override get [Symbol.toStringTag](): 'Uint8Array' {
        return 'T' as 'Uint8Array';
      }
    }
    const t = new Tagged(4);
    t[1] = 5;
    const c = cloneValue(t);
    expect(Object.getPrototypeOf(c)).toBe(Uint8Array.prototype);
    expect([...c]).toEqual([0, 5, 0, 0]);
  });
});
