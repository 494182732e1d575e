// A source that is not always ready tells its task when to poll again (isAvailable). Waiting for
// that or for the task's signal, whichever comes first, must not spend a later wake-up: a job
// whose source ended while such a wait was left behind slept through its final checkpoint's mail
// and never finished (about one run in three of this job, at p=2, before the fix).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { JobFailedError } from '../../src/cluster/job-failed-error.js';
import {
  DiscardingSink,
  FileSink,
  StreamExecutionEnvironment,
  type InputStatus,
  type Source,
  type SourceOutput,
  type SourceReader,
  type SourceReaderContext,
} from '../../src/index.js';
import { committedLines } from '../connectors/helpers.js';

/** Its share of 0..count-1, `perPoll` at a time, then not ready for `pauseMs`. */
class PausingSource implements Source<number> {
  readonly boundedness = 'bounded' as const;
  constructor(
    private readonly count: number,
    private readonly perPoll: number,
    private readonly pauseMs: number,
  ) {}
  createReader(ctx: SourceReaderContext): SourceReader<number> {
    const { count, perPoll, pauseMs } = this;
    let next = Math.floor((ctx.subtaskIndex * count) / ctx.parallelism);
    const end = Math.floor(((ctx.subtaskIndex + 1) * count) / ctx.parallelism);
    let ready: Promise<void> | undefined;
    return {
      pollNext(out: SourceOutput<number>): InputStatus {
        if (ready !== undefined) return 'nothing-available';
        const last = Math.min(end, next + perPoll);
        for (; next < last; next++) out.collect(next);
        if (next === end) return 'end-of-input';
        ready = new Promise((r) => setTimeout(r, pauseMs)).then(() => {
          ready = undefined;
        });
        return 'nothing-available';
      },
      isAvailable: () => ready ?? Promise.resolve(),
    };
  }
}

