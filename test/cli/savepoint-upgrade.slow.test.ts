// Acceptance (issue 4, point 3) through the command line: a savepoint of version 1 of a job,
// taken with `weir stop`, restored by
// - version 2, whose counter state gained schema version 2 with a migration: counts go on
//   exactly where they stopped;
// - version 2 without the migration: exit 2 naming the state, the operator and both versions;
// - version 2 without one of the operators: exit 2 naming its uid and --allow-non-restored-state,
//   and with that flag it starts, saying what was dropped.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { expectOneLineError, JobFiles, weir, type WeirResult } from './weir-process.js';

const RECORDS = 400_000;
const KEYS = 50;

/** A job file: counts per key (n % 50) of 1..RECORDS; `counter` is the class body's state handling. */
function jobSource(options: {
  descriptor: string;
  read: string;
  write: string;
  withFormat: boolean;
}): string {
  return `
import { defineJob, FileSink, ListStateDescriptor, parseJobArgs, ValueStateDescriptor } from 'weir';

class Counter {
  open(ctx) {
    this.count = ctx.getState(${options.descriptor});
  }
  processElement(n, ctx, out) {
    // Slow enough (over 2 s in all) that the stop lands while the job runs, on any machine.
    if (n % 100 === 0) { const until = performance.now() + 0.5; while (performance.now() < until); }
    const c = ${options.read} + 1;
    this.count.update(${options.write});
    out.collect(ctx.getCurrentKey() + ',' + c);
  }
}

/** Passes lines on and counts them in operator list state: a stateful operator to drop. */
class Format {
  initializeState(ctx) {
    this.state = ctx.operatorStateStore.getListState(new ListStateDescriptor('lines'));
    this.lines = [...this.state.get()].reduce((a, b) => a + b, 0);
  }
  snapshotState() {
    this.state.update([this.lines]);
  }
  map(line) {
    this.lines++;
    return line;
  }
}

export default defineJob({
  name: 'upgrade',
  build(env, args) {
    const a = parseJobArgs(args, ['output']);
    let s = env.fromSequence(1, ${RECORDS}).setParallelism(1).uid('numbers')
      .keyBy((n) => n % ${KEYS})
      .process(new Counter()).uid('count');
    ${options.withFormat ? "s = s.map(new Format()).uid('format');" : ''}
    s.sinkTo(new FileSink(a.required('output'))).uid('sink');
  },
});
`;
}

const files = new JobFiles();
const V1 = files.write(
  'v1.ts',
  jobSource({
    descriptor: "new ValueStateDescriptor('count', { defaultValue: 0 })",
    read: 'this.count.value()',
    write: 'c',
    withFormat: true,
  }),
);
const V2 = files.write(
  'v2.ts',
  jobSource({
    descriptor:
      "new ValueStateDescriptor('count', { defaultValue: { n: 0 }, version: 2, migrate: (old, from) => { if (from !== 1) throw new Error('from ' + from); return { n: old }; } })",
    read: 'this.count.value().n',
    write: '{ n: c }',
    withFormat: true,
  }),
);
const V2_NO_MIGRATION = files.write(
  'v2-no-migration.ts',
  jobSource({
    descriptor: "new ValueStateDescriptor('count', { defaultValue: { n: 0 }, version: 2 })",
    read: 'this.count.value().n',
    write: '{ n: c }',
    withFormat: true,
  }),
);
const V1_DROPPED = files.write(
  'v1-dropped.ts',
  jobSource({
    descriptor: "new ValueStateDescriptor('count', { defaultValue: 0 })",
    read: 'this.count.value()',
    write: 'c',
    withFormat: false,
  }),
);
afterAll(() => files.remove());

function counts(dir: string): Map<string, number[]> {
  const seen = new Map<string, number[]>();
  for (const f of readdirSync(dir)) {
    if (f.startsWith('.') || f.startsWith('_')) continue;
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line === '') continue;
      const [k, c] = line.split(',');
      seen.set(k!, [...(seen.get(k!) ?? []), Number(c)]);
    }
  }
  return seen;
}

function expectExactlyOnce(dir: string): void {
  const seen = counts(dir);
  expect(seen.size).toBe(KEYS);
  for (const [key, l] of seen) {
    l.sort((a, b) => a - b);
    expect(l.length, key).toBe(RECORDS / KEYS);
    l.forEach((c, i) => c !== i + 1 && expect(c, `${key} at ${i}`).toBe(i + 1));
  }
}

/** Runs version 1 into `out` and stops it with a savepoint midway; returns the savepoint's folder. */
async function v1Savepoint(work: string, out: string, env: Record<string, string>): Promise<string> {
  let stop: Promise<WeirResult> | undefined;
  const run = await weir(['run', V1, '-p', '2', '--', '--output', out], {
    env,
    onStderr: (chunk) => {
      const m = /\(([0-9a-f-]{36})\) running/.exec(chunk);
      if (m !== null) stop ??= weir(['stop', m[1]!, '--savepoint-dir', join(work, 'sp')], { env });
    },
  });
  expect(run.code, run.stderr).toBe(0);
  const stopped = await stop!;
  expect(stopped.code, stopped.stderr).toBe(0);
  const committed = [...counts(out).values()].reduce((n, l) => n + l.length, 0);
  expect(committed).toBeGreaterThan(0);
  expect(committed).toBeLessThan(RECORDS);
  return stopped.stdout.trim().split('\n').at(-1)!;
}

describe('upgrading a job across a savepoint', () => {
  const work = mkdtempSync(join(tmpdir(), 'weir-upgrade-'));
  const env = { WEIR_HOME: join(work, 'home') };

  it('a schema version 2 with a migration continues the counts exactly', async () => {
    const out = join(work, 'out-migrated');
    const sp = await v1Savepoint(work, out, env);
    const refused = await weir(['run', V2_NO_MIGRATION, '-p', '3', '-s', sp, '--', '--output', out], { env });
    // The start says what it restores from, then fails when the counter registers its state.
    expect(refused.code, refused.stderr).toBe(2);
    const error = refused.stderr.trimEnd().split('\n').at(-1)!;
    expect(error).toMatch(/^weir: .*'count'/);
    expect(error).toMatch(/version 1/);
    expect(error).toMatch(/version 2/);
    expect(error).toMatch(/migrat/);
    const r = await weir(['run', V2, '-p', '3', '-s', sp, '--', '--output', out], { env });
    expect(r.code, r.stderr).toBe(0);
    expectExactlyOnce(out);
  }, 120_000);

  it('a dropped operator stops the start unless --allow-non-restored-state', async () => {
    const out = join(work, 'out-dropped');
    const sp = await v1Savepoint(work, out, env);
    const refused = await weir(['run', V1_DROPPED, '-s', sp, '--', '--output', out], { env });
    expectOneLineError(
      refused,
      2,
      /operators this job does not have: .*'format'.*--allow-non-restored-state/,
    );
    const r = await weir(['run', V1_DROPPED, '-s', sp, '--allow-non-restored-state', '--', '--output', out], {
      env,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/dropped the state of .*'format'/);
    expectExactlyOnce(out);
  }, 120_000);
});
