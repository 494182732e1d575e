import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { weir } from './weir-process.js';

describe.concurrent('weir help', () => {
  it('lists run, list and checkpoints as commands and the commands of later versions apart from them', async () => {
    const [help, bare] = await Promise.all([weir(['--help']), weir([])]);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(bare).toEqual(help);
    const [available, later = ''] = help.stdout.split(/^Coming in later versions.*$/m);
    expect(available).toMatch(/^Commands:\n {2}run <job\.ts\|job\.js> +run a job/m);
    expect(available).toMatch(/^ {2}list +list running jobs$/m);
    expect(available).toMatch(/^ {2}checkpoints <job-id> +show a running job's checkpoint history/m);
    expect(available).toMatch(/^ {2}stop <job-id> +stop a running job with a savepoint/m);
    expect(available).toMatch(/^ {2}cancel <job-id> +cancel a running job/m);
    for (const planned of ['savepoint <job-id>']) {
      expect(available).not.toContain(`  ${planned} `);
      expect(later).toContain(`  ${planned} `);
    }
  });

  it('describes each flag of run on one line', async () => {
    const r = await weir(['run', '--help']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^Usage: weir run <job\.ts\|job\.js> \[options\] \[-- job args…\]\n/);
    expect(r.stdout).toMatch(
      /^ {2}-p, --parallelism N +default parallelism of every operator \(default 1\)$/m,
    );
    expect(r.stdout).toMatch(/^ {6}--max-parallelism M +key groups: .*\(default 128, max 32768\)$/m);
    expect(r.stdout).toMatch(/^ {2}-h, --help +show this help$/m);
  });

  it('prints the version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(await weir(['--version'])).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });
});
