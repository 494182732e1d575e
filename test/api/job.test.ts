import { describe, expect, it } from 'vitest';
import {
  defineJob,
  isJobDefinition,
  JobArgumentError,
  JobHelpRequested,
  parseJobArgs,
  StreamExecutionEnvironment,
} from '../../src/index.js';

describe('defineJob', () => {
  it('brands a job so the CLI can recognise it across module copies', () => {
    const job = defineJob({ name: 'j', build() {} });
    expect(isJobDefinition(job)).toBe(true);
    expect(isJobDefinition({ name: 'j', build() {} })).toBe(false);
    expect(isJobDefinition(undefined)).toBe(false);
  });

  it('rejects a job without a name or build function', () => {
    expect(() => defineJob({ name: ' ', build() {} })).toThrow(/non-empty name/);
    expect(() => defineJob({ name: 'x' } as never)).toThrow(/build\(env, args\)/);
  });

  it('calls build with the environment and the job arguments', async () => {
    let seen: readonly string[] = [];
    const job = defineJob({
      name: 'j',
      build(env, args) {
        seen = args;
        env.fromElements(1).print();
      },
    });
    const env = new StreamExecutionEnvironment();
    await job.build(env, ['--a', '1']);
    expect(seen).toEqual(['--a', '1']);
    expect(env.getJobGraph().vertices.length).toBe(1);
  });
});

describe('parseJobArgs', () => {
  it('reads --name value and --name=value', () => {
    const a = parseJobArgs(['--input', 'x.txt', '--n=5'], ['input', 'n', 'output']);
    expect(a.required('input')).toBe('x.txt');
    expect(a.integer('n', 1)).toBe(5);
    expect(a.optional('output', 'out')).toBe('out');
  });

  it('fails with messages a user can act on', () => {
    expect(() => parseJobArgs(['--inptu', 'x'], ['input'])).toThrow(
      /unknown job argument '--inptu'; this job takes --input/,
    );
    expect(() => parseJobArgs(['x'], ['input'])).toThrow(JobArgumentError);
    expect(() => parseJobArgs(['--input'], ['input'])).toThrow(/'--input' needs a value/);
    expect(() => parseJobArgs(['--input', 'x', '-h'], ['input', 'output'])).toThrow(
      new JobHelpRequested('this job takes --input <value> --output <value>'),
    );
    expect(() => parseJobArgs(['--help'], ['input'])).toThrow(JobHelpRequested);
    // A value that reads like a flag is a value.
    expect(parseJobArgs(['--sep', '-h'], ['sep']).required('sep')).toBe('-h');
    // Help is answered before any other mistake.
    for (const args of [
      ['--input', '--help'],
      ['--inptu', 'x', '--help'],
      ['x', '--help'],
      ['--input', 'a', '--input', 'b', '-h'],
    ])
      expect(() => parseJobArgs(args, ['input']), args.join(' ')).toThrow(JobHelpRequested);
    // A job that takes a --help of its own gets it.
    expect(parseJobArgs(['--help', 'yes'], ['help']).required('help')).toBe('yes');
    expect(() => parseJobArgs(['--input', 'a', '--input=b'], ['input'])).toThrow(
      /job argument '--input' given twice; give it once/,
    );
    expect(() => parseJobArgs([], ['input']).required('input')).toThrow(/missing job argument '--input'/);
    expect(() => parseJobArgs(['--n', 'many'], ['n']).integer('n', 1)).toThrow(
      /must be a non-negative integer, got 'many'/,
    );
  });
});
