// Window triggers through the keyed harness: the trigger path against the default path, each
// built-in trigger with out-of-order and late records, session merging of trigger state, timers
// shared by several windows of a key, and snapshots taken mid-window restored at another
// parallelism (trigger timers and state are in them).
import { describe, expect, it } from 'vitest';
import {
  ContinuousEventTimeTrigger,
  CountTrigger,
  EventTimeTrigger,
  ProcessingTimeTrigger,
  PurgingTrigger,
  TriggerResult,
  type Trigger,
} from '../../src/api/triggers.js';
import {
  EventTimeSessionWindows,
  SlidingEventTimeWindows,
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  type WindowAssigner,
} from '../../src/api/windows.js';
import { StreamExecutionEnvironment } from '../../src/api/environment.js';
import { GraphValidationError } from '../../src/graph/transformation.js';
import type { OperatorSubtaskState } from '../../src/runtime/stream-operator.js';
import type { WindowFunctionSpec } from '../../src/runtime/operators/window-operator.js';
import { KeyedOperatorTestHarness } from '../../src/testing/index.js';
import { byKey, describeWindow, events, type Ev } from './window-events.js';

const processSpec: WindowFunctionSpec<Ev, string, string> = { kind: 'process', process: describeWindow };
const sumSpec: WindowFunctionSpec<Ev, Ev, string> = {
  kind: 'reduce',
  reduce: (a, b) => ({ key: a.key, t: a.t, v: a.v + b.v }),
};

/** The lines without any that equals an earlier one. */
function withoutRepeats(lines: readonly string[]): string[] {
  const seen = new Set<string>();
  return lines.filter((l) => !seen.has(l) && seen.add(l) !== undefined);
}

/** Calls `inner` through a plain object, so the operator cannot recognise its default trigger and takes the trigger path. */
function delegating(inner: Trigger): Trigger {
  return {
    onElement: (e, t, w, ctx) => inner.onElement(e, t, w, ctx),
    onEventTime: (t, w, ctx) => inner.onEventTime(t, w, ctx),
    onProcessingTime: (t, w, ctx) => inner.onProcessingTime(t, w, ctx),
    canMerge: () => inner.canMerge?.() === true,
    onMerge: (w, ctx) => inner.onMerge?.(w, ctx),
    clear: (w, ctx) => inner.clear(w, ctx),
  };
}

interface Run {
  output: string[];
  timestamps: Array<number | undefined>;
  late: number;
}

/** Feeds `evs` with a watermark `lag` behind the largest timestamp, optionally through a snapshot at `cut` restored at parallelism `p`. */
async function run(
  assigner: WindowAssigner,
  trigger: Trigger | undefined,
  evs: readonly Ev[],
  lag: number,
  options: { allowedLateness?: number; cut?: number; p?: number } = {},
): Promise<Run> {
  const make = (o: { parallelism?: number; subtaskIndex?: number } = {}) =>
    KeyedOperatorTestHarness.forWindow(assigner, processSpec, byKey, {
      allowedLateness: options.allowedLateness ?? 0,
      trigger,
      ...o,
    });
  const cut = options.cut ?? evs.length;
  const h = make();
  await h.open();
  let wm = -Infinity;
  const feed = (x: KeyedOperatorTestHarness<string, Ev, string>, e: Ev) => {
    if (x.ownsKey(e.key)) x.processElement(e, e.t);
    wm = Math.max(wm, e.t - lag);
    x.processWatermark(wm);
  };
  for (const e of evs.slice(0, cut)) feed(h, e);
  const result: Run = {
    output: [...h.output],
    timestamps: [...h.outputTimestamps],
    late: h.lateRecordsDropped,
  };
  if (cut === evs.length) {
    h.processWatermark(Number.MAX_SAFE_INTEGER);
    return { output: [...h.output], timestamps: [...h.outputTimestamps], late: h.lateRecordsDropped };
  }
  const snapshot: OperatorSubtaskState = h.snapshot(1);
  await h.close();
  const p = options.p ?? 1;
  const wmAtCut = wm;
  for (let i = 0; i < p; i++) {
    const r = make({ parallelism: p, subtaskIndex: i });
    await r.restore([snapshot]);
    wm = wmAtCut;
    r.processWatermark(wm);
    for (const e of evs.slice(cut)) feed(r, e);
    r.processWatermark(Number.MAX_SAFE_INTEGER);
    result.output.push(...r.output);
    result.timestamps.push(...r.outputTimestamps);
    result.late += r.lateRecordsDropped;
    await r.close();
  }
  return result;
}

