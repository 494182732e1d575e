// Count windows on a keyed stream (`keyBy(...).countWindow(n)`): every n records of a key form
// one window, which fires when its n-th record arrives and is then cleared. As in Flink (a global
// window with a purging count trigger), a key's last, incomplete window never fires. The running
// accumulator and count are keyed state, so they are in checkpoints and savepoints.
import {
  ValueStateDescriptor,
  type AggregateFunction,
  type ReduceFunction,
} from '../../state/descriptors.js';
import type { ValueState } from '../../state/state.js';
import { StreamOperator } from '../stream-operator.js';

export type CountWindowFunction<IN> =
  | { kind: 'reduce'; reduce: ReduceFunction<IN> }
  | { kind: 'aggregate'; aggregate: AggregateFunction<IN, unknown, unknown> };

interface CountWindowState {
  count: number;
  acc: unknown;
}

export class CountWindowOperator<IN, OUT> extends StreamOperator<IN, OUT> {
  private state!: ValueState<CountWindowState>;

  constructor(
    private readonly size: number,
    private readonly fn: CountWindowFunction<IN>,
  ) {
    super();
    if (!Number.isSafeInteger(size) || size < 1)
      throw new RangeError(`a count window needs a size of at least 1 record, got ${size}`);
  }

  protected get userFunction(): unknown {
    return this.fn.kind === 'reduce' ? this.fn.reduce : this.fn.aggregate;
  }

  override async open(): Promise<void> {
    this.state = this.keyedBackend!.getState(new ValueStateDescriptor<CountWindowState>('_count_window'));
    await super.open();
  }

  processElement(record: IN): void {
    const f = this.fn;
    let s = this.state.value();
    if (s === undefined) {
      s = { count: 0, acc: f.kind === 'reduce' ? undefined : f.aggregate.createAccumulator() };
      this.state.update(s);
    }
    // In place: `value()` hands out the copy a running snapshot does not read (copy-on-write).
    s.acc =
      f.kind === 'reduce'
        ? s.count === 0
          ? record
          : f.reduce(s.acc as IN, record)
        : f.aggregate.add(record, s.acc);
    s.count++;
    if (s.count < this.size) return;
    this.state.clear();
    this.output.collect((f.kind === 'reduce' ? s.acc : f.aggregate.getResult(s.acc)) as OUT);
  }
}
