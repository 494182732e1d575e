// Count windows on a keyed stream (`keyBy(...).countWindow(n)`): every n records of a key form
// one window, which fires when its n-th record arrives and is then cleared. As in Flink (a global
// window with a purging count trigger), a key's last, incomplete window never fires. The running
// accumulator and count are keyed state, so they are in checkpoints and savepoints.
//
// Sliding count windows (`countWindow(size, slide)`) fire every `slide` records of a key with its
// last `size` records (fewer before `size` have arrived), as Flink's global window with a count
// trigger of `slide` and a count evictor of `size`. They keep records, not an accumulator: the
// records a window starts with leave it one by one, which no accumulator can undo.
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

/** A key's records since the window before last fired; `sinceFire` of them came after the last firing. */
interface SlidingCountWindowState {
  sinceFire: number;
  records: unknown[];
}

export class CountWindowOperator<IN, OUT> extends StreamOperator<IN, OUT> {
  private state!: ValueState<CountWindowState>;
  private sliding!: ValueState<SlidingCountWindowState>;

  constructor(
    private readonly size: number,
    private readonly fn: CountWindowFunction<IN>,
    private readonly slide = size,
  ) {
    super();
    if (!Number.isSafeInteger(size) || size < 1)
      throw new RangeError(`a count window needs a size of at least 1 record, got ${size}`);
    if (!Number.isSafeInteger(slide) || slide < 1)
      throw new RangeError(`a count window needs a slide of at least 1 record, got ${slide}`);
  }

  protected get userFunction(): unknown {
    return this.fn.kind === 'reduce' ? this.fn.reduce : this.fn.aggregate;
  }

  override async open(): Promise<void> {
    // Only the state of the kind in use is registered, so a savepoint names what it holds.
    if (this.slide === this.size)
      this.state = this.keyedBackend!.getState(new ValueStateDescriptor<CountWindowState>('_count_window'));
    else
      this.sliding = this.keyedBackend!.getState(
        new ValueStateDescriptor<SlidingCountWindowState>('_sliding_count_window'),
      );
    await super.open();
  }

  processElement(record: IN): void {
    if (this.slide !== this.size) {
      this.processSliding(record);
      return;
    }
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

  private processSliding(record: IN): void {
    let s = this.sliding.value();
    if (s === undefined) {
      s = { sinceFire: 0, records: [] };
      this.sliding.update(s);
    }
    // In place, as above.
    s.records.push(record);
    s.sinceFire++;
    if (s.sinceFire < this.slide) return;
    s.sinceFire = 0;
    // What Flink's count evictor leaves: the last `size` records, which the next windows still need.
    if (s.records.length > this.size) s.records.splice(0, s.records.length - this.size);
    const f = this.fn;
    const records = s.records as IN[];
    if (f.kind === 'reduce') {
      this.output.collect(records.reduce((a, b) => f.reduce(a, b)) as unknown as OUT);
    } else {
      let acc = f.aggregate.createAccumulator();
      for (const r of records) acc = f.aggregate.add(r, acc);
      this.output.collect(f.aggregate.getResult(acc) as OUT);
    }
  }
}
