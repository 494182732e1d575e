// Savepoints of a running job, stop-with-savepoint (with and without --drain) and cancel, driven
// through the JobMaster the way the REST API drives it: the savepoint's contents are checked by
// restoring it, and the combined output of the runs by comparing it with a straight run.
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FileSink,
  JobCancelledError,
  ListStateDescriptor,
  MapStateDescriptor,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type FunctionInitializationContext,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type ListState,
  type MapState,
  type ProcessFunction,
  type RuntimeContext,
  type ValueState,
} from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { JobControlError, type SavepointRequestView } from '../../src/cluster/savepoint-request.js';
import { decodeMetadata } from '../../src/storage/metadata.js';
import { committedLines as visibleLines } from '../connectors/helpers.js';

const RECORDS = 60_000;
const KEYS = 101;

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `weir-spc-${prefix}-`));
}

/** Counts per key; slow enough that a stop lands in the middle of the input. */
class Counter implements KeyedProcessFunction<number, number, string> {
  private count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }
  processElement(n: number, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    if (n % 50 === 0) {
      const until = performance.now() + 0.3;
      while (performance.now() < until);
    }
    const c = this.count.value()! + 1;
    this.count.update(c);
    out.collect(`${ctx.getCurrentKey()},${c},${n}`);
  }
}

/** Holds every record until the end of its input (operator list state): "buffered state". */
class HoldUntilEnd implements ProcessFunction<string, string> {
  private held: string[] = [];
  private state!: ListState<string>;
  initializeState(ctx: FunctionInitializationContext): void {
    this.state = ctx.operatorStateStore.getListState(new ListStateDescriptor<string>('held'));
    this.held = [...this.state.get()];
  }
  snapshotState(): void {
    this.state.update(this.held);
  }
  processElement(line: string, _ctx: unknown, _out: Collector<string>): void {
    this.held.push(line);
  }
  endInput(out: Collector<string>): void {
    for (const l of this.held) out.collect(l);
    this.held = [];
  }
}

/** Passes records on; its first snapshot fails asynchronously (the task declines it). */
class DeclineFirstSnapshot implements ProcessFunction<string, string> {
  private snapshots = 0;
  snapshotState(): Promise<void> | void {
    if (this.snapshots++ === 0) return Promise.reject(new Error('disk full (injected)'));
  }
  processElement(line: string, _ctx: unknown, out: Collector<string>): void {
    out.collect(line);
  }
}

/** Passes records on; throws once when `armed` is set (and disarms it): a failover. */
class FailWhenArmed implements ProcessFunction<string, string> {
  constructor(private readonly trigger: { armed: boolean }) {}
  processElement(line: string, _ctx: unknown, out: Collector<string>): void {
    if (this.trigger.armed) {
      this.trigger.armed = false;
      throw new Error('task failure (injected)');
    }
    out.collect(line);
  }
}

interface JobOptions {
  parallelism: number;
  out: string;
  hold?: boolean;
  checkpointMs?: number;
  restoreFrom?: string;
  onStart?: (master: JobMaster) => void;
  declineFirst?: boolean;
  /** Adds a FailWhenArmed before the sink and a restart strategy that restarts at once. */
  failure?: { armed: boolean };
}

function buildJob(o: JobOptions): StreamExecutionEnvironment {
  const env = new StreamExecutionEnvironment({ parallelism: o.parallelism, execution: { batchSize: 128 } });
  if (o.checkpointMs !== undefined) {
    env.enableCheckpointing(o.checkpointMs);
    env.checkpointConfig.setCheckpointStorage(tmp('chk'));
  }
  env.setRestartStrategy(
    o.failure === undefined ? { type: 'none' } : { type: 'fixed-delay', attempts: 1, delayMs: 0 },
  );
  let counted = env
    .fromSequence(1, RECORDS)
    .setParallelism(1) // one order per key in every run, so outputs compare line for line
    .uid('numbers')
    .keyBy((n) => n % KEYS)
    .process(new Counter())
    .uid('count');
  if (o.hold === true) counted = counted.process(new HoldUntilEnd()).uid('hold');
  if (o.declineFirst === true) counted = counted.process(new DeclineFirstSnapshot()).uid('decline');
  if (o.failure !== undefined) counted = counted.process(new FailWhenArmed(o.failure)).uid('fail');
  counted.sinkTo(new FileSink<string>(o.out)).uid('sink');
  return env;
}

