// `weir run` end to end: job modules of every flavour, flags and job arguments reaching the job,
// warnings, a failing job, and Ctrl-C.
import { cpSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readmeJobSource } from '../../scripts/extract-readme-job.js';
import { JobRegistry } from '../../src/cluster/job-registry.js';
import { expectOneLineError, JobFiles, weir } from './weir-process.js';

const files = new JobFiles();

const AB_JOB = (name: string) =>
  `import { defineJob } from 'weir';\nexport default defineJob({ name: '${name}', build(env) { env.fromElements('a', 'b').print(); } });\n`;

beforeAll(() => {
  // Outside a "type": "module" package, tsx compiles .ts to CommonJS: a different loading path.
  files.write('job.ts', AB_JOB('commonjs-scope'));
  files.write('esm/package.json', '{ "type": "module" }\n');
  files.write('esm/job.ts', AB_JOB('esm-ts'));
  files.write('esm/job.js', AB_JOB('esm-js'));
  files.write(
    'legacy.cjs',
    `const { defineJob } = require('weir');\nmodule.exports = defineJob({ name: 'cjs', build(env) { env.fromElements('a', 'b').print(); } });\n`,
  );
  files.write(
    'config.ts',
    `import { defineJob } from 'weir';
export default defineJob({
  name: 'config',
  build(env, args) {
    env.fromElements(JSON.stringify({ p: env.getParallelism(), max: env.getMaxParallelism(), args })).print();
  },
});
`,
  );
  files.write(
    'warns.ts',
    `import { defineJob } from 'weir';\nexport default defineJob({ name: 'warns', build(env) { env.fromElements('a').keyBy((s: string) => s).reduce((x: string) => x).print(); } });\n`,
  );
  files.write(
    'fails.ts',
    `import { defineJob } from 'weir';
export default defineJob({
  name: 'fails',
  build(env) {
    env.fromElements(2, 1, 3).map((n: number) => {
      if (n === 2) throw new Error('boom on 2\\nsecond line');
      return n;
    }).name('explode').print();
  },
});
`,
  );
  files.write(
    'stray.ts',
    `import { defineJob } from 'weir';
export default defineJob({
  name: 'stray',
  build(env) {
    setTimeout(() => { throw new RangeError('late'); }, 20);
    env.fromSequence(1, Number.MAX_SAFE_INTEGER).filter(() => false).print();
  },
});
`,
  );
  files.write(
    'slow.ts',
    `import { defineJob } from 'weir';
export default defineJob({
  name: 'slow',
  build(env) {
    // ~0.8 s, spread over every batch: barriers get between them.
    let i = 0;
    env.fromSequence(1, 800_000).map((n: number) => {
      if (++i % 1000 === 0) { const t = Date.now(); while (Date.now() - t < 1); }
      return n;
    }).filter(() => false).print();
  },
});
`,
  );
  files.write(
    'forever.ts',
    `import { defineJob } from 'weir';
export default defineJob({
  name: 'forever',
  build(env) {
    env.fromSequence(1, Number.MAX_SAFE_INTEGER).filter(() => false).print();
    process.stderr.write('built\\n');
  },
});
`,
  );
  // Jobs that import the engine by a path: its own entry (CommonJS scope, where tsx's require
  // would load a second copy), and a second copy of its files.
  const entry = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
  const eventTimeJob = (
    from: string,
  ) => `import { defineJob, DiscardingSink, WatermarkStrategy, type Source } from ${JSON.stringify(from)};
const src: Source<string> = { boundedness: 'bounded', createReader: () => {
  let n = 0;
  return { pollNext(out) { if (n === 2) return 'end-of-input'; out.collect('ab'[n]!, n++); return 'more-available'; } };
} };
export default defineJob({
  name: 'by-path',
  build(env) {
    env.fromSource(src, WatermarkStrategy.forMonotonousTimestamps<string>(), 'src').print();
  },
});
`;
  files.write('by-path.ts', eventTimeJob(entry));
  cpSync(fileURLToPath(new URL('../../src', import.meta.url)), join(files.dir, 'weir-copy/src'), {
    recursive: true,
  });
  files.write('weir-copy/package.json', '{ "type": "module" }\n');
  files.write('esm/copy.ts', eventTimeJob('../weir-copy/src/index.ts'));
});
afterAll(() => files.remove());

