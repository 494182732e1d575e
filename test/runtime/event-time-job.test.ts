// Event time in a running job: timestamps from a watermark strategy travel with the records
// through chains and channels, watermarks advance as the minimum over inputs, windows fire once
// each, and the end of input fires the rest — at any parallelism, and across a failure with
// checkpoints, compared with a plain computation over the same events.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FileSink,
  StreamExecutionEnvironment,
  EventTimeSessionWindows,
  SlidingEventTimeWindows,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type WindowAssigner,
  type ProcessWindowFunction,
  CollectSink,
  ValueStateDescriptor,
  type Collector,
  type RuntimeContext,
  type ValueState,
  type WindowContext,
} from '../../src/index.js';
import { CollectionSource } from '../../src/connectors/collection-source.js';
import { Rng } from '../state/gen.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { decodeMetadata } from '../../src/storage/metadata.js';
import { committedLines } from '../connectors/helpers.js';

/** Committed output as one string, so whole outputs compare cheaply. */
const lines = (dir: string): string => committedLines(dir).join('\n');

type Ev = { t: number; key: string };

function events(n: number, seed: number, disorder: number): Ev[] {
  const rng = new Rng(seed);
  let t = 1_700_000_000_000;
  return Array.from({ length: n }, () => {
    t += rng.int(0, 20);
    return { t: t - rng.int(0, disorder), key: `k${rng.int(0, 30)}` };
  });
}

function plain(evs: readonly Ev[], size: number): string {
  const m = new Map<string, number>();
  for (const e of evs) {
    const k = `${Math.floor(e.t / size) * size},${e.key}`;
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return [...m]
    .map(([k, c]) => `${k},${c}`)
    .sort()
    .join('\n');
}

const countWindow: ProcessWindowFunction<Ev, string, string> = {
  process(key, ctx, evs, out) {
    out.collect(`${ctx.window.start},${key},${evs.length}`);
  },
};

async function run(
  evs: Ev[],
  o: {
    parallelism: number;
    failAt?: number;
    checkpointMs?: number;
    out?: string;
    restoreFrom?: string;
    onStart?: (m: JobMaster) => void;
    result?: { savepointPath?: string | undefined };
    assigner?: WindowAssigner;
    /** Busy time per record in the map, so a stop lands mid-stream on any machine. */
    slowMs?: number;
  },
): Promise<string> {
  const out = o.out ?? mkdtempSync(join(tmpdir(), 'weir-et-'));
  const env = new StreamExecutionEnvironment({
    parallelism: o.parallelism,
    execution: { batchSize: 64, watermarkIntervalMs: 0 },
  });
  if (o.checkpointMs !== undefined) {
    env.enableCheckpointing(o.checkpointMs);
    env.checkpointConfig.setCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-et-chk-')));
    env.setRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 10 });
  }
  let failed = false;
  env
    .fromSource(
      // A collection source is one subtask reading in order: the only disorder is the data's.
      new CollectionSource(evs),
      WatermarkStrategy.forBoundedOutOfOrderness<Ev>(100).withTimestampAssigner((e) => e.t),
      'events',
    )
    .uid('events')
    .map((e) => {
      if (o.failAt !== undefined && !failed && e === evs[o.failAt]) {
        failed = true;
        throw new Error('injected');
      }
      // Slow enough that checkpoints (and stops) land in the middle.
      if (o.slowMs !== undefined) {
        const until = performance.now() + o.slowMs;
        while (performance.now() < until);
      } else if (o.checkpointMs !== undefined && e.t % 7 === 0) {
        const until = performance.now() + 0.05;
        while (performance.now() < until);
      }
      return e;
    })
    .keyBy((e) => e.key)
    .window(o.assigner ?? TumblingEventTimeWindows.of(1000))
    .process(countWindow)
    .uid('window')
    .sinkTo(new FileSink<string>(out))
    .uid('sink');
  const r = await env.execute('event-time', {
    restoreFrom: o.restoreFrom,
    savepointDir: mkdtempSync(join(tmpdir(), 'weir-et-sp-')),
    onStart: o.onStart,
  });
  if (o.result !== undefined) o.result.savepointPath = r.savepointPath;
  return lines(out);
}

describe('event time in a job', () => {
  const evs = events(20_000, 4, 99);
  const expected = plain(evs, 1000);

  it.each([1, 3])('tumbling windows at p=%i equal a plain computation', async (p) => {
    expect(await run(evs, { parallelism: p })).toBe(expected);
  });

  it('with checkpoints and a failure, every window result is written exactly once', async () => {
    expect(await run(evs, { parallelism: 2, checkpointMs: 20, failAt: 15_000 })).toBe(expected);
  });

  it.each([false, true])(
    'stopped with a savepoint at p=2 (drain: %s): windows fire once, after the resume at p=3 or, drained, at the stop',
    async (drain) => {
      const out = mkdtempSync(join(tmpdir(), 'weir-et-stop-'));
      const result: { savepointPath?: string | undefined } = {};
      await run(evs, {
        parallelism: 2,
        checkpointMs: 1_000_000, // no periodic checkpoints
        slowMs: 0.05,
        out,
        result,
        onStart: (m) => {
          const poll = setInterval(() => {
            if (m.status().state !== 'running' || m.status().recordsIn < 8000) return;
            clearInterval(poll);
            m.stop({ drain });
          }, 5);
        },
      });
      expect(result.savepointPath).toBeDefined();
      const metadata = decodeMetadata(readFileSync(join(result.savepointPath!, '_metadata')), 'test');
      const windowOp = metadata.operators.find((op) => op.uid === 'window')!;
      const timers = windowOp.subtasks.filter((s) => s.timers !== null).length;
      const firstRun = lines(out)
        .split('\n')
        .filter((l) => l !== '').length;
      if (drain) {
        // Drained: event time ended where reading stopped, so every window of the records read
        // so far fired (with what it had) and was committed; no timer is left in the savepoint.
        expect(timers).toBe(0);
        const read = lines(out)
          .split('\n')
          .reduce((n, l) => n + Number(l.split(',')[2]), 0);
        expect(read).toBeGreaterThan(0);
        expect(read).toBeLessThan(evs.length);
        expect(lines(out)).toBe(plain(evs.slice(0, read), 1000));
        return;
      } else {
        // Open windows and their timers are in the savepoint and fire after the resume.
        expect(timers).toBeGreaterThan(0);
        expect(firstRun).toBeLessThan(expected.split('\n').length);
        await run(evs, { parallelism: 3, out, restoreFrom: result.savepointPath });
      }
      expect(lines(out)).toBe(expected);
    },
  );
});