async function runJob(o: JobOptions): Promise<{ savepointPath: string | undefined }> {
  const env = buildJob(o);
  const result = await env.execute('savepoint-control', {
    restoreFrom: o.restoreFrom,
    savepointDir: tmp('sp'),
    onStart: o.onStart,
  });
  return { savepointPath: result.savepointPath };
}

/** Calls `act` once the job has taken in at least `records` records. */
function whenRecordsIn(records: number, act: (m: JobMaster) => void): (m: JobMaster) => void {
  return (master) => {
    const poll = setInterval(() => {
      const s = master.status();
      if (s.state !== 'running' || s.recordsIn < records) return;
      clearInterval(poll);
      act(master);
    }, 5);
  };
}

async function settled(master: JobMaster, view: SavepointRequestView): Promise<SavepointRequestView> {
  for (;;) {
    const v = master.savepointRequest(view.requestId)!;
    if (v.status !== 'in-progress') return v;
    await new Promise((r) => setTimeout(r, 5));
  }
}

let straight: Promise<string[]> | undefined;
/** The output of a run without stops, computed once. */
function straightRun(): Promise<string[]> {
  straight ??= (async () => {
    const out = tmp('straight');
    await runJob({ parallelism: 2, out });
    return visibleLines(out);
  })();
  return straight;
}

describe('stop with a savepoint', () => {
  it.each([3, 1])(
    'stopped at p=2 and resumed at p=%i, the two runs write exactly the straight run',
    async (resumeAt) => {
      const out = tmp('out');
      const first = await runJob({
        parallelism: 2,
        out,
        onStart: whenRecordsIn(RECORDS / 3, (m) => m.stop({})),
      });
      expect(first.savepointPath).toBeDefined();
      const afterStop = visibleLines(out);
      expect(afterStop.length).toBeGreaterThan(0); // the stop committed the sink's output
      expect(afterStop.length).toBeLessThan(RECORDS);
      const metadata = decodeMetadata(readFileSync(join(first.savepointPath!, '_metadata')), 'test');
      expect(metadata.kind).toBe('savepoint');
      expect(metadata.operators.map((op) => op.uid).filter((u) => u !== null)).toEqual(
        expect.arrayContaining(['numbers', 'count', 'sink']),
      );
      const second = await runJob({ parallelism: resumeAt, out, restoreFrom: first.savepointPath });
      expect(second.savepointPath).toBeUndefined();
      expect(visibleLines(out).join('\n')).toBe((await straightRun()).join('\n'));
    },
  );

  it('with checkpoints on, too; and the stopped job takes no checkpoint after it', async () => {
    const out = tmp('out');
    let master!: JobMaster;
    const first = await runJob({
      parallelism: 2,
      out,
      checkpointMs: 20,
      onStart: (m) => {
        master = m;
        whenRecordsIn(RECORDS / 2, (mm) => mm.stop({}))(m);
      },
    });
    const stopId = decodeMetadata(readFileSync(join(first.savepointPath!, '_metadata')), 'test').id;
    const completed = master.checkpoints().filter((c) => c.status === 'completed');
    expect(Math.max(...completed.map((c) => c.id))).toBe(stopId);
    await runJob({ parallelism: 3, out, checkpointMs: 20, restoreFrom: first.savepointPath });
    expect(visibleLines(out).join('\n')).toBe((await straightRun()).join('\n'));
  });

  it('without --drain keeps buffered operator state in the savepoint; with --drain emits it first', async () => {
    const results: Record<string, { before: number; held: number }> = {};
    for (const drain of [false, true]) {
      const out = tmp(drain ? 'drain' : 'nodrain');
      let stopView: SavepointRequestView | undefined;
      let master!: JobMaster;
      const first = await runJob({
        parallelism: 2,
        out,
        hold: true,
        onStart: (m) => {
          master = m;
          whenRecordsIn(RECORDS / 3, (mm) => (stopView = mm.stop({ drain })))(m);
        },
      });
      expect((await settled(master, stopView!)).status).toBe('completed');
      const metadata = decodeMetadata(readFileSync(join(first.savepointPath!, '_metadata')), 'test');
      const hold = metadata.operators.find((op) => op.uid === 'hold')!;
      const held = hold.subtasks
        .flatMap((s) => s.states)
        .filter((s) => s.name === 'held')
        .reduce((n, s) => n + s.entries, 0);
      results[String(drain)] = { before: visibleLines(out).length, held };
      await runJob({ parallelism: 3, out, hold: true, restoreFrom: first.savepointPath });
      expect(visibleLines(out).join('\n')).toBe((await straightRun()).join('\n'));
    }
    // Without drain: nothing reached the sink, everything read so far is held in the savepoint.
    expect(results.false!.before).toBe(0);
    expect(results.false!.held).toBeGreaterThanOrEqual(RECORDS / 3);
    // With drain: the held records were emitted and committed before the savepoint; none held.
    expect(results.true!.held).toBe(0);
    expect(results.true!.before).toBeGreaterThanOrEqual(RECORDS / 3);
    expect(results.true!.before).toBeLessThan(RECORDS);
  });
});

