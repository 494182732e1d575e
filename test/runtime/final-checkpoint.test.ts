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
  type Collector,
  type ProcessFunction,
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
});
