// Counts per key in tumbling event-time windows: reads lines `<epoch-millis>,<key>` and writes one
// line `<window-start-millis>,<key>,<count>` per window and key, through the exactly-once file sink.
//
//   weir run examples/window-count.ts -p 4 -- --input events.csv --output /tmp/wc --size 60000 [--out-of-orderness 5000]
//
// The source runs at parallelism 1 and reads the files in name order, each in line order, so the
// only disorder is the data's; it must stay below --out-of-orderness (default 5000 ms), so no
// record is late. Windows are aligned to the epoch; at the end of the input every open window
// fires. Its operators carry the uids `events`, `window` and `sink`.
import {
  defineJob,
  FileSink,
  FileSource,
  JobArgumentError,
  parseJobArgs,
  TumblingEventTimeWindows,
  WatermarkStrategy,
  type AggregateFunction,
  type ProcessWindowFunction,
} from 'weir';

type Event = { readonly t: number; readonly key: string };

function parseEvent(line: string): Event {
  const comma = line.indexOf(',');
  const t = comma > 0 ? Number(line.slice(0, comma)) : Number.NaN;
  if (!Number.isSafeInteger(t))
    throw new Error(`not a line '<epoch-millis>,<key>': ${JSON.stringify(line.slice(0, 80))}`);
  return { t, key: line.slice(comma + 1) };
}

const count: AggregateFunction<Event, number, number> = {
  createAccumulator: () => 0,
  add: (_e, n) => n + 1,
  getResult: (n) => n,
  merge: (a, b) => a + b,
};

const format: ProcessWindowFunction<number, string, string> = {
  process(key, ctx, [n], out) {
    out.collect(`${ctx.window.start},${key},${n}`);
  },
};

export default defineJob({
  name: 'window-count',
  build(env, args) {
    const a = parseJobArgs(args, ['input', 'output', 'size', 'out-of-orderness']);
    const input = a.required('input');
    const output = a.required('output');
    const size = a.integer('size', 0);
    if (size <= 0)
      throw new JobArgumentError(
        "job argument '--size' must be a window size in ms above 0, e.g. --size 60000",
      );
    const bound = a.integer('out-of-orderness', 5000);
    env
      .fromSource(
        new FileSource(input),
        WatermarkStrategy.forBoundedOutOfOrderness<string>(bound).withTimestampAssigner(
          (line) => parseEvent(line).t,
        ),
        'events',
      )
      .setParallelism(1)
      .uid('events')
      .map(parseEvent)
      .setParallelism(1)
      .name('parse')
      .keyBy((e) => e.key)
      .window(TumblingEventTimeWindows.of(size))
      .aggregate(count, format)
      .name('window')
      .uid('window')
      .sinkTo(new FileSink<string>(output))
      .name('sink')
      .uid('sink');
  },
});