describe('savepoint of a running job', () => {
  it('is complete and restorable, commits nothing, and the job runs on to the end', async () => {
    const out = tmp('out');
    let master!: JobMaster;
    let view: SavepointRequestView | undefined;
    let visibleAtSavepoint = -1;
    const done = runJob({
      parallelism: 2,
      out,
      onStart: (m) => {
        master = m;
        whenRecordsIn(RECORDS / 3, (mm) => {
          view = mm.triggerSavepoint();
          // One at a time: a second request gets a clear answer instead of a second savepoint.
          expect(() => mm.triggerSavepoint()).toThrow(JobControlError);
          expect(() => mm.stop({})).toThrow(/in progress/);
          void settled(mm, view).then(() => (visibleAtSavepoint = visibleLines(out).length));
        })(m);
      },
    });
    const result = await done;
    expect(result.savepointPath).toBeUndefined();
    const final = await settled(master, view!);
    expect(final).toMatchObject({ status: 'completed', kind: 'savepoint' });
    // Checkpoints are off: no sink transaction was committed by the savepoint.
    expect(visibleAtSavepoint).toBe(0);
    expect(visibleLines(out).join('\n')).toBe((await straightRun()).join('\n'));

    // Restored into a fresh output, the job writes what came after the savepoint: for every key
    // the straight run's lines from some count on.
    const forked = tmp('fork');
    await runJob({ parallelism: 3, out: forked, restoreFrom: final.path! });
    const straightSet = new Set(await straightRun());
    const tail = visibleLines(forked);
    expect(tail.length).toBeGreaterThan(0);
    expect(tail.length).toBeLessThan(RECORDS);
    const byKey = new Map<string, number[]>();
    for (const l of tail) {
      expect(straightSet.has(l)).toBe(true);
      const [k, c] = l.split(',');
      byKey.set(k!, [...(byKey.get(k!) ?? []), Number(c)]);
    }
    for (const counts of byKey.values()) {
      counts.sort((a, b) => a - b);
      counts.forEach((c, i) => expect(c).toBe(counts[0]! + i));
    }
  });

  it.each([
    ['checkpoints off: the restart starts from the beginning', undefined],
    ['checkpoints every 20 ms: the restart restores the newest checkpoint', 20],
  ])('stays a start point for its output folder after the job fails over (%s)', async (_, checkpointMs) => {
    const out = tmp('out');
    const failure = { armed: false };
    let master!: JobMaster;
    let view: SavepointRequestView | undefined;
    await runJob({
      parallelism: 2,
      out,
      failure,
      ...(checkpointMs === undefined ? {} : { checkpointMs }),
      onStart: (m) => {
        master = m;
        whenRecordsIn(RECORDS / 3, (mm) => {
          view = mm.triggerSavepoint();
          void settled(mm, view).then(() => (failure.armed = true));
        })(m);
      },
    });
    expect(master.status().restarts).toBe(1);
    const final = await settled(master, view!);
    expect(final.status).toBe('completed');
    expect(visibleLines(out).join('\n')).toBe((await straightRun()).join('\n'));
    // Started from the savepoint in the same folder, the job commits what the savepoint holds
    // and replaces everything the first run wrote after it: the straight run again.
    await runJob({ parallelism: 3, out, restoreFrom: final.path! });
    expect(visibleLines(out).join('\n')).toBe((await straightRun()).join('\n'));
  });

  it('that fails leaves the job running and says why', async () => {
    const out = tmp('out');
    let master!: JobMaster;
    let view: SavepointRequestView | undefined;
    await runJob({
      parallelism: 2,
      out,
      declineFirst: true,
      onStart: (m) => {
        master = m;
        whenRecordsIn(RECORDS / 3, (mm) => (view = mm.stop({})))(m);
      },
    });
    const final = await settled(master, view!);
    expect(final.status).toBe('failed');
    expect(final.failure).toMatch(/declined.*disk full \(injected\).*; the job keeps running$/);
    expect(final.path).toBeNull();
    expect(visibleLines(out).join('\n')).toBe((await straightRun()).join('\n'));
  });

  it('is refused once the job has finished', async () => {
    let master!: JobMaster;
    await runJob({ parallelism: 1, out: tmp('out'), onStart: (m) => (master = m) });
    expect(() => master.triggerSavepoint()).toThrow(/finished, not running/);
  });
});

