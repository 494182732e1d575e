// A keyed state that a job declared but never wrote has no entries in its snapshot (`_metadata`
// still lists it, with 0). A restore registers only the states with entries, so the next version
// of the job may declare that name as it likes (another kind, another version without a
// migration), as if the state had never existed.
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DiscardingSink,
  MapStateDescriptor,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type RuntimeContext,
  type ValueState,
} from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { spin } from './hooked-count.js';

type Version = 'v1' | 'v2-map' | 'v2-version';

/** Counts per key; declares 'extra' (v1: value state, never written; v2: something else). */
class Counting implements KeyedProcessFunction<number, number, number> {
  private count!: ValueState<number>;
  constructor(
    private readonly version: Version,
    private readonly hook: (n: number) => void,
  ) {}
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
    if (this.version === 'v1') ctx.getState(new ValueStateDescriptor<number>('extra'));
    else if (this.version === 'v2-map') ctx.getMapState(new MapStateDescriptor<string, number>('extra'));
    else ctx.getState(new ValueStateDescriptor<number>('extra', { version: 2 }));
  }
  processElement(n: number, _c: KeyedProcessContext<number>, out: Collector<number>): void {
    this.hook(n);
    const c = this.count.value()! + 1;
    this.count.update(c);
    out.collect(c);
  }
}

async function run(version: Version, checkpoints: string, restoreFrom?: string): Promise<void> {
  const env = new StreamExecutionEnvironment({ parallelism: 2 });
  env.enableCheckpointing(10);
  env.checkpointConfig
    .setCheckpointStorage(checkpoints)
    .setExternalizedCheckpointRetention('retain-on-cancellation');
  env.setRestartStrategy({ type: 'none' });
  let master: JobMaster | undefined;
  const first = version === 'v1';
  env
    .fromSequence(1, first ? 10_000_000 : 1000)
    .setParallelism(1)
    .uid('numbers')
    .keyBy((n) => n % 7)
    .process(
      new Counting(version, (n) => {
        if (first && master!.completedCheckpoints >= 2) throw new Error('dies');
        if (first && n % 100 === 0) spin(1);
      }),
    )
    .uid('count')
    .sinkTo(new DiscardingSink<number>())
    .uid('sink');
  await env.execute('empty-state', { onStart: (m) => void (master = m), restoreFrom });
}

describe('a keyed state without entries in the snapshot', () => {
  it.each(['v2-map', 'v2-version'] as const)(
    'is not restored, so the next version may declare its name anew (%s)',
    async (next) => {
      const checkpoints = mkdtempSync(join(tmpdir(), 'weir-empty-state-'));
      await expect(run('v1', checkpoints)).rejects.toThrow(/dies/);
      const job = readdirSync(checkpoints)[0]!;
      const folder = readdirSync(join(checkpoints, job))
        .filter((f) => f.startsWith('chk-') && existsSync(join(checkpoints, job, f, '_metadata')))
        .map((f) => join(checkpoints, job, f))
        .at(-1)!;
      await run(next, mkdtempSync(join(tmpdir(), 'weir-empty-state-2-')), folder);
    },
  );
});
