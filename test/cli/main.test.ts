// main() in process, for routing and messages that do not need a real process: quicker than
// spawning `weir`, which the other CLI tests do for everything a user meets end to end.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CliIO } from '../../src/cli/errors.js';
import { main } from '../../src/cli/main.js';

async function weirInProcess(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: CliIO = { out: (t) => (stdout += t), err: (l) => (stderr += l + '\n'), env: {} };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

const version = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

describe('main', () => {
  it('shows the same help for no arguments, -h and help', async () => {
    const [none, short, word] = await Promise.all([
      weirInProcess(),
      weirInProcess('-h'),
      weirInProcess('help'),
    ]);
    expect(none).toMatchObject({ code: 0, stderr: '' });
    expect(none.stdout).toContain('run <job.ts|job.js>');
    expect(short).toEqual(none);
    expect(word).toEqual(none);
  });

  it("shows a command's help for 'help <command>' and for -h anywhere before --", async () => {
    const direct = await weirInProcess('run', '--help');
    expect(direct.stdout).toMatch(/^Usage: weir run /);
    expect(await weirInProcess('help', 'run')).toEqual(direct);
    expect(await weirInProcess('run', 'job.ts', '--nonsense', '-h', '--', 'x')).toEqual(direct);
  });

  it('prints the version of package.json', async () => {
    expect(await weirInProcess('--version')).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
  });

  it.each([
    [['stop'], 'weir: missing job id; usage: weir stop <job-id> [--savepoint-dir DIR] [--drain]'],
    [['cancel', 'a', 'b'], "weir: unexpected argument 'b' for 'weir cancel'; give one job id"],
    [
      ['savepoint', 'a', '/sp'],
      "weir: unexpected argument '/sp' for 'weir savepoint'; give one job id (a folder for the savepoint goes after --target-dir)",
    ],
    [
      ['stop', 'a', '/sp'],
      "weir: unexpected argument '/sp' for 'weir stop'; give one job id (a folder for the savepoint goes after --savepoint-dir)",
    ],
    [
      ['stop', 'a', '--target-dir', '/sp'],
      "weir: unknown option '--target-dir' for 'weir stop'; it is '--savepoint-dir' here",
    ],
    [
      ['savepoint', 'a', '--savepoint-dir=/sp'],
      "weir: unknown option '--savepoint-dir' for 'weir savepoint'; it is '--target-dir' here",
    ],
    [['stop', 'x', '--savepoint-dir='], 'weir: --savepoint-dir needs a folder path'],
    [['help', 'frob'], "weir: unknown command 'frob'; see 'weir --help'"],
    [['-x'], "weir: unknown option '-x'; see 'weir --help'"],
    [
      ['run', 'job.ts', 'extra'],
      "weir: unexpected argument 'extra' for 'weir run'; job arguments go after '--': weir run job.ts -- extra",
    ],
    [['run', 'job.ts', '-p4'], "weir: unknown option '-p4' for 'weir run'; write '-p 4'"],
    [
      ['run', 'job.ts', '--parallelism=-1'],
      "weir: invalid value '-1' for '--parallelism': expected an integer from 1 to 32768",
    ],
    [
      ['run', 'job.ts', '-p', '2', '--parallelism', '3'],
      "weir: option '-p' and '--parallelism' given twice for 'weir run'; give it once",
    ],
    [
      ['run', 'job.ts', '-p', '200'],
      'weir: parallelism 200 is larger than max parallelism 128; lower -p or raise --max-parallelism',
    ],
  ])('exits with 2 for %j', async (argv, line) => {
    expect(await weirInProcess(...argv)).toEqual({ code: 2, stdout: '', stderr: `${line}\n` });
  });
});
