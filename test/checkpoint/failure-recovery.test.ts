// Acceptance (issue 3, point 1): a function that throws at the k-th record, under p=1 and p=4,
// with checkpoints every 50 ms, produces through the exactly-once file sink exactly the output of
// a run without the failure.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FileSink,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type RuntimeContext,
  type ValueState,
} from '../../src/index.js';
import { Rng } from '../state/gen.js';

const RECORDS = 120_000;

/** Counts per key; throws once, at the k-th record this job run sees over all attempts. */
class CountingFailer implements KeyedProcessFunction<number, number, string> {
  private count!: ValueState<number>;
  constructor(private readonly failure: { at: number; seen: number; thrown: boolean }) {}
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }
  processElement(n: number, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    if (!this.failure.thrown && ++this.failure.seen === this.failure.at) {
      this.failure.thrown = true;
      throw new Error(`injected failure at record ${this.failure.at}`);
    }
    // Slow enough that several checkpoints complete before the failure point.
    if (n % 50 === 0) {
      const until = performance.now() + 0.25;
      while (performance.now() < until);
    }
    const c = this.count.value()! + 1;
    this.count.update(c);
    out.collect(`${ctx.getCurrentKey()},${c},${n}`);
  }
}

interface RunResult {
  lines: string[];
  failed: boolean;
  restoredFrom: number[];
}

async function runJob(parallelism: number, failAt: number | undefined): Promise<RunResult> {
  const out = mkdtempSync(join(tmpdir(), 'weir-fr-out-'));
  const checkpoints = mkdtempSync(join(tmpdir(), 'weir-fr-chk-'));
  const failure = { at: failAt ?? -1, seen: 0, thrown: false };
  const env = new StreamExecutionEnvironment({ parallelism, execution: { batchSize: 256 } });
  env.enableCheckpointing(50);
  env.checkpointConfig.setCheckpointStorage(checkpoints);
  env.setRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 0 });
  env
    .fromSequence(1, RECORDS)
    // One source subtask: each key then sees its records in one order in every run, so the
    // outputs (which number got which count) can be compared line for line.
    .setParallelism(1)
    .uid('numbers')
    .keyBy((n) => n % 997)
    .process(new CountingFailer(failure))
    .uid('count')
    .sinkTo(new FileSink<string>(out))
    .uid('sink');
  let restoredFrom: number[] = [];
  await env.execute('failure-recovery', {
    onStart: (master) => {
      restoredFrom = master.restoredCheckpointIds;
    },
  });
  const lines: string[] = [];
  for (const f of readdirSync(out)) {
    if (f.startsWith('.') || f.startsWith('_')) continue;
    const text = readFileSync(join(out, f), 'utf8');
    for (const l of text.split('\n')) if (l !== '') lines.push(l);
  }
  return { lines: lines.sort(), failed: failure.thrown, restoredFrom };
}

describe('recovery from an injected failure', () => {
  for (const p of [1, 4]) {
    it(`gives the failure-free output at p=${p} for several failure points`, async () => {
      const expected = await runJob(p, undefined);
      expect(expected.lines).toHaveLength(RECORDS);
      const rng = new Rng(1000 + p);
      let restoredFromCheckpoint = 0;
      for (let i = 0; i < 3; i++) {
        // Past the first third, so that checkpoints have completed before the failure.
        const k = rng.int(RECORDS / 3, RECORDS - 1);
        const got = await runJob(p, k);
        expect(got.failed, `k=${k}`).toBe(true);
        expect(got.lines.length, `k=${k}`).toBe(RECORDS);
        // Compared as one string: a diff of 120 000 array elements would take vitest minutes.
        expect(got.lines.join('\n') === expected.lines.join('\n'), `k=${k}: output differs`).toBe(true);
        restoredFromCheckpoint += got.restoredFrom.length;
      }
      // The test means little if every restart began from scratch.
      expect(restoredFromCheckpoint).toBeGreaterThan(0);
    }, 120_000);
  }
});
