// Every usage, configuration and job-file mistake exits with 2 and exactly one `weir: ` line on
// stderr (ARCHITECTURE.md §9), never a stack trace.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectOneLineError, JobFiles, weir } from './weir-process.js';

const files = new JobFiles();

beforeAll(() => {
  files.write(
    'ok.ts',
    `import { defineJob } from 'weir';\nexport default defineJob({ name: 'ok', build(env) { env.fromElements('a').print(); } });\n`,
  );
  files.write('folder/.keep', '');
  files.write(
    'syntax.ts',
    `import { defineJob } from 'weir';\nexport default defineJob({ name: 'x', build(env { } });\n`,
  );
  files.write('missing-import.ts', `import { nope } from 'no-such-package';\nexport default nope;\n`);
  files.write(
    'throws-on-load.ts',
    `import { defineJob } from 'weir';\nexport default defineJob({ name: '', build() {} });\n`,
  );
  files.write('not-a-job.ts', `export default { name: 'x', build() {} };\n`);
  // One job that makes build() fail in each way it can, chosen by its first argument.
  files.write(
    'build-errors.ts',
    `import { defineJob, parseJobArgs } from 'weir';
export default defineJob({
  name: 'build-errors',
  build(env, args) {
    switch (args[0]) {
      case 'job-args': parseJobArgs(args.slice(1), ['input']).required('input'); break;
      case 'graph': env.fromElements(1).map((n: number) => n).name(''); break;
      case 'checkpoint': env.enableCheckpointing(-5); break;
      case 'type-error': (undefined as unknown as { x: { y: number } }).x.y; break;
      case 'plain': throw new Error('the input folder is empty\\nsecond line');
      case 'async': return Promise.reject(new RangeError('too far'));
    }
    env.fromElements(1).print();
  },
});
`,
  );
});
afterAll(() => files.remove());

const NOT_A_JOB =
  /^weir: not-a-job\.ts does not default-export a job; write: export default defineJob\(\{ name, build\(env, args\) \{ … \} \}\)\n$/;

const cases: ReadonlyArray<readonly [string, readonly string[], RegExp]> = [
  // The command line itself.
  ['an unknown command', ['frob'], /^weir: unknown command 'frob'; see 'weir --help'\n$/],
  ['an unknown top-level option', ['--foo'], /^weir: unknown option '--foo'; see 'weir --help'\n$/],
  [
    'an argument after --version',
    ['--version', 'extra'],
    /^weir: unexpected argument 'extra' after --version\n$/,
  ],
  ['no job file', ['run'], /^weir: missing job file; usage: weir run <job\.ts\|job\.js>/],
  [
    'an unknown option',
    ['run', 'ok.ts', '--foo'],
    /^weir: unknown option '--foo' for 'weir run'; see 'weir run --help'\n$/,
  ],
  ['-p without a value', ['run', 'ok.ts', '-p'], /^weir: option '-p' needs a value \(N\)/],
  [
    '-p abc',
    ['run', 'ok.ts', '-p', 'abc'],
    /^weir: invalid value 'abc' for '-p': expected an integer from 1 to 32768\n$/,
  ],
  ['-p 0', ['run', 'ok.ts', '-p', '0'], /^weir: invalid value '0' for '-p'/],
  [
    '--max-parallelism 0',
    ['run', 'ok.ts', '--max-parallelism', '0'],
    /^weir: invalid value '0' for '--max-parallelism'/,
  ],
  [
    '--max-parallelism=40000',
    ['run', 'ok.ts', '--max-parallelism=40000'],
    /^weir: invalid value '40000' for '--max-parallelism'/,
  ],
  [
    'p above max parallelism',
    ['run', 'ok.ts', '-p', '8', '--max-parallelism', '4'],
    /^weir: parallelism 8 is larger than max parallelism 4;/,
  ],
  // The job file.
  ['a missing job file', ['run', 'nope.ts'], /^weir: job file not found: nope\.ts\n$/],
  ['a folder as job file', ['run', 'folder'], /^weir: job file folder is not a file/],
  [
    'a syntax error',
    ['run', 'syntax.ts'],
    /^weir: cannot load job file syntax\.ts: .*syntax\.ts:2:\d+: ERROR: Expected/,
  ],
  [
    'a missing import',
    ['run', 'missing-import.ts'],
    /^weir: cannot load job file missing-import\.ts: .*'no-such-package'/,
  ],
  [
    'a throw while loading',
    ['run', 'throws-on-load.ts'],
    /^weir: cannot load job file throws-on-load\.ts: TypeError: defineJob.*non-empty name\n$/,
  ],
  ['a default export that is not a job', ['run', 'not-a-job.ts'], NOT_A_JOB],
  // build().
  [
    'a missing job argument',
    ['run', 'build-errors.ts', '--', 'job-args'],
    /^weir: cannot build job 'build-errors': missing job argument '--input'/,
  ],
  [
    'an invalid graph',
    ['run', 'build-errors.ts', '--', 'graph'],
    /^weir: cannot build job 'build-errors': name\(\.\.\.\) needs a non-empty string\n$/,
  ],
  [
    'a bad checkpoint setting',
    ['run', 'build-errors.ts', '--', 'checkpoint'],
    /^weir: cannot build job 'build-errors': checkpoint interval/,
  ],
  [
    'checkpoint storage this version cannot write to',
    ['run', 'ok.ts', '--checkpoint-interval', '1s', '--checkpoint-dir', 's3://bucket/x'],
    /^weir: checkpoint storage 's3:\/\/bucket\/x' is not supported by this version of weir; use a local or mounted folder\n$/,
  ],
  [
    '--allow-non-restored-state without a restore',
    ['run', 'ok.ts', '--allow-non-restored-state'],
    /^weir: --allow-non-restored-state applies to a restore \(-s PATH or --resume\); add one or drop it\n$/,
  ],
  [
    'a checkpoint interval longer than a timer waits',
    ['run', 'ok.ts', '--checkpoint-interval', '1000h'],
    /^weir: checkpoint interval must be at most 2147483647 ms \(about 24\.8 days, the longest a Node\.js timer waits\), got 3600000000\n$/,
  ],
  [
    'a checkpoint interval that is not whole milliseconds (it was taken as 0: checkpoints off)',
    ['run', 'ok.ts', '--checkpoint-interval', '0.1ms'],
    /^weir: invalid value '0\.1ms' for '--checkpoint-interval': expected a duration in whole milliseconds, such as 500ms, 10s or 2min\n$/,
  ],
  [
    'a TypeError in build',
    ['run', 'build-errors.ts', '--', 'type-error'],
    /^weir: cannot build job 'build-errors': TypeError: Cannot read properties of undefined/,
  ],
  [
    'an Error in build',
    ['run', 'build-errors.ts', '--', 'plain'],
    /^weir: cannot build job 'build-errors': the input folder is empty\n$/,
  ],
  [
    'a rejected async build',
    ['run', 'build-errors.ts', '--', 'async'],
    /^weir: cannot build job 'build-errors': RangeError: too far\n$/,
  ],
  [
    'a missing input file (FileSource)',
    [
      'run',
      fileURLToPath(new URL('../../examples/word-count.ts', import.meta.url)),
      '--',
      '--input',
      'no-such.txt',
      '--output',
      'out',
    ],
    /^weir: cannot build job 'word-count': input path not found: \S*\/no-such\.txt; give an existing file or directory\n$/,
  ],
];

describe.concurrent('weir exits with 2 and one line for', () => {
  it.each(cases)('%s', async (_name, args, pattern) => {
    expectOneLineError(await weir(args, { cwd: files.dir }), 2, pattern);
  });
});
