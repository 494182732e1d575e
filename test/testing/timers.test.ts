// Timers through the operator harness: event-time and processing-time timers of a keyed process
// function, their timestamps, and timers carried through a snapshot into another parallelism.
import { describe, expect, it } from 'vitest';
import {
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  type RuntimeContext,
  type ValueState,
} from '../../src/index.js';
import { KeyedOperatorTestHarness } from '../../src/testing/index.js';

type Event = { key: string; n: number };

/** Sums per key; emits the sum 10 ms (event time) after the key's first record, and clears. */
class DelayedSum implements KeyedProcessFunction<string, Event, string> {
  private sum!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.sum = ctx.getState(new ValueStateDescriptor<number>('sum'));
  }
  processElement(e: Event, ctx: KeyedProcessContext<string>, _out: Collector<string>): void {
    const s = this.sum.value();
    if (s === undefined) ctx.timerService.registerEventTimeTimer(ctx.timestamp()! + 10);
    this.sum.update((s ?? 0) + e.n);
  }
  onTimer(t: number, ctx: OnTimerContext<string>, out: Collector<string>): void {
    out.collect(`${ctx.getCurrentKey()}@${t}=${this.sum.value()} (${ctx.timeDomain}, ts ${ctx.timestamp()})`);
    this.sum.clear();
  }
}

describe('timers in the keyed harness', () => {
  it('fire when the watermark passes them, with the key set and the timer time as timestamp', async () => {
    const h = KeyedOperatorTestHarness.forProcessFunction(new DelayedSum(), (e: Event) => e.key);
    await h.open();
    h.processElement({ key: 'a', n: 1 }, 100);
    h.processElement({ key: 'b', n: 5 }, 103);
    h.processElement({ key: 'a', n: 2 }, 104);
    h.processWatermark(109);
    expect(h.output).toEqual([]);
    h.processWatermark(113);
    expect(h.output).toEqual(['a@110=3 (event, ts 110)', 'b@113=5 (event, ts 113)']);
    expect(h.outputTimestamps).toEqual([110, 113]);
    expect(h.watermarks).toEqual([109, 113]);
    expect(h.state('sum')).toEqual(new Map());
    await h.close();
  });

  it('processing-time timers fire as the harness clock moves', async () => {
    class Timeout implements KeyedProcessFunction<string, string, string> {
      processElement(_v: string, ctx: KeyedProcessContext<string>): void {
        ctx.timerService.registerProcessingTimeTimer(ctx.timerService.currentProcessingTime() + 50);
      }
      onTimer(t: number, ctx: OnTimerContext<string>, out: Collector<string>): void {
        out.collect(`${ctx.getCurrentKey()} timed out at ${t} (${ctx.timeDomain})`);
      }
    }
    const h = KeyedOperatorTestHarness.forProcessFunction(new Timeout(), (v: string) => v, {
      processingTime: 1000,
    });
    await h.open();
    h.processElement('x');
    h.setProcessingTime(1049);
    expect(h.output).toEqual([]);
    h.setProcessingTime(1050);
    expect(h.output).toEqual(['x timed out at 1050 (processing)']);
    expect(() => h.setProcessingTime(10)).toThrow(/cannot go back/);
  });

  it('a snapshot carries pending timers to every parallelism; each fires once, on the subtask owning its key', async () => {
    const h = KeyedOperatorTestHarness.forProcessFunction(new DelayedSum(), (e: Event) => e.key);
    await h.open();
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`);
    keys.forEach((key, i) => h.processElement({ key, n: i }, 1000 + i));
    h.processWatermark(1010); // k0 fires before the snapshot
    const fired = h.takeOutput();
    expect(fired).toEqual(['k0@1010=0 (event, ts 1010)']);
    const snapshot = h.snapshot(1);
    await h.close();
    for (const p of [1, 3]) {
      const out: string[] = [];
      for (let i = 0; i < p; i++) {
        const r = KeyedOperatorTestHarness.forProcessFunction(new DelayedSum(), (e: Event) => e.key, {
          parallelism: p,
          subtaskIndex: i,
        });
        await r.restore([snapshot]);
        r.processWatermark(Number.MAX_SAFE_INTEGER);
        out.push(...r.output);
        await r.close();
      }
      expect(out.sort()).toEqual(
        keys
          .slice(1)
          .map((k, i) => `${k}@${1011 + i}=${i + 1} (event, ts ${1011 + i})`)
          .sort(),
      );
    }
  });

  it('says what is wrong when a function without onTimer registers a timer', async () => {
    const h = KeyedOperatorTestHarness.forProcessFunction(
      {
        processElement(_v: string, ctx: KeyedProcessContext<string>) {
          ctx.timerService.registerEventTimeTimer(5);
        },
      },
      (v: string) => v,
    );
    await h.open();
    expect(() => h.processElement('a', 1)).toThrow(/has no onTimer\(timestamp, ctx, out\) method/);
  });
});
