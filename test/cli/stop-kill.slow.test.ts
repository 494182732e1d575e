// Stops with a savepoint and SIGKILLs around them, as a user meets them: word-count is stopped soon
// after each run's first checkpoint (over REST, as `weir stop` asks), and killed a random moment
// after the job has the request, so the kill lands before the savepoint, while it is written,
// while its record is written, or after the job ended there. Each run is continued as weir says: a
// stopped job with `-s <savepoint>`, a killed one with `--resume` (or `-s` when --resume names a
// savepoint). The output must end exactly once. (`weir stop` itself: savepoint-upgrade.slow.test.ts.)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../state/gen.js';
import { weir } from './weir-process.js';
import { expectExactlyOnce, WORD_COUNT, writeText } from './word-count-text.js';

describe('weir stop, with kills around it', () => {
  it('ends exactly once, continued from each savepoint or checkpoint as weir says', async () => {
    const rng = new Rng(20261129);
    const work = mkdtempSync(join(tmpdir(), 'weir-stop-kill-'));
    const input = join(work, 'text.txt');
    const expected = writeText(input, rng, 4_000_000);
    const output = join(work, 'out');
    const env = { WEIR_HOME: join(work, 'home'), WEIR_PROGRESS_INTERVAL_MS: '50' };
    const base = [
      'run',
      WORD_COUNT,
      '-p',
      '2',
      '--checkpoint-interval',
      '100ms',
      '--checkpoint-dir',
      join(work, 'checkpoints'),
      '--savepoint-dir',
      join(work, 'savepoints'),
      '--rest-port',
      '0',
    ];
    const jobArgs = ['--', '--input', input, '--output', output];
    let from: string | undefined;
    const seen = { stopped: 0, killed: 0 };
    const history: string[] = [];
    for (let round = 0; ; round++) {
      expect(round, history.join(' ')).toBeLessThan(20);
      // The first run is only stopped; the next five are stopped and killed; then the job ends.
      const stop = round <= 5;
      const killAfter = round >= 1 && round <= 5 ? rng.int(0, 150) : undefined;
      let job: { id: string; url: string } | undefined;
      let asked: Promise<Response> | undefined;
      let timer: NodeJS.Timeout | undefined;
      const r = await weir([...base, ...(from === undefined ? ['--resume'] : ['-s', from]), ...jobArgs], {
        env,
        onStderr: (chunk, child) => {
          const announced = /\(([0-9a-f-]{36})\) running; REST API at (\S+)/.exec(chunk);
          if (announced !== null) job = { id: announced[1]!, url: announced[2]! };
          if (!stop || asked !== undefined || job === undefined || !/checkpoint \d+ \(/.test(chunk)) return;
          // Asked over REST, as `weir stop` asks, without its start-up: the job is surely still
          // running, and a kill is timed from the moment the job has the request.
          asked = fetch(`${job.url}/jobs/${job.id}/stop`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{}',
          }).finally(() => {
            if (killAfter !== undefined) timer = setTimeout(() => child.kill('SIGKILL'), killAfter);
          });
        },
      });
      clearTimeout(timer);
      const stopOutcome = await asked?.catch((e: unknown) => e);
      const savepoint = /^weir: job '[^']*' stopped with savepoint (\S+)$/m.exec(r.stderr)?.[1];
      const asking =
        stopOutcome instanceof Response ? stopOutcome.status : stopOutcome === undefined ? '-' : 'x';
      history.push(
        `${from === undefined ? 'r' : 's'}:${r.signal ?? r.code}${savepoint ? 'S' : ''}/${asking}`,
      );
      if (r.signal === 'SIGKILL') {
        seen.killed++;
        from = undefined;
        continue;
      }
      if (r.code === 0 && savepoint !== undefined) {
        seen.stopped++;
        from = savepoint;
        continue;
      }
      // --resume after a run that stopped but was killed before it exited, or was killed before its
      // first checkpoint with a stop's savepoint behind it.
      const named = /continue from it with -s (\S+) /.exec(r.stderr)?.[1];
      if (r.code === 2 && from === undefined && named !== undefined) {
        from = named;
        continue;
      }
      expect(r.code, `${history.join(' ')}\n${r.stderr}`).toBe(0);
      break;
    }
    expect(seen.stopped, history.join(' ')).toBeGreaterThanOrEqual(1);
    expect(seen.killed, history.join(' ')).toBeGreaterThanOrEqual(1);
    expectExactlyOnce(output, expected);
  }, 300_000);
});
