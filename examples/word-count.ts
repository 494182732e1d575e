// Word count with keyed state: for every word occurrence, writes `<word>,<count so far>`.
//
//   weir run examples/word-count.ts -p 4 -- --input README.md --output /tmp/wc
//
// Its operators carry the uids `lines`, `split`, `count` and `sink`, so its state can be carried
// into a new version of the job.
import {
  defineJob,
  FileSink,
  FileSource,
  parseJobArgs,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type RuntimeContext,
  type ValueState,
} from 'weir';

class CountWords implements KeyedProcessFunction<string, string, string> {
  private count!: ValueState<number>;

  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }

  processElement(word: string, _ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect(`${word},${n}`);
  }
}

export default defineJob({
  name: 'word-count',
  build(env, args) {
    const a = parseJobArgs(args, ['input', 'output']);
    env
      .fromSource(new FileSource(a.required('input')), 'lines')
      .uid('lines')
      .flatMap((line: string) => line.split(/\s+/).filter((w) => w.length > 0))
      .name('split')
      .uid('split')
      .keyBy((word) => word)
      .process(new CountWords())
      .name('count')
      .uid('count')
      .sinkTo(new FileSink<string>(a.required('output')))
      .name('sink')
      .uid('sink');
  },
});
