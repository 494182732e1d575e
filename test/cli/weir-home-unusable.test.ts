// A $WEIR_HOME whose jobs folder cannot be made, written or read: `weir run` exits with 2 and one
// line before the job starts, and `weir list` and `weir checkpoints` with 2 and one line. (It used
// to end a run, after it had said it was running, in an "internal error"; under /proc it hung.)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JobFiles, weir } from './weir-process.js';

const files = new JobFiles();
afterAll(() => files.remove());

const JOB = `import { defineJob, DiscardingSink } from 'weir';
export default defineJob({
  name: 'homeless',
  build(env) {
    env.fromSequence(1, 1000).sinkTo(new DiscardingSink<number>());
  },
});
`;

function oneLine(r: { code: number | null; stderr: string; rawStderr: string }, pattern: RegExp): void {
  expect(r.code, r.rawStderr).toBe(2);
  const lines = r.rawStderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe('a $WEIR_HOME that cannot be used', () => {
  it('stops weir run before the job starts, and weir list and weir checkpoints, each with one line', async () => {
    files.write('homeless.ts', JOB);
    const file = join(files.dir, 'a-file');
    writeFileSync(file, 'x');
    const home = join(file, 'home');
    const env = { WEIR_HOME: home };
    const why = new RegExp(
      `^weir: the job registry ${home}/jobs \\(\\$WEIR_HOME/jobs\\) cannot be used: ${file} is not a folder; set WEIR_HOME to a folder you can write \\(it defaults to ~/\\.weir\\)$`,
    );
    oneLine(await weir(['run', 'homeless.ts'], { cwd: files.dir, env }), why);
    const listed =
      /^weir: the job registry .* cannot be used: it cannot be read \(ENOTDIR: .*\); set WEIR_HOME/;
    oneLine(await weir(['list'], { env }), listed);
    oneLine(await weir(['checkpoints', 'abc'], { env }), listed);
  });

  it('stops weir run at once where no folder can be made (/proc)', async () => {
    files.write('homeless.ts', JOB);
    const r = await weir(['run', 'homeless.ts'], { cwd: files.dir, env: { WEIR_HOME: '/proc/weir-home' } });
    oneLine(
      r,
      /^weir: the job registry \/proc\/weir-home\/jobs .* cannot be used: \/proc\/weir-home cannot be made \(ENOENT/,
    );
  });
});
