// `weir savepoint inspect` and `weir savepoint dispose`, through main() in process, on a real
// savepoint: a keyed count at p=2 stopped with a savepoint midway. What inspect reports is checked
// against the files on disk and the job's committed output (every key counted before the
// savepoint appears in it), and the folder must be byte-for-byte unchanged by inspecting it.
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/errors.js';
import { main } from '../../src/cli/main.js';
import { expectOneLineError, weir } from './weir-process.js';
import type { SnapshotSummary } from '../../src/cli/savepoint-inspect.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
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
import { decodeMetadata, type SnapshotMetadata } from '../../src/storage/metadata.js';

const RECORDS = 20_000;
const KEYS = 37;

async function weirInProcess(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { out: (t) => (stdout += t), err: (l) => (stderr += l + '\n'), env: {} };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `weir-spi-${prefix}-`));
}

/** Counts per key; slow enough that the stop lands in the middle of the input. */
class Counter implements KeyedProcessFunction<number, number, string> {
  private count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }
  processElement(n: number, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    if (n % 20 === 0) {
      const until = performance.now() + 0.3;
      while (performance.now() < until);
    }
    const c = this.count.value()! + 1;
    this.count.update(c);
    out.collect(`${ctx.getCurrentKey()},${c}`);
  }
}

/** Keys in the committed output: the keys whose count the savepoint holds. */
function distinctKeys(dir: string): number {
  const keys = new Set<string>();
  for (const f of readdirSync(dir)) {
    if (f.startsWith('.') || f.startsWith('_')) continue;
    for (const l of readFileSync(join(dir, f), 'utf8').split('\n')) if (l !== '') keys.add(l.split(',')[0]!);
  }
  return keys.size;
}

/** Relative path → sha256 of every file under `dir`. */
function fingerprint(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const p = join(dir, f);
    if (statSync(p).isFile()) out.set(f, createHash('sha256').update(readFileSync(p)).digest('hex'));
  }
  return out;
}

let savepoint: string;
let metadata: SnapshotMetadata;
let keysCounted: number;

beforeAll(async () => {
  const out = tmp('out');
  const env = new StreamExecutionEnvironment({ parallelism: 2, execution: { batchSize: 128 } });
  env.setRestartStrategy({ type: 'none' });
  env
    .fromSequence(1, RECORDS)
    .setParallelism(1)
    .uid('numbers')
    .keyBy((n) => n % KEYS)
    .process(new Counter())
    .uid('count')
    .sinkTo(new FileSink<string>(out))
    .uid('sink');
  const result = await env.execute('savepoint-inspect', {
    savepointDir: tmp('sp'),
    onStart: (master: JobMaster) => {
      const poll = setInterval(() => {
        const s = master.status();
        if (s.state !== 'running' || s.recordsIn < RECORDS / 4) return;
        clearInterval(poll);
        master.stop({});
      }, 5);
    },
  });
  expect(result.savepointPath).toBeDefined();
  savepoint = result.savepointPath!;
  metadata = decodeMetadata(readFileSync(join(savepoint, '_metadata')), 'test');
  keysCounted = distinctKeys(out);
  expect(keysCounted).toBeGreaterThan(0);
});

/** Sizes on disk of the data files `_metadata` names for the operator with `uid`. */
function bytesOnDisk(uid: string): number {
  const op = metadata.operators.find((o) => o.uid === uid)!;
  const paths = new Set(
    op.subtasks.flatMap((s) =>
      [s.keyed, s.operator, s.timers, s.sink].flatMap((h) => (h === null ? [] : [h.path])),
    ),
  );
  return [...paths].reduce((n, p) => n + statSync(join(savepoint, p)).size, 0);
}