/** Sliding windows of 3 s every 1 s: each event counts in the three windows that hold it. */
function plainSliding(evs: readonly Ev[]): string {
  const m = new Map<string, number>();
  for (const e of evs)
    for (let start = Math.floor(e.t / 1000) * 1000; start > e.t - 3000; start -= 1000) {
      const k = `${start},${e.key}`;
      m.set(k, (m.get(k) ?? 0) + 1);
    }
  return [...m]
    .map(([k, c]) => `${k},${c}`)
    .sort()
    .join('\n');
}

/** Sessions with a 300 ms gap: per key, events closer than the gap to the session's end join it. */
function plainSessions(evs: readonly Ev[]): string {
  const byKey = new Map<string, number[]>();
  for (const e of evs) byKey.set(e.key, [...(byKey.get(e.key) ?? []), e.t]);
  const out: string[] = [];
  for (const [key, ts] of byKey) {
    ts.sort((a, b) => a - b);
    let start = ts[0]!;
    let end = start + 300;
    let n = 0;
    for (const t of ts) {
      if (t > end) {
        out.push(`${start},${key},${n}`);
        start = t;
        n = 0;
      }
      end = Math.max(end, t + 300);
      n++;
    }
    out.push(`${start},${key},${n}`);
  }
  return out.sort().join('\n');
}

describe.each([
  ['sliding 3 s / 1 s', () => SlidingEventTimeWindows.of(3000, 1000), plainSliding],
  ['session (300 ms gap)', () => EventTimeSessionWindows.withGap(300), plainSessions],
])('%s windows: three runs, one output', (_name, assigner, plainOf) => {
  const evs = events(12_000, 7, 99);
  const expected = plainOf(evs);

  it('straight through at p=3', async () => {
    expect(await run(evs, { parallelism: 3, assigner: assigner() })).toBe(expected);
  });

  it('with checkpoints and an injected failure at p=2', async () => {
    expect(await run(evs, { parallelism: 2, checkpointMs: 20, failAt: 9_000, assigner: assigner() })).toBe(
      expected,
    );
  });

  it('stopped with a savepoint at p=2 and resumed at p=3', async () => {
    const out = mkdtempSync(join(tmpdir(), 'weir-et-stop-'));
    const result: { savepointPath?: string | undefined } = {};
    await run(evs, {
      parallelism: 2,
      checkpointMs: 1_000_000,
      slowMs: 0.1,
      out,
      result,
      assigner: assigner(),
      onStart: (m) => {
        const poll = setInterval(() => {
          if (m.status().state !== 'running' || m.status().recordsIn < 5000) return;
          clearInterval(poll);
          m.stop({});
        }, 5);
      },
    });
    expect(result.savepointPath).toBeDefined();
    await run(evs, { parallelism: 3, out, restoreFrom: result.savepointPath, assigner: assigner() });
    expect(lines(out)).toBe(expected);
  });
});

describe('window functions per subtask', () => {
  it('a process window function object is copied per subtask, so state handles set in open stay its own', async () => {
    const evs = events(6000, 5, 50);
    const env = new StreamExecutionEnvironment({ parallelism: 3, execution: { watermarkIntervalMs: 0 } });
    class RunningTotal implements ProcessWindowFunction<Ev, string, string> {
      total!: ValueState<number>;
      open(ctx: RuntimeContext): void {
        this.total = ctx.getState(new ValueStateDescriptor<number>('total', { defaultValue: 0 }));
      }
      process(key: string, ctx: WindowContext, es: readonly Ev[], out: Collector<string>): void {
        const n = this.total.value()! + es.length;
        this.total.update(n);
        out.collect(`${ctx.window.start},${key},${n}`);
      }
    }
    const sink = new CollectSink<string>();
    env
      .fromSource(
        new CollectionSource(evs),
        WatermarkStrategy.forBoundedOutOfOrderness<Ev>(100).withTimestampAssigner((e) => e.t),
        'events',
      )
      .keyBy((e) => e.key)
      .window(TumblingEventTimeWindows.of(1000))
      .process(new RunningTotal())
      .sinkTo(sink);
    await env.execute('running totals');
    // Per key, windows in order, each with the key's count so far.
    const perKey = new Map<string, Map<number, number>>();
    for (const e of evs) {
      const m = perKey.get(e.key) ?? perKey.set(e.key, new Map()).get(e.key)!;
      const start = Math.floor(e.t / 1000) * 1000;
      m.set(start, (m.get(start) ?? 0) + 1);
    }
    const want: string[] = [];
    for (const [key, m] of perKey) {
      let n = 0;
      for (const start of [...m.keys()].sort((a, b) => a - b)) {
        n += m.get(start)!;
        want.push(`${start},${key},${n}`);
      }
    }
    expect(sink.results.sort().join('\n')).toBe(want.sort().join('\n'));
  });
});
