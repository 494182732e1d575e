// Late records of a window operator through the keyed harness: those too late for every window
// they belong to go to the late-data side output (with their own timestamps) when one is given,
// and are dropped and counted when not; a record still in time for one of its windows is neither.
import { describe, expect, it } from 'vitest';
import { CountTrigger } from '../../src/api/triggers.js';
import {
  EventTimeSessionWindows,
  SlidingEventTimeWindows,
  TumblingEventTimeWindows,
  type WindowAssigner,
} from '../../src/api/windows.js';
import { StreamExecutionEnvironment } from '../../src/api/environment.js';
import { GraphValidationError } from '../../src/graph/transformation.js';
import { OutputTag } from '../../src/runtime/output-tag.js';
import type { ProcessWindowFunction } from '../../src/runtime/operators/window-operator.js';
import type { Trigger } from '../../src/runtime/window-trigger.js';
import { KeyedOperatorTestHarness } from '../../src/testing/index.js';
import { byKey, type Ev } from './window-events.js';
import { Rng } from '../state/gen.js';

const describeWindow: ProcessWindowFunction<Ev, string, string> = {
  process(key, ctx, events, out) {
    out.collect(`${ctx.window.start},${key},${events.length}`);
  },
};

function harness(assigner: WindowAssigner, o: { lateness?: number; tag?: OutputTag<Ev>; trigger?: Trigger }) {
  return KeyedOperatorTestHarness.forWindow(assigner, { kind: 'process', process: describeWindow }, byKey, {
    allowedLateness: o.lateness ?? 0,
    sideOutputLateData: o.tag,
    trigger: o.trigger,
  });
}

describe('late records of windows', () => {
  it('go to the late-data side output with their timestamps, and are not counted as dropped', async () => {
    const late = new OutputTag<Ev>('late');
    const h = harness(TumblingEventTimeWindows.of(10), { lateness: 5, tag: late });
    await h.open();
    h.processElement({ key: 'a', t: 3, v: 1 }, 3);
    h.processWatermark(9);
    h.processElement({ key: 'a', t: 4, v: 2 }, 4); // late, within the lateness: re-fires, not side output
    h.processWatermark(14); // [0, 10) cleaned up at 9 + 5
    h.processElement({ key: 'a', t: 5, v: 4 }, 5); // too late
    h.processElement({ key: 'b', t: 0, v: 8 }, 0); // too late, and its window never existed
    h.processElement({ key: 'b', t: 10, v: 16 }, 10); // in time
    h.processWatermark(100);
    expect(h.output).toEqual(['0,a,1', '0,a,2', '10,b,1']);
    expect(h.sideOutput(late)).toEqual([
      { key: 'a', t: 5, v: 4 },
      { key: 'b', t: 0, v: 8 },
    ]);
    expect(h.sideOutputTimestamps(late)).toEqual([5, 0]);
    expect(h.lateRecordsDropped).toBe(0);
    expect(h.sideOutput(new OutputTag<Ev>('other'))).toEqual([]);
  });

  it('without a side output they are dropped and counted, exactly those a plain computation finds late', async () => {
    // Random disorder against a watermark 20 behind, windows of 50 kept 10 longer.
    const rng = new Rng(5);
    const withTag = harness(TumblingEventTimeWindows.of(50), {
      lateness: 10,
      tag: new OutputTag<Ev>('late'),
    });
    const withoutTag = harness(TumblingEventTimeWindows.of(50), { lateness: 10 });
    await withTag.open();
    await withoutTag.open();
    const expected: Ev[] = [];
    let wm = -Infinity;
    let t = 0;
    for (let i = 0; i < 2000; i++) {
      t += rng.int(0, 5);
      const e = { key: `k${rng.int(0, 4)}`, t: t - rng.int(0, 90), v: i };
      // Late for its only window: end − 1 + lateness at or below the watermark.
      if (Math.floor(e.t / 50) * 50 + 49 + 10 <= wm) expected.push(e);
      withTag.processElement(e, e.t);
      withoutTag.processElement(e, e.t);
      wm = Math.max(wm, t - 20);
      withTag.processWatermark(wm);
      withoutTag.processWatermark(wm);
    }
    expect(expected.length).toBeGreaterThan(50);
    expect(withTag.sideOutput(new OutputTag<Ev>('late'))).toEqual(expected);
    expect(withoutTag.lateRecordsDropped).toBe(expected.length);
    expect(withTag.output).toEqual(withoutTag.output);
  });

  it('a record late for some of its sliding windows only is added to the others, not side output', async () => {
    const late = new OutputTag<Ev>('late');
    const h = harness(SlidingEventTimeWindows.of(20, 10), { tag: late });
    await h.open();
    h.processWatermark(19); // [0, 20) is over; [10, 30) is not
    h.processElement({ key: 'a', t: 15, v: 1 }, 15);
    h.processWatermark(29);
    h.processElement({ key: 'a', t: 18, v: 2 }, 18); // [0, 20) and [10, 30): both over
    expect(h.output).toEqual(['10,a,1']);
    expect(h.sideOutput(late)).toEqual([{ key: 'a', t: 18, v: 2 }]);
  });

  it('with a custom trigger and with session windows, too', async () => {
    const late = new OutputTag<Ev>('late');
    const counted = harness(TumblingEventTimeWindows.of(10), { tag: late, trigger: CountTrigger.of(2) });
    const sessions = harness(EventTimeSessionWindows.withGap(5), { tag: late });
    for (const h of [counted, sessions]) {
      await h.open();
      h.processElement({ key: 'a', t: 1, v: 1 }, 1);
      h.processWatermark(50);
      h.processElement({ key: 'a', t: 2, v: 2 }, 2);
      expect(h.sideOutput(late)).toEqual([{ key: 'a', t: 2, v: 2 }]);
    }
  });

  it('WindowedStream.sideOutputLateData needs an OutputTag', () => {
    const w = new StreamExecutionEnvironment()
      .fromSequence(1, 3)
      .keyBy((n) => n)
      .window(TumblingEventTimeWindows.of(10));
    expect(() => w.sideOutputLateData('late' as unknown as OutputTag<number>)).toThrow(GraphValidationError);
    expect(() => w.sideOutputLateData(new OutputTag<number>('late')).reduce((a, b) => a + b)).not.toThrow();
  });
});
