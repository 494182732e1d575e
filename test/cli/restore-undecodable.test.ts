// `weir run -s` from a snapshot whose keyed state passes every checksum but does not decode. The
// restore leaves keyed state encoded until the job needs it, but checks before the job starts
// that it decodes: weir exits with 2 and one line that names the file and the key group and says
// what to do, and the job never starts.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeUndecodable } from '../checkpoint/make-undecodable.js';
import { filesUnder, JobFiles, weir } from './weir-process.js';

const files = new JobFiles();
afterAll(() => files.remove());

// Sums by key with checkpoints every 20 ms; gives up for good (no restarts) about 1.5 s in, so
// its newest checkpoint stays on disk.
const JOB = `import { defineJob, DiscardingSink } from 'weir';
export default defineJob({
  name: 'summed',
  build(env) {
    env.enableCheckpointing(20);
    env.setRestartStrategy({ type: 'none' });
    const started = performance.now();
    env
      .fromSequence(1, 50_000_000)
      .uid('numbers')
      .map((n: number) => {
        if (n % 1000 === 0) {
          const until = performance.now() + 1;
          while (performance.now() < until);
          if (performance.now() - started > 1500) throw new Error('gives up');
        }
        return n;
      })
      .uid('slow')
      .keyBy((n: number) => n % 10)
      .reduce((a: number, b: number) => a + b)
      .uid('sum')
      .sinkTo(new DiscardingSink<number>())
      .uid('sink');
  },
});
`;

describe('weir run -s from state that passes its checksums but does not decode', () => {
  it('exits with 2 and one line naming the file and key group', async () => {
    files.write('summed.ts', JOB);
    const checkpoints = join(files.dir, 'checkpoints');
    const first = await weir(['run', 'summed.ts', '--checkpoint-dir', checkpoints], { cwd: files.dir });
    expect(first.code, first.stderr).toBe(1);
    const folder = filesUnder(checkpoints)
      .filter((p) => /chk-\d+\/_metadata$/.test(p))
      .map((p) => p.replace(/\/_metadata$/, ''))
      .at(-1)!;
    const kg = makeUndecodable(folder);
    const r = await weir(['run', 'summed.ts', '-s', folder, '--checkpoint-dir', join(files.dir, 'other')], {
      cwd: files.dir,
    });
    expect(r.code, r.stderr).toBe(2);
    const last = r.stderr.trimEnd().split('\n').at(-1)!;
    expect(last).toMatch(
      new RegExp(
        `^weir: ${folder} \\(uid 'sum' \\(Reduce\\)\\), op-\\w+-\\d+-keyed\\.state: key group ${kg}: malformed value at byte 0: .*; nothing was changed: start from another checkpoint or savepoint$`,
      ),
    );
    expect(r.stderr).not.toMatch(/at .*\.ts:\d+/); // no stack trace
    expect(r.rawStderr).not.toMatch(/running; REST API/); // the job never started
  });
});
