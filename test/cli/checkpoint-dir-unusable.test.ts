// `weir run` with a --checkpoint-dir that cannot be written: one line and exit 2 before the job
// starts, with or without --resume. (It used to decline every checkpoint and restart for ever, or
// with --resume end in an "internal error".)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JobFiles, weir } from './weir-process.js';

const files = new JobFiles();
afterAll(() => files.remove());

const JOB = `import { defineJob, DiscardingSink } from 'weir';
export default defineJob({
  name: 'counted',
  build(env) {
    env.enableCheckpointing(20);
    env.fromSequence(1, 1000).uid('numbers').sinkTo(new DiscardingSink<number>()).uid('sink');
  },
});
`;

describe('weir run with a checkpoint directory that cannot be written', () => {
  const cases: Array<[string, (file: string) => string, RegExp]> = [
    ['a file', (file) => file, /is not a folder/],
    ['a folder under a file', (file) => join(file, 'sub', 'dir'), /not-a-folder is not a folder/],
  ];
  for (const [what, dirOf, why] of cases)
    for (const resume of [false, true])
      it(`exits with 2 and one line when it is ${what}${resume ? ', with --resume' : ''}`, async () => {
        files.write('counted.ts', JOB);
        const file = join(files.dir, 'not-a-folder');
        writeFileSync(file, 'x');
        const dir = dirOf(file);
        const r = await weir(
          ['run', 'counted.ts', '--checkpoint-dir', dir, ...(resume ? ['--resume'] : [])],
          { cwd: files.dir },
        );
        expect(r.code, r.stderr).toBe(2);
        const lines = r.stderr.trimEnd().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(new RegExp(`^weir: checkpoint directory ${dir} cannot be used: `));
        expect(lines[0]).toMatch(why);
        expect(lines[0]).toMatch(/; choose another with --checkpoint-dir .* or make it writable$/);
        expect(r.rawStderr).not.toMatch(/running; REST API/); // the job never started
      });

  it('makes a missing checkpoint directory, several levels deep, and runs', async () => {
    files.write('counted.ts', JOB);
    mkdirSync(join(files.dir, 'base'), { recursive: true });
    const dir = join(files.dir, 'base', 'a', 'b');
    const r = await weir(['run', 'counted.ts', '--checkpoint-dir', dir], { cwd: files.dir });
    expect(r.code, r.stderr).toBe(0);
  });
});
