// The window operator through the keyed harness: each window kind with out-of-order and late
// records, allowed lateness, session merging, and snapshots taken mid-window restored at another
// parallelism. Results are checked against a plain computation over the same records.
import { describe, expect, it } from 'vitest';
import {
  EventTimeSessionWindows,
  SlidingEventTimeWindows,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
} from '../../src/api/windows.js';
import { KeyedOperatorTestHarness } from '../../src/testing/index.js';
import { byKey, describeWindow, events, type Ev } from './window-events.js';
import { OutputTag } from '../../src/runtime/output-tag.js';

/** What tumbling windows of `size` over `evs` must produce. */
function plainTumbling(evs: readonly Ev[], size: number): string[] {
  const m = new Map<string, { n: number; s: number }>();
  for (const e of evs) {
    const k = `${Math.floor(e.t / size) * size},${e.key}`;
    const c = m.get(k) ?? { n: 0, s: 0 };
    c.n++;
    c.s += e.v;
    m.set(k, c);
  }
  return [...m].map(([k, c]) => `${k},${c.n},${c.s}`).sort();
}

describe('window operator', () => {
  it('tumbling event-time windows fire once each when the watermark passes their end, with out-of-order records', async () => {
    const evs = events(1, 2000, 7, 50);
    const h = KeyedOperatorTestHarness.forWindow(
      TumblingEventTimeWindows.of(100),
      { kind: 'process', process: describeWindow },
      byKey,
    );
    await h.open();
    let maxT = -Infinity;
    for (const e of evs) {
      h.processElement(e, e.t);
      maxT = Math.max(maxT, e.t);
      h.processWatermark(maxT - 51); // bounded out-of-orderness: no record is late
    }
    h.processWatermark(Number.MAX_SAFE_INTEGER);
    expect([...h.output].sort()).toEqual(plainTumbling(evs, 100));
    // Each result carries its window's last timestamp.
    for (const [i, line] of h.output.entries())
      expect(h.outputTimestamps[i]).toBe(Number(line.split(',')[0]) + 99);
  });

  it('incremental reduce and aggregate give the same results as process', async () => {
    const evs = events(2, 500, 3, 0);
    const reduce = KeyedOperatorTestHarness.forWindow<string, Ev, Ev>(
      TumblingEventTimeWindows.of(50),
      { kind: 'reduce', reduce: (a: Ev, b: Ev) => ({ key: a.key, t: a.t, v: a.v + b.v }) },
      byKey,
    );
    const aggregate = KeyedOperatorTestHarness.forWindow(
      TumblingEventTimeWindows.of(50),
      {
        kind: 'aggregate',
        aggregate: {
          createAccumulator: () => [0, 0] as [number, number],
          add: (e: Ev, acc: [number, number]) => [acc[0] + 1, acc[1] + e.v] as [number, number],
          getResult: (acc: [number, number]) => acc,
        },
        process: {
          process(key: string, ctx, [r], out) {
            const [n, s] = r as [number, number];
            out.collect(`${ctx.window.start},${key},${n},${s}`);
          },
        },
      },
      byKey,
    );
    await reduce.open();
    await aggregate.open();
    for (const e of evs) {
      reduce.processElement(e, e.t);
      aggregate.processElement(e, e.t);
    }
    reduce.processWatermark(Number.MAX_SAFE_INTEGER);
    aggregate.processWatermark(Number.MAX_SAFE_INTEGER);
    expect([...aggregate.output].sort()).toEqual(plainTumbling(evs, 50));
    const sums = plainTumbling(evs, 50)
      .map((l) => l.split(',')[3])
      .map(Number)
      .sort((a, b) => a - b);
    expect(reduce.output.map((e) => e.v).sort((a, b) => a - b)).toEqual(sums);
  });

  it('sliding windows put each record in size/slide windows', async () => {
    const h = KeyedOperatorTestHarness.forWindow(
      SlidingEventTimeWindows.of(30, 10),
      { kind: 'process', process: describeWindow },
      byKey,
    );
    await h.open();
    h.processElement({ key: 'a', t: 25, v: 1 }, 25);
    h.processElement({ key: 'a', t: 31, v: 2 }, 31);
    h.processWatermark(1000);
    expect([...h.output].sort()).toEqual(['0,a,1,1', '10,a,2,3', '20,a,2,3', '30,a,1,2'].sort());
  });

  it('session windows merge records closer than the gap, also when a late-arriving record bridges two sessions', async () => {
    const h = KeyedOperatorTestHarness.forWindow(
      EventTimeSessionWindows.withGap(10),
      { kind: 'process', process: describeWindow },
      byKey,
    );
    await h.open();
    for (const t of [100, 105, 130, 112]) h.processElement({ key: 'a', t, v: t }, t); // 112 joins 100–115 and reaches 122
    h.processElement({ key: 'b', t: 100, v: 1 }, 100);
    h.processWatermark(119);
    expect(h.takeOutput()).toEqual(['100,b,1,1']); // b's session [100, 110) closed
    h.processElement({ key: 'a', t: 121, v: 121 }, 121); // bridges [100, 122) and [130, 140)
    h.processWatermark(10_000);
    expect(h.output).toEqual(['100,a,5,568']);
  });

  it('a process window function emits to a side output with the window timestamp', async () => {
    const busy = new OutputTag<string>('busy');
    const h = KeyedOperatorTestHarness.forWindow(
      TumblingEventTimeWindows.of(10),
      {
        kind: 'process',
        process: {
          process(key: string, ctx, evs: readonly Ev[], out) {
            if (evs.length > 1) ctx.output(busy, `${key}@${ctx.window.start}`);
            else out.collect(key);
          },
        },
      },
      byKey,
    );
    await h.open();
    for (const [key, t] of [
      ['a', 1],
      ['a', 2],
      ['b', 3],
      ['b', 12],
      ['b', 15],
    ] as const)
      h.processElement({ key, t, v: 1 }, t);
    h.processWatermark(100);
    expect(h.output).toEqual(['b']);
    expect(h.sideOutput(busy)).toEqual(['a@0', 'b@10']);
    expect(h.sideOutputTimestamps(busy)).toEqual([9, 19]);
  });

  it('late records: re-fire within allowed lateness, dropped after it', async () => {
    const h = KeyedOperatorTestHarness.forWindow(
      TumblingEventTimeWindows.of(10),
      { kind: 'process', process: describeWindow },
      byKey,
      { allowedLateness: 5 },
    );
    await h.open();
    h.processElement({ key: 'a', t: 3, v: 1 }, 3);
    h.processWatermark(9);
    expect(h.takeOutput()).toEqual(['0,a,1,1']);
    h.processElement({ key: 'a', t: 4, v: 2 }, 4); // late, within lateness: fires again at once
    expect(h.takeOutput()).toEqual(['0,a,2,3']);
    h.processElement({ key: 'b', t: 5, v: 7 }, 5); // late, a window of its own within lateness: fires at once
    expect(h.takeOutput()).toEqual(['0,b,1,7']);
    h.processWatermark(14); // cleanup at 9 + 5; b's window does not fire a second time
    expect(h.takeOutput()).toEqual([]);
    h.processElement({ key: 'a', t: 5, v: 4 }, 5); // too late: dropped
    h.processWatermark(100);
    expect(h.output).toEqual([]);
    expect(h.stateFor('_windows', 'a')).toBeUndefined();
  });

  it('a snapshot in the middle of open windows restores at p=3 and p=1: every window fires exactly once', async () => {
    const evs = events(9, 3000, 23, 40);
    const half = 1500;
    const h = KeyedOperatorTestHarness.forWindow(
      TumblingEventTimeWindows.of(200),
      { kind: 'process', process: describeWindow },
      byKey,
    );
    await h.open();
    let maxT = -Infinity;
    for (const e of evs.slice(0, half)) {
      h.processElement(e, e.t);
      maxT = Math.max(maxT, e.t);
      h.processWatermark(maxT - 41);
    }
    const before = h.takeOutput();
    const snapshot = h.snapshot(1);
    await h.close();
    for (const p of [3, 1]) {
      const out = [...before];
      for (let i = 0; i < p; i++) {
        const r = KeyedOperatorTestHarness.forWindow(
          TumblingEventTimeWindows.of(200),
          { kind: 'process', process: describeWindow },
          byKey,
          {
            parallelism: p,
            subtaskIndex: i,
          },
        );
        await r.restore([snapshot]);
        let wm = -Infinity;
        for (const e of evs.slice(half)) {
          wm = Math.max(wm, e.t);
          if (r.ownsKey(e.key)) r.processElement(e, e.t);
          r.processWatermark(wm - 41);
        }
        r.processWatermark(Number.MAX_SAFE_INTEGER);
        out.push(...r.output);
        await r.close();
      }
      expect(out.sort()).toEqual(plainTumbling(evs, 200));
    }
  });

  it('processing-time windows fire as the clock passes their end', async () => {
    const h = KeyedOperatorTestHarness.forWindow(
      TumblingProcessingTimeWindows.of(1000),
      { kind: 'process', process: describeWindow },
      byKey,
      { processingTime: 5_000 },
    );
    await h.open();
    h.processElement({ key: 'a', t: 0, v: 1 });
    h.setProcessingTime(5_500);
    h.processElement({ key: 'a', t: 0, v: 2 });
    h.setProcessingTime(5_998);
    expect(h.output).toEqual([]);
    h.setProcessingTime(5_999);
    expect(h.output).toEqual(['5000,a,2,3']);
  });

  it('asks for timestamps when an event-time window gets a record without one', async () => {
    const h = KeyedOperatorTestHarness.forWindow(
      TumblingEventTimeWindows.of(10),
      { kind: 'process', process: describeWindow },
      byKey,
    );
    await h.open();
    expect(() => h.processElement({ key: 'a', t: 0, v: 1 })).toThrow(
      /need records with event timestamps: read them with env.fromSource\(source, WatermarkStrategy.*no assignTimestampsAndWatermarks$/,
    );
  });
});
