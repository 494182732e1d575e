// A stop-with-savepoint is the job's last snapshot (docs/savepoints.md: the sinks commit the output
// up to the savepoint, and timers and buffered records stay in it). Periodic checkpoints used to
// go on while the stop's savepoint finished: one taken after it could complete and commit output
// of timers the savepoint still held, before the tasks ended; a resume from the savepoint then
// deleted those visible files and wrote them again. The stop's `_committed` record is held back
// here, as on slow storage, which leaves time for such a checkpoint (checkpoints every 2 ms).
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import {
  FileSink,
  StreamExecutionEnvironment,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type OnTimerContext,
} from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { decodeMetadata } from '../../src/storage/metadata.js';
import { routeRecordWrites, writeAfter } from './record-writes.js';

/** Emits each record's key from a processing-time timer a few ms later; asks for the stop via `hook`. */
class LaterByTimer implements KeyedProcessFunction<number, number, string> {
  constructor(private readonly hook: () => void) {}
  processElement(n: number, ctx: KeyedProcessContext<number>, _out: Collector<string>): void {
    this.hook();
    ctx.timerService.registerProcessingTimeTimer(ctx.timerService.currentProcessingTime() + 5 + (n % 40));
    const until = performance.now() + 0.02;
    while (performance.now() < until);
  }
  onTimer(ts: number, ctx: OnTimerContext<number>, out: Collector<string>): void {
    out.collect(`timer,${ctx.getCurrentKey()},${ts}`);
  }
}

/** The checkpoint that committed a visible part file: part-<lineage>-<epoch>-<checkpoint>-…. */
const checkpointOf = (name: string): number => Number(name.split('-')[3]);

it('a stopped job commits nothing after its savepoint', async () => {
  for (let trial = 0; trial < 3; trial++) {
    const out = mkdtempSync(join(tmpdir(), 'weir-stop-out-'));
    const target = mkdtempSync(join(tmpdir(), 'weir-stop-sp-'));
    let master: JobMaster | undefined;
    let asked = false;
    const env = new StreamExecutionEnvironment({ parallelism: 1, execution: { batchSize: 16 } });
    env.enableCheckpointing(2);
    env.checkpointConfig.setCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-stop-chk-')));
    env
      .fromSequence(1, 200_000)
      .uid('src')
      .keyBy((n) => n % 1000)
      .process(
        new LaterByTimer(() => {
          if (!asked && master !== undefined && master.completedCheckpoints >= 5) {
            asked = true;
            master.stop({ targetDir: target });
          }
        }),
      )
      .uid('later')
      .sinkTo(new FileSink<string>(out, { bufferSize: 64 }))
      .uid('sink');
    const slowStopRecord = routeRecordWrites((w) =>
      w.name === '_committed' && w.text.includes('"savepoint"') ? writeAfter(300, w) : w.write(),
    );
    const r = await env
      .execute('stop-ends-checkpoints', { onStart: (m) => void (master = m), log: () => undefined })
      .finally(() => slowStopRecord.mockRestore());
    expect(r.savepointPath).toBeDefined();
    const savepoint = decodeMetadata(readFileSync(join(r.savepointPath!, '_metadata')), 'sp').id;
    const visible = readdirSync(out).filter((n) => n.startsWith('part-'));
    expect(visible.length).toBeGreaterThan(0);
    expect(visible.filter((n) => checkpointOf(n) > savepoint)).toEqual([]);
  }
}, 60_000);