describe('weir savepoint inspect', () => {
  it('shows the job, operators, uids and states, and leaves the folder as it was', async () => {
    const before = fingerprint(savepoint);
    const r = await weirInProcess('savepoint', 'inspect', savepoint);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^ {2}kind: +savepoint$/m);
    expect(r.stdout).toMatch(new RegExp(`^ {2}id: +${metadata.id}$`, 'm'));
    expect(r.stdout).toMatch(/^ {2}job name: +savepoint-inspect$/m);
    expect(r.stdout).toMatch(new RegExp(`^ {2}job id: +${metadata.jobId}$`, 'm'));
    expect(r.stdout).toContain(new Date(metadata.timestamp).toISOString());
    expect(r.stdout).toMatch(/^ {2}format version: +3$/m);
    expect(r.stdout).toMatch(/^ {2}total size: +.*bytes/m);
    for (const uid of ['numbers', 'count', 'sink'])
      expect(r.stdout).toMatch(new RegExp(`^operator ${uid}$`, 'm'));
    expect(r.stdout).toMatch(/^ {2}parallelism: +2$/m);
    expect(r.stdout).toMatch(/^ {2}max parallelism: +128$/m);
    expect(r.stdout).toMatch(new RegExp(`^ {4}count +value +keyed +- +${keysCounted} +weir-cbor +1$`, 'm'));
    // The _metadata file works as the path too.
    expect(await weirInProcess('savepoint', 'inspect', join(savepoint, '_metadata'))).toEqual(r);
    expect(fingerprint(savepoint)).toEqual(before);
  });

  it('--json: one document whose entries and sizes agree with the job and the files on disk', async () => {
    const r = await weirInProcess('savepoint', 'inspect', savepoint, '--json');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    const doc = JSON.parse(r.stdout) as SnapshotSummary;
    expect(doc).toMatchObject({
      path: savepoint,
      kind: 'savepoint',
      id: metadata.id,
      jobId: metadata.jobId,
      jobName: 'savepoint-inspect',
      timestamp: metadata.timestamp,
      weirVersion: metadata.weirVersion,
      formatVersion: 3,
    });
    // totalBytes: _metadata and every data file, which is everything in the folder.
    const files = readdirSync(savepoint);
    expect(doc.totalBytes).toBe(files.reduce((n, f) => n + statSync(join(savepoint, f)).size, 0));
    expect(doc.operators.map((o) => o.uid)).toEqual(expect.arrayContaining(['numbers', 'count', 'sink']));

    const count = doc.operators.find((o) => o.uid === 'count')!;
    expect(count).toMatchObject({ name: expect.any(String), parallelism: 2, maxParallelism: 128 });
    expect(count.operatorId).toMatch(/^[0-9a-f]{32}$/);
    expect(count.states).toEqual([
      {
        name: 'count',
        kind: 'value',
        scope: 'keyed',
        entries: keysCounted,
        serializer: 'weir-cbor',
        version: 1,
      },
    ]);
    expect(count.subtasks.map((s) => s.index)).toEqual([0, 1]);
    expect(count.subtasks.map((s) => s.keyGroups)).toEqual([
      [0, 63],
      [64, 127],
    ]);
    expect(count.stateBytes).toBeGreaterThan(0);
    expect(count.stateBytes).toBe(bytesOnDisk('count'));
    expect(count.stateBytes).toBe(count.subtasks.reduce((n, s) => n + s.bytes, 0));
    for (const uid of ['numbers', 'sink']) {
      const op = doc.operators.find((o) => o.uid === uid)!;
      expect(op.stateBytes).toBe(bytesOnDisk(uid));
    }
  });

  it('--verify reads every data file', async () => {
    const before = fingerprint(savepoint);
    const data = readdirSync(savepoint).filter((f) => f !== '_metadata');
    const bytes = data.reduce((n, f) => n + statSync(join(savepoint, f)).size, 0);
    const r = await weirInProcess('savepoint', 'inspect', savepoint, '--verify');
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe(`verified ${data.length} files, ${bytes} bytes`);
    const j = await weirInProcess('savepoint', 'inspect', savepoint, '--verify', '--json');
    expect(j.code).toBe(0);
    expect((JSON.parse(j.stdout) as { verified: unknown }).verified).toEqual({ files: data.length, bytes });
    expect(j.stderr).toBe(`weir: verified ${data.length} files, ${bytes} bytes\n`);
    expect(fingerprint(savepoint)).toEqual(before);
  });

  it('--verify names a data file with one flipped byte and exits with 2', async () => {
    const copy = join(tmp('flip'), 'copy');
    cpSync(savepoint, copy, { recursive: true });
    const keyed = metadata.operators
      .find((o) => o.uid === 'count')!
      .subtasks.find((s) => s.keyed !== null)!.keyed!;
    const file = join(copy, keyed.path);
    const bytes = readFileSync(file);
    const [, offset] = keyed.sections[0]!; // inside the first section's payload
    bytes[offset] = bytes[offset]! ^ 0x01;
    writeFileSync(file, bytes);

    // Without --verify only _metadata is read: the damage goes unseen.
    expect((await weirInProcess('savepoint', 'inspect', copy)).code).toBe(0);
    const r = await weirInProcess('savepoint', 'inspect', copy, '--verify');
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')).toHaveLength(2); // one line
    expect(r.stderr).toMatch(/^weir: state file .*checksum mismatch/);
    expect(r.stderr).toContain(keyed.path);
  });

  it('a damaged _metadata exits with 2, naming it', async () => {
    const copy = join(tmp('meta'), 'copy');
    cpSync(savepoint, copy, { recursive: true });
    const file = join(copy, '_metadata');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(/"jobName": "savepoint-inspect"/, '"jobName": "x"'),
    );
    const r = await weirInProcess('savepoint', 'inspect', copy);
    expect(r).toMatchObject({ code: 2, stdout: '' });
    expect(r.stderr).toMatch(/^weir: .*_metadata: checksum mismatch[^\n]*\n$/);
    expect(r.stderr).toContain(file);
  });

  it('exits with 2 and one line when _metadata cannot be read (a link to itself); dispose then deletes nothing', async () => {
    // (Was: "internal error … this is a bug in weir", exit 1.)
    const dir = tmp('loop');
    symlinkSync('_metadata', join(dir, '_metadata'));
    writeFileSync(join(dir, 'other'), 'x');
    for (const command of ['inspect', 'dispose']) {
      const r = await weirInProcess('savepoint', command, dir);
      expect(r).toMatchObject({ code: 2, stdout: '' });
      expect(r.stderr).toMatch(/^weir: [^\n]*_metadata: cannot be read \(ELOOP[^\n]*\n$/);
    }
    expect(readdirSync(dir).sort()).toEqual(['_metadata', 'other']);
  });

  it('a folder without _metadata exits with 2 and one line', async () => {
    const dir = tmp('empty');
    mkdirSync(join(dir, 'sub'));
    const r = await weirInProcess('savepoint', 'inspect', dir);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: `weir: ${dir}: no _metadata in this folder; it is not a savepoint or a completed checkpoint\n`,
    });
  });
});

