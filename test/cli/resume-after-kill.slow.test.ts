// Acceptance (issue 3, point 2): `weir run examples/word-count.ts … --checkpoint-interval 200ms
// --resume` on a text of over 2 million words, killed with SIGKILL at 5 random moments and resumed
// each time, ends with committed output in which every word's counts are exactly 1..n, each once.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../state/gen.js';
import { expectExactlyOnce, WORD_COUNT, writeText } from './word-count-text.js';
import { runWithKills } from './weir-process.js';

describe('weir run --resume after SIGKILL', () => {
  it('commits every word count exactly once over 5 kills and resumes', async () => {
    const rng = new Rng(20261124);
    const work = mkdtempSync(join(tmpdir(), 'weir-kill-'));
    const input = join(work, 'text.txt');
    const expected = writeText(input, rng, 4_000_000);
    const output = join(work, 'out');
    const args = [
      'run',
      WORD_COUNT,
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
    ];
    // Progress lines every 50 ms say which checkpoint completed last, so every kill can come
    // after this run's first checkpoint, however slow the machine is today.
    const env = { WEIR_HOME: join(work, 'home'), WEIR_PROGRESS_INTERVAL_MS: '50' };
    // Each kill comes a random moment soon after a run's first checkpoint, so the job (a few
    // seconds of work) is killed mid-way every time and each resume has progress to keep.
    const { kills, resumed: resumedFromCheckpoint } = await runWithKills(args, env, rng, 5);
    expect(kills).toBe(5);
    expect(resumedFromCheckpoint).toBeGreaterThanOrEqual(4);
    expectExactlyOnce(output, expected);
  }, 300_000);
});
