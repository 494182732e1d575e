// Acceptance (issue 5, point 3): `weir run examples/window-count.ts … --resume`, killed with
// SIGKILL mid-window several times and resumed each time, emits each window result exactly once,
// equal to a plain computation over the input.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Rng } from '../state/gen.js';
import { runWithKills } from './weir-process.js';
import { committedLines } from '../connectors/helpers.js';

const WINDOW_COUNT = fileURLToPath(new URL('../../examples/window-count.ts', import.meta.url));

/** Lines `<epoch-millis>,<key>` with disorder below 3 s; returns the expected window lines. */
function writeEvents(path: string, rng: Rng, n: number, size: number): string[] {
  const lines: string[] = [];
  const counts = new Map<string, number>();
  let t = 1_700_000_000_000;
  for (let i = 0; i < n; i++) {
    t += rng.int(0, 4);
    const ts = t - rng.int(0, 2999);
    const key = `k${rng.int(0, 40)}`;
    lines.push(`${ts},${key}`);
    const w = `${Math.floor(ts / size) * size},${key}`;
    counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  writeFileSync(path, lines.join('\n') + '\n');
  return [...counts].map(([w, c]) => `${w},${c}`).sort();
}

describe('window-count with --resume after SIGKILL', () => {
  it('writes every window result exactly once over kills and resumes', async () => {
    const rng = new Rng(20261127);
    const work = mkdtempSync(join(tmpdir(), 'weir-wkill-'));
    const input = join(work, 'events.csv');
    const expected = writeEvents(input, rng, 3_000_000, 10_000);
    const output = join(work, 'out');
    const args = [
      'run',
      WINDOW_COUNT,
      '-p',
      '2',
      '--checkpoint-interval',
      '200ms',
      '--checkpoint-dir',
      join(work, 'checkpoints'),
      '--resume',
      '--',
      '--input',
      input,
      '--output',
      output,
      '--size',
      '10000',
    ];
    const env = { WEIR_HOME: join(work, 'home'), WEIR_PROGRESS_INTERVAL_MS: '50' };
    const { kills, resumed } = await runWithKills(args, env, rng, 4);
    expect(kills).toBeGreaterThanOrEqual(3);
    expect(resumed).toBeGreaterThanOrEqual(3);
    const got = committedLines(output);
    expect(got.length).toBe(expected.length);
    expect(got.join('\n')).toBe(expected.join('\n'));
  }, 300_000);
});