describe('weir savepoint dispose', () => {
  it('deletes the savepoint folder', async () => {
    const copy = join(tmp('dispose'), 'copy');
    cpSync(savepoint, copy, { recursive: true });
    const r = await weirInProcess('savepoint', 'dispose', copy);
    expect(r).toEqual({ code: 0, stdout: '', stderr: `weir: disposed savepoint ${copy}\n` });
    expect(existsSync(copy)).toBe(false);
    expect(existsSync(savepoint)).toBe(true);
  });

  it('deletes the folder a link leads to, not only the link', async () => {
    const copy = join(tmp('dispose-link'), 'copy');
    cpSync(savepoint, copy, { recursive: true });
    const link = join(tmp('dispose-link'), 'link');
    symlinkSync(copy, link);
    const r = await weirInProcess('savepoint', 'dispose', link);
    expect(r).toEqual({
      code: 0,
      stdout: '',
      stderr: `weir: disposed savepoint ${copy} (through ${link})\n`,
    });
    expect(existsSync(copy)).toBe(false);
  });

  it('exits with 2 for a path that does not exist', async () => {
    const missing = join(tmp('missing'), 'nope');
    const r = await weirInProcess('savepoint', 'dispose', missing);
    expect(r).toEqual({
      code: 2,
      stdout: '',
      stderr: `weir: ${missing}: no such savepoint or checkpoint (the path does not exist)\n`,
    });
  });

  it('refuses an empty path (an unset variable) instead of taking the current folder', async () => {
    const copy = join(tmp('empty'), 'copy');
    cpSync(savepoint, copy, { recursive: true });
    const before = readdirSync(copy).sort();
    for (const args of [
      ['dispose', ''],
      ['dispose', ' '],
      ['inspect', ''],
    ]) {
      const r = await weir(['savepoint', ...args], { cwd: copy });
      expectOneLineError(
        r,
        2,
        /^weir: the savepoint path is empty \(an unset variable\?\); give the savepoint's folder or its _metadata file\n$/,
      );
    }
    expect(readdirSync(copy).sort()).toEqual(before);
  });

  it('deletes nothing in a folder that is not a snapshot', async () => {
    const dir = tmp('not');
    writeFileSync(join(dir, 'keep.txt'), 'x');
    expect((await weirInProcess('savepoint', 'dispose', dir)).code).toBe(2);
    expect(readdirSync(dir)).toEqual(['keep.txt']);
  });
});