/** The JSON the config job prints, without the print sink's `subtask> ` prefix. */
function config(stdout: string): unknown {
  return JSON.parse(stdout.replace(/^\d+> /, ''));
}

describe.concurrent('weir run', () => {
  it.each(['job.ts', 'esm/job.ts', 'esm/job.js', 'legacy.cjs'])(
    'runs the job %s default-exports',
    async (file) => {
      expect(await weir(['run', file], { cwd: files.dir })).toEqual({
        code: 0,
        signal: null,
        stdout: 'a\nb\n',
        stderr: '',
      });
    },
  );

  it('closes a run that reached its end with one line: time, records, checkpoints', async () => {
    const r = await weir(['run', 'job.ts', '--checkpoint-interval', '1h', '--checkpoint-dir', 'chk'], {
      cwd: files.dir,
    });
    expect(r).toMatchObject({ code: 0, stdout: 'a\nb\n', stderr: '' });
    expect(r.rawStderr).toMatch(
      /^weir: job 'commonjs-scope' \([0-9a-f-]+\) finished in \d[\d.]* m?s: 2 records read, 2 written; 1 checkpoint, last checkpoint 1 \(\d+ B in \d[\d.]* m?s\)$/m,
    );
    const off = await weir(['run', 'job.ts'], { cwd: files.dir });
    expect(off.rawStderr).toMatch(
      /^weir: job 'commonjs-scope' \(.*\) finished in [^;]*: 2 records read, 2 written; checkpoints off$/m,
    );
  });

  it("prints a job's arguments for -- --help, without running it", async () => {
    const example = fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url));
    expect(await weir(['run', example, '--', '--help'])).toMatchObject({
      code: 0,
      stderr: '',
      stdout: `usage: weir run ${example} [options] -- [job arguments]\nthis job takes --input <value> --output <value>\n`,
    });
  });

  it("runs the README's job example (npm run typecheck checks its types)", async () => {
    files.write('readme/package.json', '{ "type": "module" }\n');
    files.write('readme/job.ts', readmeJobSource());
    const r = await weir(['run', 'readme/job.ts', '--', '--times', '2'], { cwd: files.dir });
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'hello,1\nworld,1\nhello,2\nworld,2\n' });
  });

  it('warns at the start when another running job of the same name checkpoints into the same dir', async () => {
    const home = join(files.dir, 'home-twin');
    const dir = join(files.dir, 'chk-twin');
    // This test's process stands in for the other run: its pid is alive.
    await new JobRegistry(home).register({
      jobId: 'aaaaaaaa-1111-4222-8333-444455556666',
      jobName: 'commonjs-scope',
      restUrl: 'http://127.0.0.1:1',
      startTime: Date.now(),
      checkpointDir: dir,
    });
    const run = (d: string, name = 'job.ts') =>
      weir(['run', name, '--checkpoint-interval', '1h', '--checkpoint-dir', d], {
        cwd: files.dir,
        env: { WEIR_HOME: home },
      });
    const twin = await run(dir);
    expect(twin).toMatchObject({ code: 0, stdout: 'a\nb\n' });
    expect(twin.stderr).toBe(
      `weir: warning: job 'commonjs-scope' is also running as aaaaaaaa-1111-4222-8333-444455556666 (pid ${process.pid}) with checkpoints in ${dir}; ` +
        'if both die, --resume cannot tell the two runs apart and refuses: give each its own --checkpoint-dir\n',
    );
    // Another dir, or another name: nothing to say.
    expect(await run(join(files.dir, 'chk-other'))).toMatchObject({ code: 0, stderr: '' });
    expect(await run(dir, 'esm/job.ts')).toMatchObject({ code: 0, stderr: '' });
  });

  it('keeps as many checkpoints as --checkpoints-retained says, and keeps them at the end with --checkpoint-retention', async () => {
    const kept = async (...flags: string[]): Promise<string[]> => {
      const dir = `chk-${flags.join('')}`;
      const r = await weir(
        ['run', 'slow.ts', '--checkpoint-interval', '10ms', '--checkpoint-dir', dir, ...flags],
        {
          cwd: files.dir,
        },
      );
      expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
      const [jobId] = readdirSync(join(files.dir, dir));
      return readdirSync(join(files.dir, dir, jobId!)).filter((n) => n.startsWith('chk-'));
    };
    const ids = (names: string[]): number[] => names.map((n) => Number(n.slice(4))).sort((a, b) => a - b);
    // A finished job's checkpoints go, as by default …
    expect(await kept('--checkpoints-retained', '3')).toEqual([]);
    // … unless retained; then the newest N (ids of aborted checkpoints are skipped), of at least 5 taken.
    const three = ids(
      await kept('--checkpoints-retained', '3', '--checkpoint-retention', 'retain-on-cancellation'),
    );
    expect(three).toHaveLength(3);
    expect(three[0]).toBeGreaterThanOrEqual(3);
    expect(await kept('--checkpoint-retention=retain-on-cancellation')).toHaveLength(1);
  });

  it('refuses checkpoint retention flags for a job that takes no checkpoints, and bad values', async () => {
    const off = await weir(['run', 'job.ts', '--checkpoints-retained', '2'], { cwd: files.dir });
    expectOneLineError(
      off,
      2,
      /^weir: --checkpoints-retained applies to checkpoints, and job 'commonjs-scope' takes none: add --checkpoint-interval DURATION \(or drop --checkpoints-retained\)\n$/,
    );
    const off0 = await weir(
      ['run', 'job.ts', '--checkpoint-interval', '0', '--checkpoint-retention', 'never'],
      {
        cwd: files.dir,
      },
    );
    expectOneLineError(
      off0,
      2,
      /^weir: --checkpoint-retention applies to checkpoints, and --checkpoint-interval 0 turns them off: drop one of the two\n$/,
    );
    const zero = await weir(['run', 'job.ts', '--checkpoint-interval', '1s', '--checkpoints-retained', '0'], {
      cwd: files.dir,
    });
    expectOneLineError(zero, 2, /--checkpoints-retained.*an integer from 1 to 1000000/);
    const mode = await weir(
      ['run', 'job.ts', '--checkpoint-interval', '1s', '--checkpoint-retention', 'sometimes'],
      {
        cwd: files.dir,
      },
    );
    expectOneLineError(
      mode,
      2,
      /--checkpoint-retention.*'delete-on-cancellation', 'retain-on-cancellation' or 'never'/,
    );
  });

  it("runs a job that imports weir's entry by its path", async () => {
    // Was: a second copy of the engine, and "the strategy must be a WatermarkStrategy".
    expect(await weir(['run', 'by-path.ts'], { cwd: files.dir })).toMatchObject({
      code: 0,
      stdout: 'a\nb\n',
    });
  });

  it('refuses, in one line, a job made with another copy of weir', async () => {
    expectOneLineError(
      await weir(['run', 'esm/copy.ts'], { cwd: files.dir }),
      2,
      /^weir: esm\/copy.ts uses another copy of weir than the one running it .*: import from 'weir' instead$/m,
    );
  });

  it('builds with parallelism 1 and max parallelism 128 by default', async () => {
    const r = await weir(['run', 'config.ts'], { cwd: files.dir });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(config(r.stdout)).toEqual({ p: 1, max: 128, args: [] });
  });

  it('passes -p and --max-parallelism to the environment, and everything after -- to the job', async () => {
    const args = ['--input', 'x y', '-p', '9', '--', '--help'];
    const r = await weir(['run', '-p', '3', 'config.ts', '--max-parallelism=64', '--', ...args], {
      cwd: files.dir,
    });
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(config(r.stdout)).toEqual({ p: 3, max: 64, args });
  });

  it('accepts --parallelism=N and a job file given by absolute path', async () => {
    const r = await weir(['run', `${files.dir}/config.ts`, '--parallelism=2']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(config(r.stdout)).toEqual({ p: 2, max: 128, args: [] });
  });

  it('prints graph warnings as weir: warning lines and still runs the job', async () => {
    const r = await weir(['run', 'warns.ts'], { cwd: files.dir });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('a\n');
    expect(r.stderr).toMatch(/^weir: warning: operator 'Reduce' keeps keyed state but has no uid[^\n]*\n$/);
  });

  it('exits with 1 and one line naming the operator when a function throws', async () => {
    const r = await weir(['run', 'fails.ts'], { cwd: files.dir });
    expectOneLineError(
      r,
      1,
      /^weir: job 'fails' failed: operator 'explode', subtask 1\/1, failed in \w+: boom on 2; not restarted: the restart strategy is none\n$/,
    );
  });

  it('refuses a job file that runs a job itself, when loaded or in build(), before anything runs', async () => {
    files.write(
      'esm/main.ts',
      `import { StreamExecutionEnvironment } from 'weir';\nconst env = new StreamExecutionEnvironment();\nenv.fromElements('ran').print();\nawait env.execute('x');\n`,
    );
    const loaded = await weir(['run', 'esm/main.ts'], { cwd: files.dir });
    expectOneLineError(
      loaded,
      2,
      /^weir: cannot load job file esm\/main\.ts: esm\/main\.ts runs a job itself \(env\.execute\(\)\); weir run runs the job a file default-exports: .*, or run such a program with tsx or node\n$/,
    );
    files.write(
      'in-build.ts',
      `import { defineJob } from 'weir';\nexport default defineJob({ name: 'ib', build(env) { env.fromElements('ran').print(); void env.execute('x'); } });\n`,
    );
    const built = await weir(['run', 'in-build.ts'], { cwd: files.dir });
    expectOneLineError(
      built,
      2,
      /^weir: cannot build job 'ib': build\(\) must not call env\.execute\(\): weir run runs the graph that build\(\) made once it returns; remove the call\n$/,
    );
    // A program that awaits something first calls execute() after the file was loaded.
    files.write(
      'esm/late-main.ts',
      `import { StreamExecutionEnvironment } from 'weir';\nasync function main() {\n  await new Promise((r) => setTimeout(r, 10));\n  const env = new StreamExecutionEnvironment();\n  env.fromElements('ran').print();\n  await env.execute('late');\n}\nvoid main();\n`,
    );
    const late = await weir(['run', 'esm/late-main.ts'], { cwd: files.dir });
    expect(late.code).toBe(2);
    expect(loaded.stdout + built.stdout + late.stdout).toBe('');
  });

  it('lets an operator run a job of its own while the job runs (one that fills a table in open())', async () => {
    files.write(
      'nested.ts',
      `import { CollectSink, defineJob, StreamExecutionEnvironment } from 'weir';
export default defineJob({
  name: 'nested',
  build(env) {
    env.fromElements(1).map({
      async open() {
        const inner = new StreamExecutionEnvironment();
        const sink = new CollectSink<number>();
        inner.fromElements(1, 2).map((n: number) => n * 2).sinkTo(sink);
        await inner.execute('inner');
        console.log('inner: ' + sink.results.join(','));
      },
      map: (n: number) => n,
    }).print();
  },
});
`,
    );
    expect(await weir(['run', 'nested.ts'], { cwd: files.dir })).toMatchObject({
      code: 0,
      stdout: 'inner: 2,4\n1\n',
      stderr: '',
    });
  });

  it('ends when its job did, whatever the job file left running (a timer)', async () => {
    files.write(
      'lingering.ts',
      `import { defineJob } from 'weir';\nsetInterval(() => undefined, 1000);\nexport default defineJob({ name: 'lingering', build(env) { env.fromElements('a').print(); } });\n`,
    );
    const started = Date.now();
    const r = await Promise.race([
      weir(['run', 'lingering.ts'], { cwd: files.dir }),
      new Promise<'still running'>((res) => setTimeout(() => res('still running'), 20_000).unref()),
    ]);
    expect(r).toMatchObject({ code: 0, stdout: 'a\n', stderr: '' });
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  it("names weir's API beside a Flink name the job used, at build and while running", async () => {
    files.write(
      'flink-build.ts',
      `import { defineJob } from 'weir';\nexport default defineJob({ name: 'fb', build(env: any) { env.addSource({}); } });\n`,
    );
    expectOneLineError(
      await weir(['run', 'flink-build.ts'], { cwd: files.dir }),
      2,
      /^weir: cannot build job 'fb': TypeError: env\.addSource is not a function \(Flink's addSource; in weir: env\.fromSource\(source, name\)/,
    );
    files.write(
      'flink-run.ts',
      `import { defineJob } from 'weir';
export default defineJob({
  name: 'fr',
  build(env) {
    env.setRestartStrategy({ type: 'none' });
    env.fromElements(1).map({ open(this: any) { this.getRuntimeContext(); }, map: (n: number) => n }).print();
  },
});
`,
    );
    expectOneLineError(
      await weir(['run', 'flink-run.ts'], { cwd: files.dir }),
      1,
      /^weir: job 'fr' failed: .*this\.getRuntimeContext is not a function \(Flink's getRuntimeContext; in weir: the RuntimeContext that open\(ctx\) is given.*; not restarted: the restart strategy is none\n$/,
    );
  });

  it('adds the stack of the failure and of its cause with WEIR_DEBUG=1', async () => {
    const r = await weir(['run', 'fails.ts'], { cwd: files.dir, env: { WEIR_DEBUG: '1' } });
    expect(r.code).toBe(1);
    const [first, ...rest] = r.stderr.split('\n');
    expect(first).toMatch(/^weir: job 'fails' failed: operator 'explode'.*: boom on 2; not restarted: /);
    expect(rest.join('\n')).toMatch(/caused by: Error: boom on 2\nsecond line\n\s+at .*fails\.ts:\d+:\d+/);
  });

  it('reports an error thrown outside any operator as the job failing, in one line', async () => {
    const r = await weir(['run', 'stray.ts'], { cwd: files.dir });
    expectOneLineError(r, 1, /^weir: job 'stray' failed: uncaught error: RangeError: late\n$/);
  });

  it('says in one line, without class names, why it cannot start from a snapshot', async () => {
    const missing = await weir(['run', 'job.ts', '-s', 'no-such-savepoint'], { cwd: files.dir });
    expectOneLineError(missing, 2, /^weir: \S*no-such-savepoint: no such savepoint or checkpoint/);
    files.write('not-a-snapshot/readme.txt', 'hello\n');
    const notOne = await weir(['run', 'job.ts', '-s', 'not-a-snapshot'], { cwd: files.dir });
    expectOneLineError(
      notOne,
      2,
      /^weir: \S*not-a-snapshot: no _metadata in this folder; it is not a savepoint/,
    );
  });

  it('exits with 130 on Ctrl-C', async () => {
    let sent = false;
    const r = await weir(['run', 'forever.ts'], {
      cwd: files.dir,
      onStderr: (chunk, child) => {
        if (!sent && chunk.includes('built')) sent = child.kill('SIGINT');
      },
    });
    expect(r).toEqual({ code: 130, signal: null, stdout: '', stderr: 'built\nweir: interrupted\n' });
  });

  it('exits with 0 on Ctrl-C after its job finished (only the REST server was being closed)', async () => {
    let sent = false;
    const r = await weir(['run', 'job.ts', '--checkpoint-interval', '1h', '--rest-port', '0'], {
      cwd: files.dir,
      onStderr: (chunk, child) => {
        if (!sent && chunk.includes(') finished in ')) sent = child.kill('SIGINT');
      },
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain('interrupted');
  });

  it('runs its job to the end when nobody reads its standard error any more (2>&1 | head)', async () => {
    let closed = false;
    const r = await weir(['run', 'job.ts', '--checkpoint-interval', '1h', '--rest-port', '0'], {
      cwd: files.dir,
      onStderr: (_chunk, child) => {
        if (!closed) {
          closed = true;
          child.stderr!.destroy();
        }
      },
    });
    expect(closed).toBe(true);
    expect(r.code).toBe(0);
  });

  it('exits with 129 on SIGHUP (its terminal closed), in one line', async () => {
    // (Was: killed by the signal, without a word, its weir list entry left behind.)
    let sent = false;
    const r = await weir(['run', 'forever.ts'], {
      cwd: files.dir,
      onStderr: (chunk, child) => {
        if (!sent && chunk.includes(' running; REST API at ')) sent = child.kill('SIGHUP');
      },
    });
    expect(r).toEqual({ code: 129, signal: null, stdout: '', stderr: 'built\nweir: hung up (SIGHUP)\n' });
  });

  it('exits with 143 on SIGTERM, in one line, and leaves no entry in weir list', async () => {
    let sent = false;
    const r = await weir(['run', 'forever.ts'], {
      cwd: files.dir,
      onStderr: (chunk, child) => {
        if (!sent && chunk.includes(' running; REST API at ')) sent = child.kill('SIGTERM');
      },
    });
    expect(r).toEqual({
      code: 143,
      signal: null,
      stdout: '',
      stderr: 'built\nweir: terminated (SIGTERM)\n',
    });
    const list = await weir(['list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.stringify(JSON.parse(list.stdout))).not.toContain('forever');
  });
});
