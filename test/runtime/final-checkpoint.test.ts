// A bounded job's final checkpoint must come after every operator has finished: what an operator
// emits when its input ends (buffered records, window results) belongs to it, or the file sink
// commits without it and the output is lost.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FileSink,
  StreamExecutionEnvironment,
  TumblingProcessingTimeWindows,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  type ProcessFunction,
  type Sink,
  type SinkWriter,
} from '../../src/index.js';
import { committedLines } from '../connectors/helpers.js';

/** Emits every record only at the end of its input; slow, so its inputs back up behind it. */
class EmitAtEnd implements ProcessFunction<number, string> {
  private held: number[] = [];
  processElement(n: number, _ctx: unknown, _out: Collector<string>): void {
    const until = performance.now() + 0.02;
    while (performance.now() < until);
    this.held.push(n);
  }
  endInput(out: Collector<string>): void {
    for (const n of this.held) out.collect(String(n));
  }
}

describe('the final checkpoint of a bounded job', () => {
  it('holds what operators emit when they finish, also when a barrier arrives behind one ended input while another is still draining', async () => {
    for (let round = 0; round < 3; round++) {
      const out = mkdtempSync(join(tmpdir(), 'weir-final-'));
      const env = new StreamExecutionEnvironment({ parallelism: 1, execution: { batchSize: 64 } });
      // The short input ends (and gets the final barrier) long before the long one is drained.
      const short = env.fromCollection([-1, -2, -3]).uid('short');
      const long = env.fromSequence(1, 20_000).uid('long');
      short.union(long).process(new EmitAtEnd()).uid('hold').sinkTo(new FileSink<string>(out)).uid('sink');
      await env.execute('final-checkpoint');
      expect(committedLines(out)).toHaveLength(20_003);
    }
  });

  describe('while it waits for it, processing-time timers that did not fire by the end of input', () => {
    /** Keeps what it is given; its pre-commit takes 600 ms (a slow disk), and so does the final checkpoint. */
    class SlowPreCommitSink<T> implements Sink<T> {
      readonly results: T[] = [];
      createWriter(): SinkWriter<T> {
        const results = this.results;
        return {
          write: (records: T[]) => void results.push(...records),
          snapshotState: () => new Promise<void>((r) => setTimeout(r, 600)),
        };
      }
    }

    /** Passes records on and sets a processing-time timer 200 ms ahead for each. */
    class TimerEach implements KeyedProcessFunction<number, number, string> {
      processElement(n: number, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
        out.collect(`record ${n}`);
        ctx.timerService.registerProcessingTimeTimer(ctx.timerService.currentProcessingTime() + 200);
      }
      onTimer(_ts: number, ctx: OnTimerContext<number>, out: Collector<string>): void {
        out.collect(`timer ${ctx.getCurrentKey()}`);
      }
    }

    // They fired into the wait and emitted after the end of input: "internal: records after
    // end-of-input on a channel", and the job failed (for good, after its restarts).
    it('are dropped (a process function)', async () => {
      const env = new StreamExecutionEnvironment({ parallelism: 1 });
      env.setRestartStrategy({ type: 'none' });
      const sink = new SlowPreCommitSink<string>();
      env
        .fromSequence(1, 3)
        .keyBy((n) => n)
        .process(new TimerEach())
        .rebalance()
        .sinkTo(sink)
        .setParallelism(2);
      await env.execute('timer-at-end');
      // (A timer may fire before the end on a slow machine; none fails the job.)
      expect(sink.results.filter((r) => r.startsWith('record')).sort()).toEqual([
        'record 1',
        'record 2',
        'record 3',
      ]);
    });

    it('are dropped (a processing-time window)', async () => {
      const env = new StreamExecutionEnvironment({ parallelism: 1 });
      env.setRestartStrategy({ type: 'none' });
      const sink = new SlowPreCommitSink<number>();
      env
        .fromSequence(1, 100)
        .keyBy((n) => n % 3)
        .window(TumblingProcessingTimeWindows.of(200))
        .reduce((a, b) => a + b)
        .rebalance()
        .sinkTo(sink)
        .setParallelism(2);
      await env.execute('window-at-end');
      // Windows that closed before the end fired; the ones open at the end never do (docs/event-time.md).
      expect(sink.results.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(5050);
    });
  });
});
