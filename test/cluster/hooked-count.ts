// A keyed count whose records first pass a hook: tests use it to slow a job down until enough
// checkpoints completed, and to fail, stop or cancel it at a chosen moment.
import type {
  Collector,
  KeyedProcessContext,
  KeyedProcessFunction,
  RuntimeContext,
  ValueState,
} from '../../src/index.js';
import { ValueStateDescriptor } from '../../src/index.js';

export class HookedCount implements KeyedProcessFunction<number, number, number> {
  private count!: ValueState<number>;
  constructor(private readonly beforeRecord: (n: number) => void) {}
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }
  processElement(n: number, _ctx: KeyedProcessContext<number>, out: Collector<number>): void {
    this.beforeRecord(n);
    const c = this.count.value()! + 1;
    this.count.update(c);
    out.collect(c);
  }
}

/** Keeps the thread busy for `ms`: a slow record, so checkpoints complete while the job runs. */
export function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}