describe('a source that waits for its records', () => {
  it('lets a bounded job finish, every time', async () => {
    for (let run = 0; run < 12; run++) {
      const out = mkdtempSync(join(tmpdir(), 'weir-available-'));
      const env = new StreamExecutionEnvironment({ parallelism: 2 });
      env
        .fromSource(new PausingSource(600, 10, 2), 'pausing')
        .uid('pausing')
        .keyBy((n) => n % 5)
        .sum()
        .uid('sum')
        .map((n: number) => String(n))
        .sinkTo(new FileSink<string>(out))
        .uid('sink');
      const ended = await Promise.race([
        env.execute('pausing-source').then(() => 'finished'),
        new Promise((r) => setTimeout(() => r(`run ${run} did not finish within 10 s`), 10_000).unref()),
      ]);
      expect(ended).toBe('finished');
      expect(committedLines(out)).toHaveLength(600);
    }
  }, 150_000);

  it.each([
    ['an error', () => Promise.reject(new Error('no more today'))],
    ['nothing', () => Promise.reject()],
  ])('fails the job, naming the source, when isAvailable() rejects with %s', async (_what, isAvailable) => {
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    env.setRestartStrategy({ type: 'none' });
    let seen = 0;
    env
      .fromSource<number>(
        {
          boundedness: 'bounded',
          createReader: () => {
            let n = 0;
            return {
              pollNext(out: SourceOutput<number>): InputStatus {
                if (n >= 1000) return 'end-of-input';
                for (let i = 0; i < 10; i++) out.collect(n++);
                return n === 500 ? 'nothing-available' : 'more-available';
              },
              isAvailable,
            };
          },
        },
        'rejecting',
      )
      .uid('rejecting')
      .map((n: number) => {
        seen++;
        return n;
      })
      .sinkTo(new DiscardingSink());
    const e = await env.execute('rejecting-source').then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(JobFailedError);
    expect(String((e as Error).message)).toMatch(/'rejecting'.*isAvailable/);
    expect(seen).toBe(500);
  });

  /** A pending promise-like `idle`, counting the calls of its `then`, and its `release`. */
  type Counted = { idle: PromiseLike<void>; release: () => void; thens: () => number };
  const nativePromise = (): Counted => {
    let thens = 0;
    let release!: () => void;
    const idle = new Promise<void>((r) => (release = r));
    const then = idle.then.bind(idle);
    void Object.defineProperty(idle, 'then', {
      value: (...args: Parameters<typeof then>) => {
        thens++;
        return then(...args);
      },
    });
    return { idle, release, thens: () => thens };
  };
  // Another library's promise, or a hand-written one: not a native promise, so each
  // Promise.resolve() of it is a new promise that calls its then again.
  const thenable = (): Counted => {
    let thens = 0;
    let released = false;
    const waiting: Array<() => void> = [];
    const idle: PromiseLike<void> = {
      then(onReady) {
        thens++;
        return new Promise<void>((r) => {
          const go = (): void => r(onReady?.() as void);
          if (released) go();
          else waiting.push(go);
        }) as never;
      },
    };
    const release = (): void => {
      released = true;
      for (const go of waiting.splice(0)) go();
    };
    return { idle, release, thens: () => thens };
  };

  it.each([
    ['promise', nativePromise],
    ['thenable (not a native promise)', thenable],
  ])('watches a %s handed out again and again once, however often the task wakes', async (_what, make) => {
    // Mails (here: a checkpoint every 5 ms) wake the source's task while its reader has nothing;
    // each wake asks isAvailable() again and gets the same pending promise. Racing it afresh on
    // every wake added a reaction each time, held until it settled: without bound for an idle source.
    const { idle, release, thens } = make();
    let asked = 0;
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    env.enableCheckpointing(5);
    env.checkpointConfig.setCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-available-')));
    const seen: number[] = [];
    env
      .fromSource<number>(
        {
          boundedness: 'bounded',
          createReader: () => {
            let n = 0;
            let waited = false;
            void idle.then(() => (waited = true));
            return {
              pollNext(out: SourceOutput<number>): InputStatus {
                if (n === 100 && !waited) return 'nothing-available';
                if (n === 200) return 'end-of-input';
                for (let i = 0; i < 10; i++) out.collect(n++);
                return 'more-available';
              },
              isAvailable: () => {
                // Ready after the task asked 30 times.
                if (++asked === 30) release();
                return idle;
              },
            };
          },
        },
        'idle',
      )
      .uid('idle')
      .map((n: number) => {
        seen.push(n);
        return n;
      })
      .sinkTo(new DiscardingSink());
    await env.execute('idle-source');
    expect(seen).toEqual(Array.from({ length: 200 }, (_, i) => i));
    // Woken by the checkpoints' mails 30 times, and watched once (the reader's own then is the other).
    expect(asked).toBe(30);
    expect(thens()).toBe(2);
  });

  // Every other poll has nothing, and says so with what `isAvailable` hands back.
  it.each([
    ['the same promise, settled already', (settled: Promise<void>) => () => settled],
    // (Racing it resolved at once; watched, undefined looked like the promise watched already.)
    ['no promise at all (a plain-JavaScript reader)', () => () => undefined as unknown as Promise<void>],
    ['something else (a plain-JavaScript reader)', () => () => true as unknown as Promise<void>],
  ])('polls again when the reader hands back %s', async (_what, makeIsAvailable) => {
    const isAvailable = makeIsAvailable(Promise.resolve());
    const env = new StreamExecutionEnvironment({ parallelism: 1 });
    let count = 0;
    env
      .fromSource<number>(
        {
          boundedness: 'bounded',
          createReader: () => {
            let n = 0;
            let polls = 0;
            return {
              pollNext(out: SourceOutput<number>): InputStatus {
                if (++polls % 2 === 0) return 'nothing-available';
                if (n === 50) return 'end-of-input';
                out.collect(n++);
                return 'more-available';
              },
              isAvailable,
            };
          },
        },
        'polled',
      )
      .map((n: number) => {
        count++;
        return n;
      })
      .sinkTo(new DiscardingSink());
    const ended = await Promise.race([
      env.execute('polled-source').then(() => 'finished'),
      new Promise((r) => setTimeout(() => r('did not finish within 10 s'), 10_000).unref()),
    ]);
    expect(ended).toBe('finished');
    expect(count).toBe(50);
  });
});
