// A restart after a failure re-reads the newest completed checkpoint; when a file of it was
// damaged meanwhile, the job names the problem, falls back to the next older retained checkpoint,
// and its exactly-once output is still exactly the output of a run without the failure.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
import type { JobMaster } from '../../src/cluster/job-master.js';

const RECORDS = 200_000;

class Counter implements KeyedProcessFunction<number, number, string> {
  private count!: ValueState<number>;
  constructor(private readonly beforeRecord: () => void) {}
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }
  processElement(n: number, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    this.beforeRecord();
    if (n % 50 === 0) {
      const until = performance.now() + 0.25;
      while (performance.now() < until);
    }
    const c = this.count.value()! + 1;
    this.count.update(c);
    out.collect(`${ctx.getCurrentKey()},${c}`);
  }
}

function lines(dir: string): string {
  const out: string[] = [];
  for (const f of readdirSync(dir)) {
    if (f.startsWith('.') || f.startsWith('_')) continue;
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) if (l !== '') out.push(l);
  }
  return out.sort().join('\n');
}

async function run(inject: boolean): Promise<{ output: string; log: string[]; restoredFrom: number[] }> {
  const out = mkdtempSync(join(tmpdir(), 'weir-fb-out-'));
  const env = new StreamExecutionEnvironment({ parallelism: 2, execution: { batchSize: 128 } });
  env.enableCheckpointing(20);
  env.checkpointConfig.setCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-fb-chk-')));
  env.checkpointConfig.setNumRetainedCheckpoints(3);
  env.setRestartStrategy({ type: 'fixed-delay', attempts: 2, delayMs: 0 });
  let master: JobMaster | undefined;
  let failed = false;
  const log: string[] = [];
  const beforeRecord = (): void => {
    if (!inject || failed || master === undefined || master.completedCheckpoints < 3) return;
    failed = true;
    // Damage every state file of the newest completed checkpoint, then fail.
    const newest = master.checkpoints().find((c) => c.status === 'completed' && c.kind === 'checkpoint')!;
    for (const f of readdirSync(newest.path!)) {
      if (!f.endsWith('.state')) continue;
      const p = join(newest.path!, f);
      const bytes = readFileSync(p);
      bytes[bytes.length >> 1]! ^= 0xff;
      writeFileSync(p, bytes);
    }
    throw new Error('injected failure');
  };
  env
    .fromSequence(1, RECORDS)
    .setParallelism(1)
    .uid('numbers')
    .keyBy((n) => n % 101)
    .process(new Counter(beforeRecord))
    .uid('count')
    .sinkTo(new FileSink<string>(out))
    .uid('sink');
  await env.execute('fallback', { log: (l) => log.push(l), onStart: (m) => void (master = m) });
  return { output: lines(out), log, restoredFrom: master!.restoredCheckpointIds };
}

describe('restart from a damaged checkpoint', () => {
  it('falls back to the next older retained checkpoint and stays exactly-once', async () => {
    const [straight, damaged] = await Promise.all([run(false), run(true)]);
    expect(
      damaged.log.some((l) =>
        /checkpoint \d+ of job 'fallback' is unusable: .*; falling back to checkpoint \d+/.test(l),
      ),
    ).toBe(true);
    expect(damaged.restoredFrom.length).toBe(1);
    expect(damaged.output).toBe(straight.output);
  });
});