describe('window triggers', () => {
  const assigners: Array<[string, WindowAssigner]> = [
    ['tumbling', TumblingEventTimeWindows.of(100)],
    ['sliding', SlidingEventTimeWindows.of(60, 20)],
    ['session', EventTimeSessionWindows.withGap(15)],
  ];

  for (const [name, assigner] of assigners)
    it(`EventTimeTrigger on the trigger path gives the default's firings (${name}, late records, allowed lateness)`, async () => {
      const evs = events(11, 3000, 9, 100);
      const lag = 30; // records up to 100 behind: many are late, some beyond the lateness
      const def = await run(assigner, undefined, evs, lag, { allowedLateness: 15 });
      const trig = await run(assigner, delegating(EventTimeTrigger.create()), evs, lag, {
        allowedLateness: 15,
      });
      expect(def.late).toBeGreaterThan(0);
      expect(trig.late).toBe(def.late);
      const firings = (r: Run) => r.output.map((line, i) => `${line}@${r.timestamps[i]}`);
      // Each firing of a window is new: by its end timer once, then once per late record.
      expect(withoutRepeats(firings(trig))).toEqual(firings(trig));
      // The default path fires each window as often (a window a late record opens within the
      // lateness fires at once, and not again from an end timer in the past) and the same.
      expect(withoutRepeats(firings(def))).toEqual(firings(def));
      // Firings of different keys at one watermark come in timer-heap order, which merging
      // sessions register differently on the two paths: compared sorted.
      expect([...firings(trig)].sort()).toEqual([...firings(def)].sort());
    });

  it('ProcessingTimeTrigger on the trigger path fires processing-time windows as the default does', async () => {
    const outputs: string[][] = [];
    for (const trigger of [undefined, delegating(ProcessingTimeTrigger.create())]) {
      const h = KeyedOperatorTestHarness.forWindow(
        TumblingProcessingTimeWindows.of(1000),
        processSpec,
        byKey,
        {
          processingTime: 5_000,
          trigger,
        },
      );
      await h.open();
      h.processElement({ key: 'a', t: 0, v: 1 });
      h.setProcessingTime(5_500);
      h.processElement({ key: 'a', t: 0, v: 2 });
      h.processElement({ key: 'b', t: 0, v: 4 });
      h.setProcessingTime(5_998);
      expect(h.output).toEqual([]);
      h.setProcessingTime(6_500);
      h.processElement({ key: 'a', t: 0, v: 8 });
      h.setProcessingTime(7_000);
      outputs.push([...h.output]);
      expect(h.stateNames()).toContain('_windows');
      expect(h.state('_windows').size).toBe(0);
    }
    expect(outputs[0]).toEqual(['5000,a,2,3', '5000,b,1,4', '6000,a,1,8']);
    expect(outputs[1]).toEqual(outputs[0]);
  });

  it('the trigger path restores mid-window at p=3 and p=1 with the same output as without a restore', async () => {
    const evs = events(12, 2400, 13, 40);
    const trigger = delegating(EventTimeTrigger.create());
    const whole = await run(TumblingEventTimeWindows.of(200), trigger, evs, 30, { allowedLateness: 20 });
    for (const p of [3, 1]) {
      const cut = await run(TumblingEventTimeWindows.of(200), trigger, evs, 30, {
        allowedLateness: 20,
        cut: 1100,
        p,
      });
      expect([...cut.output].sort()).toEqual([...whole.output].sort());
      expect(cut.late).toBe(whole.late);
    }
  });

  it('CountTrigger fires every n records of a window, keeps its contents, never fires by time, and restores its count at p=2', async () => {
    const make = (o = {}) =>
      KeyedOperatorTestHarness.forWindow(TumblingEventTimeWindows.of(100), processSpec, byKey, {
        trigger: CountTrigger.of(3),
        ...o,
      });
    const h = make();
    await h.open();
    // Out of order within the window [0, 100); b's window is [100, 200).
    for (const [key, t, v] of [
      ['a', 50, 1],
      ['a', 10, 2],
      ['b', 150, 100],
      ['a', 90, 4],
      ['a', 5, 8],
    ] as const)
      h.processElement({ key, t, v }, t);
    expect(h.takeOutput()).toEqual(['0,a,3,7']);
    h.processElement({ key: 'a', t: 1, v: 16 }, 1);
    const snapshot = h.snapshot(1); // a: 2 counted since the firing; b: 1
    await h.close();

    const outs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = make({ parallelism: 2, subtaskIndex: i });
      await r.restore([snapshot]);
      if (r.ownsKey('a')) r.processElement({ key: 'a', t: 2, v: 32 }, 2); // a's count reaches 3
      if (r.ownsKey('b')) {
        r.processElement({ key: 'b', t: 160, v: 200 }, 160);
        r.processElement({ key: 'b', t: 170, v: 400 }, 170); // b's reaches 3
      }
      r.processWatermark(1_000); // both windows end: no firing by time, and they are cleaned up
      if (r.ownsKey('a')) r.processElement({ key: 'a', t: 3, v: 64 }, 3); // too late
      outs.push(...r.output);
      expect(r.state('_windows').size).toBe(0);
      expect(r.lateRecordsDropped).toBe(r.ownsKey('a') ? 1 : 0);
      await r.close();
    }
    expect(outs.sort()).toEqual(['0,a,6,63', '100,b,3,700']);
  });

  it('PurgingTrigger.of(CountTrigger.of(2)) emits each pair once, with a reduce', async () => {
    const h = KeyedOperatorTestHarness.forWindow(TumblingEventTimeWindows.of(100), sumSpec, byKey, {
      trigger: PurgingTrigger.of(CountTrigger.of(2)),
    });
    await h.open();
    for (const [t, v] of [
      [30, 1],
      [20, 2],
      [99, 4],
      [0, 8],
      [50, 16],
    ])
      h.processElement({ key: 'a', t: t!, v: v! }, t);
    h.processWatermark(1_000);
    expect(h.output.map((e) => e.v)).toEqual([3, 12]); // the fifth record is purged with the window, unfired
    expect(h.outputTimestamps).toEqual([99, 99]);
  });

  it('ContinuousEventTimeTrigger fires early every interval and at the end; its timer and next firing survive a restore at p=2', async () => {
    const make = (o = {}) =>
      KeyedOperatorTestHarness.forWindow(TumblingEventTimeWindows.of(100), processSpec, byKey, {
        trigger: ContinuousEventTimeTrigger.of(30),
        ...o,
      });
    const h = make();
    await h.open();
    h.processElement({ key: 'a', t: 17, v: 1 }, 17); // first firing at 0 + 30
    h.processElement({ key: 'a', t: 5, v: 2 }, 5);
    h.processWatermark(29);
    expect(h.takeOutput()).toEqual([]);
    h.processWatermark(30);
    expect(h.takeOutput()).toEqual(['0,a,2,3']);
    h.processElement({ key: 'a', t: 40, v: 4 }, 40);
    h.processElement({ key: 'a', t: 12, v: 8 }, 12); // out of order, not late
    const snapshot = h.snapshot(1); // next firing at 60
    await h.close();
    const outs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = make({ parallelism: 2, subtaskIndex: i });
      await r.restore([snapshot]);
      r.processWatermark(59);
      expect(r.output).toEqual([]);
      r.processWatermark(60);
      if (r.ownsKey('a')) expect(r.takeOutput()).toEqual(['0,a,4,15']);
      if (r.ownsKey('a')) r.processElement({ key: 'a', t: 70, v: 16 }, 70);
      r.processWatermark(98); // the firing at 90
      if (r.ownsKey('a')) expect(r.takeOutput()).toEqual(['0,a,5,31']);
      r.processWatermark(99); // the window's end
      outs.push(...r.output);
      await r.close();
    }
    expect(outs).toEqual(['0,a,5,31']);
  });

  it('a timer several windows of a key registered fires each of them (sliding windows, ContinuousEventTimeTrigger)', async () => {
    const h = KeyedOperatorTestHarness.forWindow(SlidingEventTimeWindows.of(30, 10), processSpec, byKey, {
      trigger: ContinuousEventTimeTrigger.of(10),
    });
    await h.open();
    // t=5 is in [-20, 10), [-10, 20) and [0, 30); the last two both schedule their first firing at 10.
    h.processElement({ key: 'a', t: 5, v: 1 }, 5);
    h.processWatermark(9); // [-20, 10) ends
    expect(h.takeOutput()).toEqual(['-20,a,1,1']);
    h.processWatermark(10);
    expect([...h.takeOutput()].sort()).toEqual(['-10,a,1,1', '0,a,1,1']);
    h.processWatermark(20);
    expect([...h.takeOutput()].sort()).toEqual(['-10,a,1,1', '0,a,1,1']); // -10's end (19), 0's early firing (20)
    h.processWatermark(1_000);
    expect(h.output).toEqual(['0,a,1,1']);
    expect(h.state('_windows').size).toBe(0);
  });

  it('session windows merge their trigger state: CountTrigger counts the records of both sessions a bridge joins', async () => {
    const h = KeyedOperatorTestHarness.forWindow(EventTimeSessionWindows.withGap(10), processSpec, byKey, {
      trigger: CountTrigger.of(5),
    });
    await h.open();
    // Sessions [100, 115) (2 records) and [130, 140) (1); 112 extends the first to [100, 122) (3).
    for (const t of [100, 105, 130, 112]) h.processElement({ key: 'a', t, v: t }, t);
    expect(h.output).toEqual([]);
    h.processElement({ key: 'a', t: 121, v: 121 }, 121); // bridges them: 3 + 1 + 1
    expect(h.takeOutput()).toEqual(['100,a,5,568']);
    expect(h.stateFor<Map<string, unknown>>('_windows', 'a')?.size).toBe(1);
    h.processWatermark(1_000);
    expect(h.output).toEqual([]);
    expect(h.stateFor('_windows', 'a')).toBeUndefined();
  });

  it('a trigger returning something else than a TriggerResult is named in the error', async () => {
    const bad: Trigger = {
      onElement: () => undefined as unknown as TriggerResult,
      onEventTime: () => TriggerResult.CONTINUE,
      onProcessingTime: () => TriggerResult.CONTINUE,
      clear: () => undefined,
    };
    const h = KeyedOperatorTestHarness.forWindow(TumblingEventTimeWindows.of(10), processSpec, byKey, {
      trigger: bad,
    });
    await h.open();
    expect(() => h.processElement({ key: 'a', t: 1, v: 1 }, 1)).toThrow(/onElement returned undefined/);
  });

  it('WindowedStream.trigger rejects a trigger that cannot merge on session windows, and non-triggers', () => {
    const env = new StreamExecutionEnvironment();
    const keyed = env.fromSequence(1, 10).keyBy((n) => n % 2);
    const plain: Trigger = {
      onElement: () => 'CONTINUE',
      onEventTime: () => 'CONTINUE',
      onProcessingTime: () => 'CONTINUE',
      clear: () => undefined,
    };
    expect(() => keyed.window(EventTimeSessionWindows.withGap(10)).trigger(plain)).toThrow(
      GraphValidationError,
    );
    expect(() => keyed.window(EventTimeSessionWindows.withGap(10)).trigger(plain)).toThrow(/canMerge/);
    expect(() => keyed.window(TumblingEventTimeWindows.of(10)).trigger({} as Trigger)).toThrow(
      GraphValidationError,
    );
    expect(() => keyed.window(EventTimeSessionWindows.withGap(10)).trigger(CountTrigger.of(2))).not.toThrow();
    expect(() =>
      keyed
        .window(TumblingEventTimeWindows.of(10))
        .trigger(plain)
        .reduce((a, b) => a + b),
    ).not.toThrow();
  });
});
