// bin/weir is a shell launcher: it sets up the process environment (bin/weir-env) and execs node,
// so the job runs as the very process that was started (signals and process ids as a user expects).
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobFiles, WEIR_BIN, weir } from './weir-process.js';

const WEIR_ENV = fileURLToPath(new URL('../../bin/weir-env', import.meta.url));
const files = new JobFiles();

beforeAll(() => {
  files.write(
    'env.ts',
    `import { defineJob } from 'weir';
export default defineJob({
  name: 'env',
  build(env) {
    env.fromElements(JSON.stringify({ pid: process.pid, tunables: process.env.GLIBC_TUNABLES ?? null })).print();
  },
});
`,
  );
});
afterAll(() => files.remove());

/** GLIBC_TUNABLES as bin/weir-env leaves it, from the given environment. */
function tunables(env: Record<string, string>): string {
  const base = { ...process.env };
  delete base['GLIBC_TUNABLES'];
  delete base['WEIR_HUGE_PAGES'];
  return execFileSync('sh', [WEIR_ENV, 'sh', '-c', 'printf %s "${GLIBC_TUNABLES-unset}"'], {
    env: { ...base, ...env },
    encoding: 'utf8',
  });
}

describe('the weir launcher', () => {
  it('asks glibc for huge pages, keeping tunables the user set, unless told not to', () => {
    expect(tunables({})).toBe('glibc.malloc.hugetlb=1');
    expect(tunables({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' })).toBe(
      'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1',
    );
    expect(tunables({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2:' })).toBe(
      'glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1',
    );
    expect(tunables({ GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' })).toBe('glibc.malloc.hugetlb=0');
    for (const off of ['0', 'false', 'off', 'no']) expect(tunables({ WEIR_HUGE_PAGES: off })).toBe('unset');
    expect(tunables({ WEIR_HUGE_PAGES: '1' })).toBe('glibc.malloc.hugetlb=1');
  });

  it('runs the job as the process it started, with that environment', async () => {
    const child = spawn(WEIR_BIN, ['run', 'env.ts'], {
      cwd: files.dir,
      env: { ...process.env, GLIBC_TUNABLES: '', WEIR_HUGE_PAGES: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    const printed = JSON.parse(out.trim().split('\n').pop()!) as { pid: number; tunables: string };
    expect(printed).toEqual({ pid: child.pid, tunables: 'glibc.malloc.hugetlb=1' });
  });

  it('works through chains of relative symbolic links, as npm installs it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'weir-bin-'));
    try {
      mkdirSync(join(dir, 'pkg', '.bin'), { recursive: true });
      mkdirSync(join(dir, 'elsewhere'));
      symlinkSync(relative(join(dir, 'pkg', '.bin'), WEIR_BIN), join(dir, 'pkg', '.bin', 'weir'));
      symlinkSync(join('..', 'pkg', '.bin', 'weir'), join(dir, 'elsewhere', 'weir'));
      const direct = await weir(['--version']);
      expect(direct.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
      for (const link of [join(dir, 'pkg', '.bin', 'weir'), join(dir, 'elsewhere', 'weir')])
        expect(execFileSync(link, ['--version'], { encoding: 'utf8', cwd: dir })).toBe(direct.stdout);
      // Found on PATH, started by name.
      const viaPath = execFileSync('sh', ['-c', 'weir --version'], {
        encoding: 'utf8',
        cwd: tmpdir(),
        env: { ...process.env, PATH: `${join(dir, 'elsewhere')}:${process.env['PATH'] ?? ''}` },
      });
      expect(viaPath).toBe(direct.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
