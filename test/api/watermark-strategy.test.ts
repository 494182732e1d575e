import { describe, expect, it } from 'vitest';
import { WatermarkStrategy, type WatermarkOutput } from '../../src/api/watermark-strategy.js';

class Recorder implements WatermarkOutput {
  readonly events: string[] = [];
  emitWatermark(t: number): void {
    this.events.push(`wm ${t}`);
  }
  markIdle(): void {
    this.events.push('idle');
  }
  markActive(): void {
    this.events.push('active');
  }
}

describe('WatermarkStrategy', () => {
  it('bounded out-of-orderness trails the largest timestamp by the bound, minus one', () => {
    const g = WatermarkStrategy.forBoundedOutOfOrderness<number>(100).createGenerator()!;
    const out = new Recorder();
    g.onPeriodicEmit(out);
    expect(out.events).toEqual([`wm ${Number.MIN_SAFE_INTEGER}`]);
    for (const t of [1000, 1500, 1200]) g.onEvent(t, t, out);
    g.onPeriodicEmit(out);
    expect(out.events.at(-1)).toBe('wm 1399');
  });

  it('monotonous timestamps: the watermark is the largest timestamp minus one', () => {
    const g = WatermarkStrategy.forMonotonousTimestamps<number>().createGenerator()!;
    const out = new Recorder();
    g.onEvent(0, 42, out);
    g.onPeriodicEmit(out);
    expect(out.events).toEqual(['wm 41']);
  });

  it('with idleness marks the input idle after the timeout without records, active with the next', () => {
    let now = 0;
    const clock = { now: () => now };
    const g = WatermarkStrategy.forBoundedOutOfOrderness<number>(0)
      .withIdleness(1000)
      .createGenerator(clock)!;
    const out = new Recorder();
    g.onEvent(0, 10, out);
    now = 999;
    g.onPeriodicEmit(out);
    now = 1000;
    g.onPeriodicEmit(out);
    g.onPeriodicEmit(out); // stays idle, says it once
    g.onEvent(0, 20, out);
    g.onPeriodicEmit(out);
    expect(out.events).toEqual(['wm 9', 'idle', 'active', 'wm 19']);
  });

  it('takes a custom generator and a timestamp assigner; noWatermarks has no generator', () => {
    const s = WatermarkStrategy.forGenerator<{ t: number }>(() => ({
      onEvent: (_e, t, o) => o.emitWatermark(t),
      onPeriodicEmit: () => undefined,
    })).withTimestampAssigner((e) => e.t);
    expect(s.timestampAssigner!({ t: 7 }, undefined)).toBe(7);
    const out = new Recorder();
    s.createGenerator()!.onEvent({ t: 7 }, 7, out);
    expect(out.events).toEqual(['wm 7']);
    expect(WatermarkStrategy.noWatermarks().createGenerator()).toBeUndefined();
  });

  it('refuses bad durations with a message that says what is expected', () => {
    expect(() => WatermarkStrategy.forBoundedOutOfOrderness(-1)).toThrow(/0 ms or more/);
    expect(() => WatermarkStrategy.forMonotonousTimestamps().withIdleness(0)).toThrow(/positive duration/);
    expect(() => WatermarkStrategy.forGenerator(3 as never)).toThrow(/needs a function/);
  });
});
