import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mainHelp } from '../../src/cli/help.js';
import { weir, WEIR_BIN } from './weir-process.js';

describe.concurrent('weir help', () => {
  it('lists every command, the savepoint subcommands among them, and no heading for later versions', async () => {
    const [help, bare] = await Promise.all([weir(['--help']), weir([])]);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(bare).toEqual(help);
    const available = help.stdout;
    expect(available).toMatch(/^Commands:\n {2}run <job\.ts\|job\.js> +run a job/m);
    expect(available).toMatch(/^ {2}list +list running jobs$/m);
    expect(available).toMatch(/^ {2}checkpoints <job-id> +show a running job's checkpoint history/m);
    expect(available).toMatch(/^ {2}savepoint <job-id> +take a savepoint of a running job/m);
    expect(available).toMatch(/^ {2}savepoint inspect <path> +show the operators, uids, states/m);
    expect(available).toMatch(/^ {2}savepoint dispose <path> +delete a savepoint/m);
    expect(available).toMatch(/^ {2}stop <job-id> +stop a running job with a savepoint/m);
    expect(available).toMatch(/^ {2}cancel <job-id> +cancel a running job/m);
    expect(available).not.toMatch(/later versions/);
    expect(available).toContain(
      'Exit codes: 0 the job finished or stopped, 1 the job failed or was cancelled (or did not answer), 2 usage, configuration or compatibility error, 129 hung up (SIGHUP), 130 interrupted (Ctrl-C) or 143 terminated (SIGTERM) while a job ran.',
    );
  });

  it('lists planned commands under their own heading when there are any', () => {
    const help = mainHelp([], '9.9.9', [{ usage: 'frob <x>', summary: 'frobs x' }]);
    const [available, later = ''] = help.split(/^Coming in later versions.*$/m);
    expect(available).not.toContain('frob');
    expect(later).toMatch(/^ {2}frob <x> +frobs x$/m);
  });

  it('describes each flag of run on one line', async () => {
    const r = await weir(['run', '--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^Usage: weir run <job\.ts\|job\.js> \[options\] \[-- job args…\]\n/);
    expect(r.stdout).toMatch(
      /^ {2}-p, --parallelism N +default parallelism of every operator \(default 1\); a job's own setParallelism wins, as in Flink$/m,
    );
    expect(r.stdout).toMatch(/^ {6}--max-parallelism M +key groups: .*\(default 128, max 32768\)$/m);
    expect(r.stdout).toMatch(/^ {2}-h, --help +show this help$/m);
  });

  it('ends quietly when the reader of its output went away (weir --help | head -0)', async () => {
    const child = spawn(WEIR_BIN, ['--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', r));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' }); // was: exit 1, "Error: write EPIPE" and a stack
  });

  it('prints the version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(await weir(['--version'])).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });
});