describe('cancel', () => {
  it('ends the job as cancelled, committing nothing more', async () => {
    const out = tmp('out');
    await expect(
      runJob({ parallelism: 2, out, onStart: whenRecordsIn(RECORDS / 4, (m) => m.cancel()) }),
    ).rejects.toThrow(JobCancelledError);
    expect(visibleLines(out)).toEqual([]);
    expect(existsSync(out)).toBe(true);
  });
});

/**
 * Buffers data records in operator list state until the end of input and keeps the rules of a
 * broadcast() stream in broadcast state; at the end it writes each record with a digest of the
 * rules it holds, so a subtask restored without every rule (or a record lost or doubled in the
 * redistribution of the list) changes the output.
 */
class RuleBuffer implements ProcessFunction<number, string> {
  private held: number[] = [];
  private heldState!: ListState<number>;
  private rules!: MapState<number, number>;
  initializeState(ctx: FunctionInitializationContext): void {
    this.heldState = ctx.operatorStateStore.getListState(new ListStateDescriptor<number>('held'));
    this.held = [...this.heldState.get()];
    this.rules = ctx.operatorStateStore.getBroadcastState(new MapStateDescriptor<number, number>('rules'));
  }
  snapshotState(): void {
    this.heldState.update(this.held);
  }
  processElement(n: number, _ctx: unknown, _out: Collector<string>): void {
    if (n % 50 === 0) {
      const until = performance.now() + 0.3;
      while (performance.now() < until);
    }
    if (n < 0) this.rules.put(-n, -n % 13);
    else this.held.push(n);
  }
  endInput(out: Collector<string>): void {
    let sum = 0;
    let count = 0;
    for (const v of this.rules.values()) {
      sum += v;
      count++;
    }
    for (const n of this.held) out.collect(`${n},${count},${sum}`);
    this.held = [];
  }
}

const RULE_EVERY = 997;

async function runRulesJob(o: {
  parallelism: number;
  out: string;
  restoreFrom?: string;
  onStart?: (m: JobMaster) => void;
}): Promise<{ savepointPath: string | undefined }> {
  const env = new StreamExecutionEnvironment({ parallelism: o.parallelism, execution: { batchSize: 128 } });
  env.setRestartStrategy({ type: 'none' });
  const numbers = env.fromSequence(1, RECORDS).setParallelism(1).uid('numbers');
  const rules = numbers
    .filter((n) => n % RULE_EVERY === 0)
    .setParallelism(1)
    .map((n) => -n)
    .setParallelism(1)
    .broadcast();
  const data = numbers
    .filter((n) => n % RULE_EVERY !== 0)
    .setParallelism(1)
    .rebalance();
  data.union(rules).process(new RuleBuffer()).uid('rules').sinkTo(new FileSink<string>(o.out)).uid('sink');
  const result = await env.execute('rules', {
    restoreFrom: o.restoreFrom,
    savepointDir: tmp('sp'),
    onStart: o.onStart,
  });
  return { savepointPath: result.savepointPath };
}

