// Window evictors through the keyed harness: CountEvictor and TimeEvictor before and after the
// function, with out-of-order and late records, with reduce (which then runs when the window
// fires, over what is left) and with session merging, and a snapshot mid-window restored at
// another parallelism (the records' timestamps are in it).
import { describe, expect, it } from 'vitest';
import { CountEvictor, TimeEvictor, type Evictor } from '../../src/api/evictors.js';
import { CountTrigger } from '../../src/api/triggers.js';
import { EventTimeSessionWindows, TumblingEventTimeWindows } from '../../src/api/windows.js';
import { StreamExecutionEnvironment } from '../../src/api/environment.js';
import { GraphValidationError } from '../../src/graph/transformation.js';
import type { ProcessWindowFunction } from '../../src/runtime/operators/window-operator.js';
import { KeyedOperatorTestHarness } from '../../src/testing/index.js';
import { byKey, type Ev } from './window-events.js';

/** `start,key,values in the order the function gets them`. */
const listWindow: ProcessWindowFunction<Ev, string, string> = {
  process(key, ctx, events, out) {
    out.collect(`${ctx.window.start},${key},${events.map((e) => e.v).join('+')}`);
  },
};

const feed = (
  h: KeyedOperatorTestHarness<string, Ev, unknown>,
  records: ReadonlyArray<readonly [string, number, number]>,
) => {
  for (const [key, t, v] of records) h.processElement({ key, t, v }, t);
};

describe('window evictors', () => {
  it('CountEvictor keeps the last n arrivals before the function; what it evicts is gone for the late re-firing', async () => {
    const h = KeyedOperatorTestHarness.forWindow(
      TumblingEventTimeWindows.of(100),
      { kind: 'process', process: listWindow },
      byKey,
      { evictor: CountEvictor.of(2), allowedLateness: 50 },
    );
    await h.open();
    feed(h, [
      ['a', 40, 1],
      ['a', 90, 2],
      ['a', 10, 4], // out of order: arrival order counts, not timestamps
      ['b', 5, 100],
    ]);
    h.processWatermark(99);
    expect([...h.takeOutput()].sort()).toEqual(['0,a,2+4', '0,b,100']);
    h.processElement({ key: 'a', t: 20, v: 8 }, 20); // late within the lateness: the kept 2 and 4, then 8
    expect(h.takeOutput()).toEqual(['0,a,4+8']);
    h.processWatermark(149);
    h.processElement({ key: 'a', t: 30, v: 16 }, 30); // past the lateness
    expect(h.output).toEqual([]);
    expect(h.lateRecordsDropped).toBe(1);
  });

  it('CountEvictor after the function: the function sees every record, the window keeps the last n', async () => {
    const h = KeyedOperatorTestHarness.forWindow(
      TumblingEventTimeWindows.of(100),
      { kind: 'process', process: listWindow },
      byKey,
      { evictor: CountEvictor.of(1, true), trigger: CountTrigger.of(2) },
    );
    await h.open();
    feed(h, [
      ['a', 40, 1],
      ['a', 90, 2],
      ['a', 10, 4],
      ['a', 11, 8],
    ]);
    expect(h.output).toEqual(['0,a,1+2', '0,a,2+4+8']);
  });

  it('TimeEvictor keeps the records within its span of the newest timestamp, with a reduce run at firing time', async () => {
    const h = KeyedOperatorTestHarness.forWindow<string, Ev, Ev>(
      TumblingEventTimeWindows.of(100),
      { kind: 'reduce', reduce: (a, b) => ({ key: a.key, t: Math.max(a.t, b.t), v: a.v + b.v }) },
      byKey,
      { evictor: TimeEvictor.of(20), trigger: CountTrigger.of(3) },
    );
    await h.open();
    feed(h, [
      ['a', 70, 1],
      ['a', 5, 2],
      ['a', 55, 4], // newest 70: keeps > 50, so 70 and 55
    ]);
    expect(h.takeOutput()).toEqual([{ key: 'a', t: 70, v: 5 }]);
    // An evicting window stores records, never an accumulator.
    const stored = h.stateFor<Map<string, { elements?: Ev[]; acc?: unknown; timestamps?: number[] }>>(
      '_windows',
      'a',
    );
    expect(stored?.get('0|100')).toMatchObject({ elements: [{ v: 1 }, { v: 4 }], timestamps: [70, 55] });
    expect(stored?.get('0|100')?.acc).toBeUndefined();
    feed(h, [
      ['a', 99, 8],
      ['a', 60, 16],
      ['a', 80, 32], // newest 99: keeps > 79, so 99 and 80
    ]);
    expect(h.output).toEqual([{ key: 'a', t: 99, v: 40 }]);
  });

  it('an evicting window restores mid-window at p=2 with its records and their timestamps', async () => {
    const make = (o = {}) =>
      KeyedOperatorTestHarness.forWindow(
        TumblingEventTimeWindows.of(100),
        { kind: 'process', process: listWindow },
        byKey,
        { evictor: TimeEvictor.of(30), ...o },
      );
    const h = make();
    await h.open();
    feed(h, [
      ['a', 10, 1],
      ['a', 60, 2],
      ['b', 150, 4],
    ]);
    const snapshot = h.snapshot(1);
    await h.close();
    const outs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = make({ parallelism: 2, subtaskIndex: i });
      await r.restore([snapshot]);
      if (r.ownsKey('a')) feed(r, [['a', 45, 8]]); // newest stays 60: keeps > 30, so 60 and 45
      if (r.ownsKey('b')) feed(r, [['b', 100, 16]]); // newest 150: keeps > 120
      r.processWatermark(1_000);
      outs.push(...r.output);
      await r.close();
    }
    expect(outs.sort()).toEqual(['0,a,2+8', '100,b,4']);
  });

  it('session windows with an evictor merge their records and timestamps', async () => {
    const h = KeyedOperatorTestHarness.forWindow(
      EventTimeSessionWindows.withGap(10),
      {
        kind: 'aggregate',
        aggregate: {
          createAccumulator: () => 0,
          add: (e: Ev, n: number) => n + e.v,
          getResult: (n: number) => n,
        },
      },
      byKey,
      { evictor: TimeEvictor.of(15) },
    );
    await h.open();
    feed(h, [
      ['a', 100, 1],
      ['a', 118, 2],
      ['a', 109, 4], // bridges [100, 110) and [118, 128): newest 118 keeps > 103
    ]);
    h.processWatermark(1_000);
    expect(h.output).toEqual([6]);
  });

  it('an evictor returning something else than an array is named in the error; WindowedStream.evictor checks its argument', async () => {
    const bad = { evictBefore: () => undefined, evictAfter: (e: unknown) => e } as unknown as Evictor<Ev>;
    const h = KeyedOperatorTestHarness.forWindow(
      TumblingEventTimeWindows.of(10),
      { kind: 'process', process: listWindow },
      byKey,
      { evictor: bad },
    );
    await h.open();
    h.processElement({ key: 'a', t: 1, v: 1 }, 1);
    expect(() => h.processWatermark(100)).toThrow(/evictBefore returned undefined/);
    const keyed = new StreamExecutionEnvironment().fromSequence(1, 3).keyBy((n) => n);
    expect(() => keyed.window(TumblingEventTimeWindows.of(10)).evictor({} as Evictor<number>)).toThrow(
      GraphValidationError,
    );
  });
});
