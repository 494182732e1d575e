// A job resumed with allowNonRestoredState from a checkpoint holding an operator it dropped must
// restart from that checkpoint the same way after a failure, not fail for good on "operators this
// job does not have" (the restart re-read the checkpoint without the flag).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DiscardingSink,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessFunction,
  type RuntimeContext,
  type ValueState,
} from '../../src/index.js';

class Count implements KeyedProcessFunction<number, number, number> {
  private c!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.c = ctx.getState(new ValueStateDescriptor<number>('c', { defaultValue: 0 }));
  }
  processElement(n: number, _ctx: unknown, out: Collector<number>): void {
    this.c.update(this.c.value()! + 1);
    out.collect(n);
  }
}

function job(dir: string, withExtra: boolean, intervalMs: number, fail: { armed: boolean }) {
  const env = new StreamExecutionEnvironment({ parallelism: 1, execution: { batchSize: 64 } });
  env.enableCheckpointing(intervalMs);
  env.checkpointConfig.setCheckpointStorage(dir);
  env.setRestartStrategy(withExtra ? { type: 'none' } : { type: 'fixed-delay', attempts: 3, delayMs: 10 });
  let s = env
    .fromSequence(1, 300_000)
    .uid('seq')
    .keyBy((n) => n % 10)
    .process(new Count())
    .uid('count');
  if (withExtra)
    s = s
      .keyBy((n: number) => n % 7)
      .process(new Count())
      .uid('extra');
  s.map((n: number) => {
    if (fail.armed) {
      fail.armed = false;
      throw new Error('injected failure');
    }
    return n;
  })
    .uid('m')
    .sinkTo(new DiscardingSink())
    .uid('sink');
  return env;
}

describe('a job resumed with allowNonRestoredState', () => {
  it('restarts from the resumed checkpoint after a failure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-non-restored-'));
    const first = { armed: false };
    const died = await job(dir, true, 10, first)
      .execute('non-restored', {
        onStart: (m) => {
          const poll = setInterval(() => {
            if (m.completedCheckpoints < 2) return;
            clearInterval(poll);
            first.armed = true;
          }, 2);
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(String(died)).toContain('injected failure');
    const second = { armed: true }; // fails on its first record, before any checkpoint of its own
    const log: string[] = [];
    await job(dir, false, 60_000, second).execute('non-restored', {
      resume: true,
      allowNonRestoredState: true,
      log: (l) => log.push(l),
    });
    expect(log.join('\n')).toMatch(/restart 1 in \d+ ms from checkpoint \d+/);
  });
});