describe('weir savepoint usage', () => {
  it.each([
    [
      [],
      'weir: missing job id or subcommand; usage: weir savepoint <job-id> [--target-dir DIR] | weir savepoint inspect <path> [--json] [--verify] | weir savepoint dispose <path>',
    ],
    [['inspect'], 'weir: missing savepoint path; usage: weir savepoint inspect <path> [--json] [--verify]'],
    [['dispose'], 'weir: missing savepoint path; usage: weir savepoint dispose <path>'],
    [
      ['inspect', 'a', 'b'],
      "weir: unexpected argument 'b' for 'weir savepoint inspect'; give one savepoint folder",
    ],
    [
      ['inspect', 'a', '--target-dir', 'x'],
      "weir: unknown option '--target-dir' for 'weir savepoint inspect'; see 'weir savepoint inspect --help'",
    ],
  ])('weir savepoint %j exits with 2', async (args, line) => {
    expect(await weirInProcess('savepoint', ...args)).toEqual({ code: 2, stdout: '', stderr: `${line}\n` });
  });

  it('has a help for each form', async () => {
    const top = await weirInProcess('savepoint', '--help');
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(
      /^Usage: weir savepoint <job-id> \[options\]\n {7}weir savepoint inspect <path> \[options\]\n {7}weir savepoint dispose <path> \[options\]\n/,
    );
    expect(top.stdout).toMatch(/^ {6}--target-dir DIR /m);
    const inspect = await weirInProcess('savepoint', 'inspect', '--help');
    expect(inspect.stdout).toMatch(/^Usage: weir savepoint inspect <path> \[options\]\n/);
    expect(inspect.stdout).toMatch(/^ {6}--json /m);
    expect(inspect.stdout).toMatch(/^ {6}--verify /m);
    expect(inspect.stdout).not.toContain('--target-dir');
    expect(await weirInProcess('help', 'savepoint', 'inspect')).toEqual(inspect);
    const dispose = await weirInProcess('savepoint', 'dispose', 'x', '-h');
    expect(dispose.stdout).toMatch(/^Usage: weir savepoint dispose <path> \[options\]\n/);
    expect(dispose.stdout).not.toContain('--json');
  });
});
