// Runs the real `weir` command in a child process, and writes the small job files the CLI tests
// feed it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const WEIR_BIN = fileURLToPath(new URL('../../bin/weir', import.meta.url));

export interface WeirResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  /**
   * stderr without the line announcing a running job's REST API, which every run prints, nor the
   * line closing a run whose job reached its end.
   */
  readonly stderr: string;
  readonly rawStderr: string;
}

const ANNOUNCEMENT = /^weir: job '[^\n]*' \([0-9a-f-]+\) running; REST API at http:\/\/[^\n]*\n/m;
/** The line a job that reached its end closes with. */
const FINISHED = /^weir: job '[^\n]*' \([0-9a-f-]+\) finished in [^\n]*\n/m;

/** A WEIR_HOME of the test run's own, so tests never touch the user's ~/.weir. */
const TEST_HOME = mkdtempSync(join(tmpdir(), 'weir-home-'));

export interface WeirOptions {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string>>;
  /** Called with each chunk of stderr as it arrives, with the child, e.g. to signal it. */
  readonly onStderr?: (chunk: string, child: Pick<ChildProcess, 'kill' | 'stderr'>) => void;
}

/** Async, so a test file can start many commands at once: each one spends ~0.5 s starting tsx. */
export function weir(args: readonly string[], options: WeirOptions = {}): Promise<WeirResult> {
  return new Promise((resolve, reject) => {
    const env: Record<string, string | undefined> = {
      WEIR_HOME: TEST_HOME,
      WEIR_PROGRESS_INTERVAL_MS: '0',
      ...process.env,
      ...options.env,
    };
    // The tests' own WEIR_DEBUG must not change what the command prints.
    if (options.env?.WEIR_DEBUG === undefined) delete env.WEIR_DEBUG;
    // The command as a user runs it: the shell launcher, which execs node in the same process.
    const child = spawn(WEIR_BIN, args, { cwd: options.cwd, env, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
      options.onStderr?.(s, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      // The closing line only for a job that reached its end: anywhere else it is left for the
      // test to see (and fail on).
      const ended = code === 0 && !/ stopped with savepoint /.test(stderr);
      const shown = stderr.replace(ANNOUNCEMENT, '');
      const r = { code, signal, stdout, stderr: ended ? shown.replace(FINISHED, '') : shown };
      // Not enumerable, so tests comparing whole results with toEqual need not spell it out.
      Object.defineProperty(r, 'rawStderr', { value: stderr, enumerable: false });
      resolve(r as WeirResult);
    });
  });
}

/**
 * Runs `args` (a `weir run … --resume` command) until it exits by itself, killing it with SIGKILL
 * a random 0–300 ms after each run's first checkpoint (seen on the progress line, so set
 * WEIR_PROGRESS_INTERVAL_MS low in `env`), at most `maxKills` times. The last run must exit 0.
 * Returns how many kills landed and how many runs resumed from a checkpoint.
 */
export async function runWithKills(
  args: readonly string[],
  env: Readonly<Record<string, string>>,
  rng: { int(lo: number, hi: number): number },
  maxKills: number,
): Promise<{ kills: number; resumed: number }> {
  let kills = 0;
  let resumed = 0;
  for (;;) {
    const kill = kills < maxKills;
    const delay = rng.int(0, 300);
    let timer: NodeJS.Timeout | undefined;
    const r = await weir(args, {
      env,
      onStderr: (chunk, child) => {
        if (kill && /checkpoint \d+ \(/.test(chunk)) timer ??= setTimeout(() => child.kill('SIGKILL'), delay);
      },
    });
    clearTimeout(timer);
    if (/resuming job/.test(r.stderr)) resumed++;
    if (r.signal === 'SIGKILL') {
      kills++;
      continue;
    }
    // The job got to its end (before any kill, or after the last one).
    expect(r.code, r.stderr).toBe(0);
    return { kills, resumed };
  }
}

/** The error contract of ARCHITECTURE.md §9: the exit code, and exactly one `weir: ` line on stderr. */
export function expectOneLineError(r: WeirResult, code: number, pattern: RegExp): void {
  expect({ code: r.code, stderr: r.stderr }).toEqual({
    code,
    stderr: expect.stringMatching(/^weir: [^\n]*\n$/),
  });
  expect(r.stderr).toMatch(pattern);
  expect(r.stdout).toBe('');
}

/** A temporary folder of job files; `write` creates parent folders as needed. */
export class JobFiles {
  readonly dir = mkdtempSync(join(tmpdir(), 'weir-cli-'));

  write(relativePath: string, source: string): string {
    const path = join(this.dir, relativePath);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, source);
    return path;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Every file under `dir`, at any depth (folders left out). */
export function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}
