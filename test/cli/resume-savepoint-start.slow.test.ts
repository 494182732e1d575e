// A run started from a savepoint that is killed before its first checkpoint completes: its sinks
// committed the savepoint's output when they restored, so `--resume` must not start the job from
// the beginning (which committed everything before the savepoint a second time); it refuses,
// naming the savepoint, and `-s` from it ends exactly once.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../state/gen.js';
import { weir } from './weir-process.js';
import { expectExactlyOnce, WORD_COUNT, writeText } from './word-count-text.js';

describe('--resume of a run started from a savepoint, killed before its first checkpoint', () => {
  it('refuses, naming the savepoint; -s from it then ends exactly once', async () => {
    const work = mkdtempSync(join(tmpdir(), 'weir-resume-sp-start-'));
    const input = join(work, 'text.txt');
    const expected = writeText(input, new Rng(20261130), 3_000_000);
    const output = join(work, 'out');
    const env = { WEIR_HOME: join(work, 'home'), WEIR_PROGRESS_INTERVAL_MS: '50' };
    // The savepoint is the user's: the runs from it use a checkpoint folder of their own, where
    // nothing of the stopped run is.
    const run = (interval: string, from: string[], checkpoints = 'checkpoints-2'): string[] => [
      'run',
      WORD_COUNT,
      '-p',
      '2',
      '--checkpoint-interval',
      interval,
      '--checkpoint-dir',
      join(work, checkpoints),
      '--savepoint-dir',
      join(work, 'savepoints'),
      '--rest-port',
      '0',
      ...from,
      '--',
      '--input',
      input,
      '--output',
      output,
    ];
    // Stopped with a savepoint after its first checkpoint.
    let job: string | undefined;
    let asked: Promise<unknown> | undefined;
    const first = await weir(run('100ms', [], 'checkpoints-1'), {
      env,
      onStderr: (chunk) => {
        const announced = /\(([0-9a-f-]{36})\) running; REST API at (\S+)/.exec(chunk);
        if (announced !== null) job = `${announced[2]}/jobs/${announced[1]}`;
        if (asked === undefined && job !== undefined && /checkpoint \d+ \(/.test(chunk))
          asked = fetch(`${job}/stop`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          });
      },
    });
    await asked;
    const savepoint = /^weir: job '[^']*' stopped with savepoint (\S+)$/m.exec(first.stderr)?.[1];
    expect(savepoint, first.rawStderr).toBeDefined();
    // Started from it with checkpoints far apart, and killed once it processes records.
    const killed = await weir(run('1h', ['-s', savepoint!]), {
      env,
      onStderr: (chunk, child) => {
        if (/ in [\d.]+ ?[kM]?\/s/.test(chunk)) child.kill('SIGKILL');
      },
    });
    expect(killed.signal, killed.rawStderr).toBe('SIGKILL');
    const resumed = await weir(run('100ms', ['--resume']), { env });
    expect(resumed.code, resumed.rawStderr).toBe(2);
    expect(resumed.stderr).toMatch(
      new RegExp(
        `^weir: job 'word-count' \\(run [0-9a-f-]+\\) was started from ${savepoint!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} at .*\\(its sinks may have committed the output that snapshot held\\) and completed no checkpoint \\(.*_committed\\): continue from it with -s \\S+ \\(or run without --resume`,
        'm',
      ),
    );
    const last = await weir(run('100ms', ['-s', savepoint!]), { env });
    expect(last.code, last.rawStderr).toBe(0);
    expectExactlyOnce(output, expected);
  }, 240_000);
});