describe('operator list state and broadcast state across a stop and a rescale', () => {
  let straightRules: string | undefined;
  it.each([3, 1])(
    'stopped at p=2 and resumed at p=%i, the output equals the straight run',
    async (resumeAt) => {
      if (straightRules === undefined) {
        const out = tmp('rules-straight');
        await runRulesJob({ parallelism: 2, out });
        straightRules = visibleLines(out).join('\n');
        const rulesTotal = Math.floor(RECORDS / RULE_EVERY);
        expect(visibleLines(out)).toHaveLength(RECORDS - rulesTotal);
        expect(visibleLines(out)[0]).toMatch(new RegExp(`^\\d+,${rulesTotal},\\d+$`));
      }
      const out = tmp('rules');
      const first = await runRulesJob({
        parallelism: 2,
        out,
        onStart: whenRecordsIn(RECORDS / 3, (m) => m.stop({})),
      });
      const metadata = decodeMetadata(readFileSync(join(first.savepointPath!, '_metadata')), 'test');
      const states = metadata.operators.find((op) => op.uid === 'rules')!.subtasks.flatMap((s) => s.states);
      // Both subtasks hold the same rules, all those read before the stop: at least one, not all.
      const ruleCounts = states.filter((s) => s.name === 'rules').map((s) => s.entries);
      expect(ruleCounts).toHaveLength(2);
      expect(ruleCounts[0]).toBe(ruleCounts[1]);
      expect(ruleCounts[0]).toBeGreaterThan(0);
      expect(ruleCounts[0]).toBeLessThan(Math.floor(RECORDS / RULE_EVERY));
      expect(states.find((s) => s.name === 'rules')).toMatchObject({ kind: 'map', mode: 'broadcast' });
      expect(visibleLines(out)).toHaveLength(0); // everything read so far is held in the savepoint
      await runRulesJob({ parallelism: resumeAt, out, restoreFrom: first.savepointPath });
      expect(visibleLines(out).join('\n')).toBe(straightRules);
    },
  );
});

/** Keeps every number of its key in keyed list state (changed in place by add). */
class Collecting implements KeyedProcessFunction<number, number, string> {
  static failAt: number | undefined;
  private seen!: ListState<number>;
  open(ctx: RuntimeContext): void {
    this.seen = ctx.getListState(new ListStateDescriptor<number>('seen'));
  }
  processElement(n: number, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    if (n % 50 === 0) {
      const until = performance.now() + 0.3;
      while (performance.now() < until);
    }
    this.seen.add(n);
    if (Collecting.failAt !== undefined && n === Collecting.failAt) {
      Collecting.failAt = undefined;
      throw new Error('injected failure after the restore');
    }
    out.collect(`${ctx.getCurrentKey()},${this.seen.get().length}`);
  }
}

describe('a failure after a restore, before any checkpoint', () => {
  it('restarts from the savepoint as it is on disk, not from the state the failed attempt changed', async () => {
    const job = async (o: { out: string; restoreFrom?: string; onStart?: (m: JobMaster) => void }) => {
      const env = new StreamExecutionEnvironment({ parallelism: 2, execution: { batchSize: 128 } });
      env.setRestartStrategy({ type: 'fixed-delay', attempts: 2, delayMs: 10 });
      env
        .fromSequence(1, RECORDS)
        .setParallelism(1)
        .uid('numbers')
        .keyBy((n) => n % KEYS)
        .process(new Collecting())
        .uid('collect')
        .sinkTo(new FileSink<string>(o.out))
        .uid('sink');
      return env.execute('restart-after-restore', {
        restoreFrom: o.restoreFrom,
        savepointDir: tmp('sp'),
        onStart: o.onStart,
      });
    };
    const straightOut = tmp('straight-collect');
    await job({ out: straightOut });
    const out = tmp('collect');
    const first = await job({ out, onStart: whenRecordsIn(RECORDS / 3, (m) => m.stop({})) });
    Collecting.failAt = RECORDS - 10; // late: the failed attempt has added to most lists
    await job({ out, restoreFrom: first.savepointPath });
    expect(Collecting.failAt).toBeUndefined();
    expect(visibleLines(out).join('\n')).toBe(visibleLines(straightOut).join('\n'));
  });
});
