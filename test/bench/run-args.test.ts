// `npm run bench` refuses an --only that matches nothing, naming every case it could have been.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('bench --only', () => {
  it('names every case, the snapshot and savepoint figures too, when none matches', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--only', 'nosuch'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /^bench: no case matches --only 'nosuch'; cases: keyed-count, .*, snapshot, savepoint\n$/,
    );
  });
});
