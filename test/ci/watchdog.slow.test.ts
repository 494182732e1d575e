// .ci/watchdog stands between CI and a hung test run: it must say what was hung, stop it whole,
// retry only a hang (never a failure), and pass the command's own exit code through.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const WATCHDOG = fileURLToPath(new URL('../../.ci/watchdog', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'weir-watchdog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Waits forever (a timer, an idle event loop) the first time, with a child process of its own;
// exits 0 once the marker exists.
const HANGS_ONCE = join(dir, 'hangs-once.cjs');
writeFileSync(
  HANGS_ONCE,
  `const { existsSync, writeFileSync } = require('node:fs');
const { spawn } = require('node:child_process');
const marker = process.argv[2];
if (existsSync(marker)) process.exit(0);
writeFileSync(marker, '');
spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e6)', 'hung-grandchild'], { stdio: 'inherit' });
setInterval(() => {}, 1e6);
`,
);

function watchdog(limitSeconds: number, attempts: number, ...command: string[]) {
  const r = spawnSync('bash', [WATCHDOG, String(limitSeconds), String(attempts), ...command], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

function alive(commandLineMarker: string): boolean {
  const ps = spawnSync('ps', ['-eo', 'stat=,args='], { encoding: 'utf8' }).stdout;
  return ps.split('\n').some((line) => !line.startsWith('Z') && line.includes(commandLineMarker));
}

describe('.ci/watchdog', () => {
  it('passes a finished command through with its exit code, and retries no failure', () => {
    const ok = watchdog(30, 2, 'sh', '-c', 'echo done');
    expect(ok.status).toBe(0);
    expect(ok.out).toMatch(/^done$/m);
    expect(ok.out).toMatch(/finished with exit code 0/);

    const failed = watchdog(30, 2, 'sh', '-c', 'exit 3');
    expect(failed.status).toBe(3);
    expect(failed.out).toMatch(/finished with exit code 3/);
    expect(failed.out).not.toMatch(/attempt 2/);
  });

  it('shows what a hung command was doing, stops all of it, and runs it again', () => {
    const marker = join(dir, 'marker-retry');
    // Limits leave node seconds to start and install its report handler, even on a loaded machine.
    const r = watchdog(6, 2, process.execPath, HANGS_ONCE, marker);
    expect(r.status).toBe(0);
    expect(existsSync(marker)).toBe(true);
    expect(r.out).toMatch(/still running after 6 s: what each process is doing/);
    // The process tree names the hung processes, and each node process reported what it waits on.
    expect(r.out).toContain('hung-grandchild');
    expect(r.out).toMatch(/--- pid \d+: .*hangs-once\.cjs/);
    expect(r.out).toMatch(/--- pid \d+: .*hung-grandchild/);
    expect(r.out).toMatch(/active handles: \{.*"timer":1/);
    expect(r.out).toMatch(/attempt 2 of 2/);
    expect(r.out).toMatch(/finished with exit code 0/);
    expect(alive('hung-grandchild')).toBe(false);
  });

  it('gives up with exit code 124 when every attempt hangs', () => {
    const r = watchdog(5, 1, process.execPath, HANGS_ONCE, join(dir, 'marker-give-up'));
    expect(r.status).toBe(124);
    expect(r.out).toMatch(/gave up: the command did not finish within 5 s in 1 attempts/);
    expect(alive('hung-grandchild')).toBe(false);
  });

  it('stops the command when it is stopped itself (the command has a process group of its own)', async () => {
    // Detached: the watchdog leads a process group, as under CI, and the signal goes to that group.
    const child = spawn(
      'bash',
      [WATCHDOG, '60', '1', process.execPath, HANGS_ONCE, join(dir, 'marker-signal')],
      {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    const deadline = Date.now() + 20_000;
    while (!alive('hung-grandchild') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive('hung-grandchild')).toBe(true);
    process.kill(-child.pid!, 'SIGTERM');
    expect(await closed).toBe(143);
    expect(out).toMatch(/stopped by a signal: stopping the command/);
    expect(alive('hung-grandchild')).toBe(false);
  });
});
