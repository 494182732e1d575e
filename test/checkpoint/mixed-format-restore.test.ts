// Old subtasks can store one keyed state in different forms: after a schema change, a subtask whose
// function never asked for the restored state writes it at the old version, the others at the new
// one. A restore read every subtask's groups with one format per state (the last subtask's), and
// migrated values a second time (`{n: {n: 57}}`). Now each new subtask takes the format of the
// old subtasks it reads, and a restore that would mix two forms in one subtask is refused.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CollectSink,
  DiscardingSink,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type RuntimeContext,
  type ValueState,
} from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { keyGroupOf } from '../../src/state/key-group.js';
import { decodeMetadata } from '../../src/storage/metadata.js';

const MAXP = 8; // p=2: subtask 0 owns key groups 0..3, subtask 1 owns 4..7
const ALL_KEYS = Array.from({ length: 40 }, (_, i) => i);
const KEYS0 = ALL_KEYS.filter((k) => keyGroupOf(k, MAXP) < MAXP / 2);

const tmp = (p: string): string => mkdtempSync(join(tmpdir(), `weir-mixfmt-${p}-`));

/** v1 stores a number, v2 stores { n } (migrate: n => ({ n })). Gets its state lazily. */
class Counter implements KeyedProcessFunction<number, number, string> {
  private ctx!: RuntimeContext;
  private c: ValueState<unknown> | undefined;
  constructor(private readonly version: 1 | 2) {}
  open(ctx: RuntimeContext): void {
    this.ctx = ctx;
  }
  processElement(_n: number, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    this.c ??= this.ctx.getState(
      new ValueStateDescriptor<unknown>('c', {
        version: this.version,
        ...(this.version === 2 ? { migrate: (old: unknown) => ({ n: old as number }) } : {}),
      }),
    );
    const stored = this.c.value();
    out.collect(`${ctx.getCurrentKey()}=${JSON.stringify(stored ?? null)}`);
    const before =
      this.version === 1
        ? ((stored as number | undefined) ?? 0)
        : ((stored as { n: number } | undefined)?.n ?? 0);
    this.c.update(this.version === 1 ? before + 1 : { n: before + 1 });
  }
}

const whenRecordsIn = (n: number) => (m: JobMaster) => {
  const poll = setInterval(() => {
    if (m.status().state !== 'running' || m.status().recordsIn < n) return;
    clearInterval(poll);
    m.stop({});
  }, 5);
};

/** An endless-enough, slow stream over `keys`, stopped with a savepoint once `stopAt` records are in. */
async function stoppedRun(version: 1 | 2, keys: number[], restoreFrom?: string): Promise<string> {
  const env = new StreamExecutionEnvironment({
    parallelism: 2,
    maxParallelism: MAXP,
    execution: { batchSize: 16 },
  });
  env
    .fromSequence(0, 10_000_000)
    .setParallelism(1)
    .uid('src')
    .map((n) => {
      const until = performance.now() + 0.05;
      while (performance.now() < until);
      return keys[n % keys.length]!;
    })
    .setParallelism(1)
    .uid('pick')
    .keyBy((k) => k)
    .process(new Counter(version))
    .uid('count')
    .sinkTo(new DiscardingSink<string>())
    .uid('sink');
  const r = await env.execute(`mixfmt-v${version}`, {
    restoreFrom,
    savepointDir: tmp('sp'),
    onStart: whenRecordsIn(500),
  });
  expect(r.savepointPath).toBeDefined();
  return r.savepointPath!;
}

describe('keyed state stored in different forms by the old subtasks', () => {
  it(
    'restores at the parallelism it was taken with, each subtask as it wrote it; refuses to mix them',
    { timeout: 120_000 },
    async () => {
      // 1. Version 1, parallelism 2, keys on both subtasks: 'c' is a number everywhere.
      const sp1 = await stoppedRun(1, ALL_KEYS);
      // 2. Version 2 (migrate), parallelism 2, only keys of subtask 0: subtask 1 never asks for 'c'.
      const sp2 = await stoppedRun(2, KEYS0, sp1);
      const md = decodeMetadata(readFileSync(join(sp2, '_metadata')), 'test');
      const versions = md.operators.flatMap((op) =>
        op.subtasks.flatMap((s) =>
          s.states.filter((st) => st.name === 'c').map((st) => [s.index, st.version ?? 1]),
        ),
      );
      expect(versions.sort()).toEqual([
        [0, 2],
        [1, 1],
      ]);

      const restore = async (p: number): Promise<string[]> => {
        const env = new StreamExecutionEnvironment({ parallelism: p, maxParallelism: MAXP });
        env.setRestartStrategy({ type: 'none' });
        const sink = new CollectSink<string>();
        env
          .fromElements(...ALL_KEYS)
          .uid('src')
          .map((k) => k)
          .uid('pick')
          .keyBy((k) => k)
          .process(new Counter(2))
          .uid('count')
          .sinkTo(sink)
          .uid('sink');
        await env.execute('mixfmt-v2', { restoreFrom: sp2, savepointDir: tmp('sp') });
        return sink.results;
      };
      // 3. At parallelism 2: every key reads back as { n } once, migrated once or never.
      const same = await restore(2);
      expect(same).toHaveLength(ALL_KEYS.length);
      expect(same.filter((l) => !/^\d+=\{"n":\d+\}$/.test(l))).toEqual([]);
      // 4. At parallelism 1 the two forms would meet in one subtask: refused, naming both.
      await expect(restore(1)).rejects.toThrow(
        /keyed state 'c' of .* was stored in different forms by the old subtasks whose key groups one new subtask of 1 would hold \(serializer 'weir-cbor' version \d by subtask \d; serializer 'weir-cbor' version \d by subtask \d\): .*Restore at the parallelism it was taken with \(-p 2\)/,
      );
    },
  );
});
