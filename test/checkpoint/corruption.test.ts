// Acceptance (issue 3, point 3): every file kind of a checkpoint — `_metadata`, a keyed state
// file, an operator state file — damaged by a flipped byte, a truncation or a deletion. Resuming
// names the bad file, falls back to the older retained checkpoint, and the committed output is
// still exactly once. With no usable checkpoint left, the start fails and changes nothing.
import { createHash } from 'node:crypto';
import {
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
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
import { RestoreError } from '../../src/cluster/job-launcher.js';
import { Rng } from '../state/gen.js';

const RECORDS = 60_000;
const KEYS = 97;

class Count implements KeyedProcessFunction<number, number, string> {
  private count!: ValueState<number>;
  /** `failAt` < 0: never fail; otherwise fail at the first record ≥ failAt once `ready.now` is set. */
  constructor(
    private readonly failAt: number,
    private readonly ready: { now: boolean },
  ) {}
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }
  processElement(n: number, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    if (this.failAt >= 0 && n >= this.failAt && this.ready.now) throw new Error(`stop at ${n}`);
    if (n % 10 === 0) {
      const until = performance.now() + 0.25;
      while (performance.now() < until);
    }
    const c = this.count.value()! + 1;
    this.count.update(c);
    out.collect(`${ctx.getCurrentKey()},${c}`);
  }
}

interface Dirs {
  out: string;
  checkpoints: string;
}

async function run(dirs: Dirs, failAt: number, resume: boolean, log: string[]): Promise<void> {
  // The failing run stops only once two checkpoints completed, however slow the machine is.
  const ready = { now: false };
  let watch: NodeJS.Timeout | undefined;
  const env = new StreamExecutionEnvironment({ parallelism: 2, execution: { batchSize: 256 } });
  env.enableCheckpointing(30);
  env.checkpointConfig.setCheckpointStorage(dirs.checkpoints).setNumRetainedCheckpoints(3);
  env.setRestartStrategy({ type: 'none' });
  env
    .fromSequence(1, RECORDS)
    .setParallelism(1)
    .uid('numbers')
    .keyBy((n) => n % KEYS)
    .process(new Count(failAt, ready))
    .uid('count')
    .sinkTo(new FileSink<string>(dirs.out))
    .uid('sink');
  try {
    await env.execute('corruption', {
      resume,
      log: (l) => log.push(l),
      onStart: (master) => {
        watch = setInterval(() => (ready.now = master.completedCheckpoints >= 2), 5);
      },
    });
  } finally {
    clearInterval(watch);
  }
}

/** Every key's committed counts must be exactly 1..n, with n its number of records. */
function expectExactlyOnce(out: string): void {
  const counts = new Map<string, number[]>();
  for (const f of readdirSync(out)) {
    if (f.startsWith('.') || f.startsWith('_')) continue;
    for (const line of readFileSync(join(out, f), 'utf8').split('\n')) {
      if (line === '') continue;
      const [k, c] = line.split(',');
      let l = counts.get(k!);
      if (l === undefined) counts.set(k!, (l = []));
      l.push(Number(c));
    }
  }
  expect(counts.size).toBe(KEYS);
  for (const [k, l] of counts) {
    const n = Math.floor(RECORDS / KEYS) + (Number(k) !== 0 && Number(k) <= RECORDS % KEYS ? 1 : 0);
    l.sort((a, b) => a - b);
    expect(l.length, `key ${k}`).toBe(n);
    expect(
      l.every((c, i) => c === i + 1),
      `key ${k}: counts are not 1..${n}`,
    ).toBe(true);
  }
}

/** Completed checkpoint folders of the (only) job, oldest first. */
function completed(checkpoints: string): string[] {
  const [job] = readdirSync(checkpoints);
  const dir = join(checkpoints, job!);
  return readdirSync(dir)
    .filter((d) => /^chk-\d+$/.test(d) && readdirSync(join(dir, d)).includes('_metadata'))
    .sort((a, b) => Number(a.slice(4)) - Number(b.slice(4)))
    .map((d) => join(dir, d));
}

function fileOfKind(chk: string, kind: 'metadata' | 'keyed' | 'operator'): string {
  const name = kind === 'metadata' ? '_metadata' : readdirSync(chk).find((f) => f.endsWith(`-${kind}.state`));
  if (name === undefined) throw new Error(`no ${kind} file in ${chk}`);
  return join(chk, name);
}

function damage(file: string, how: 'flip' | 'truncate' | 'delete', rng: Rng): void {
  if (how === 'delete') return unlinkSync(file);
  const size = statSync(file).size;
  if (how === 'truncate') return truncateSync(file, rng.int(0, size - 1));
  const bytes = readFileSync(file);
  const at = rng.int(0, size - 1);
  bytes[at] = bytes[at]! ^ (1 << rng.int(0, 7));
  writeFileSync(file, bytes);
}

function digest(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
  return h.digest('hex');
}

async function failedRun(seed: number): Promise<{ dirs: Dirs; log: string[] }> {
  const dirs = {
    out: mkdtempSync(join(tmpdir(), `weir-corrupt-out-${seed}-`)),
    checkpoints: mkdtempSync(join(tmpdir(), `weir-corrupt-chk-${seed}-`)),
  };
  const log: string[] = [];
  await expect(run(dirs, Math.floor(RECORDS * 0.1), false, log)).rejects.toThrow(/stop at/);
  return { dirs, log };
}

describe('resume from damaged checkpoints', () => {
  let seed = 0;
  for (const kind of ['metadata', 'keyed', 'operator'] as const) {
    for (const how of ['flip', 'truncate', 'delete'] as const) {
      it(`falls back past a ${kind} file that was ${how === 'flip' ? 'flipped' : how + 'd'}`, async () => {
        const rng = new Rng(++seed);
        const { dirs } = await failedRun(seed);
        const chks = completed(dirs.checkpoints);
        expect(chks.length, 'the failed run must leave at least two checkpoints').toBeGreaterThanOrEqual(2);
        const newest = chks[chks.length - 1]!;
        const bad = fileOfKind(newest, kind);
        damage(bad, how, rng);
        const log: string[] = [];
        await run(dirs, -1, true, log);
        const text = log.join('\n');
        expect(text).toMatch(/resuming job 'corruption'/);
        const resumedFrom = Number(/from checkpoint (\d+)/.exec(text)![1]);
        expect(resumedFrom).toBeLessThan(Number(newest.slice(newest.lastIndexOf('-') + 1)));
        // A damaged state file is named; so is the folder of a damaged or deleted _metadata.
        if (kind !== 'metadata') expect(text).toContain(bad.slice(bad.lastIndexOf('/') + 1));
        else if (how !== 'delete') expect(text).toContain(newest);
        else
          expect(text).toMatch(
            new RegExp(`; skipped, as they have no _metadata \\(.*\\): (.*, )?${newest}(,|$)`, 'm'),
          );
        expectExactlyOnce(dirs.out);
      }, 60_000);
    }
  }

  it('refuses to start and changes nothing when no retained checkpoint is usable', async () => {
    const rng = new Rng(99);
    const { dirs } = await failedRun(99);
    for (const chk of completed(dirs.checkpoints)) damage(fileOfKind(chk, 'keyed'), 'flip', rng);
    const before = completed(dirs.checkpoints).map(digest);
    const out = digest(dirs.out);
    await expect(run(dirs, -1, true, [])).rejects.toThrow(RestoreError);
    expect(completed(dirs.checkpoints).map(digest)).toEqual(before);
    expect(digest(dirs.out)).toBe(out);
  }, 60_000);
});
