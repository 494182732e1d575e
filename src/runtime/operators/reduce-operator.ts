// Rolling reduce on a keyed stream: emits the reduced value after every record, as Flink's
// KeyedStream.reduce and its sum/min/max aggregations do.
import { ValueStateDescriptor } from '../../state/descriptors.js';
import type { ValueState } from '../../state/state.js';
import { StreamOperator } from '../stream-operator.js';

export class ReduceOperator<T> extends StreamOperator<T, T> {
  private state!: ValueState<T>;
  /** `checkFirst` sees a key's first record, which `reduce` never does (a rolling sum checks it is a number). */
  constructor(
    private readonly reduce: (a: T, b: T) => T,
    private readonly checkFirst?: (record: T) => void,
  ) {
    super();
  }
  protected get userFunction(): unknown {
    return this.reduce;
  }
  override async open(): Promise<void> {
    this.state = this.keyedBackend!.getState(new ValueStateDescriptor<T>('_reduce'));
    await super.open();
  }
  processElement(record: T): void {
    const cur = this.state.value();
    if (cur === undefined) this.checkFirst?.(record);
    const next = cur === undefined ? record : this.reduce(cur, record);
    this.state.update(next);
    this.output.collect(next);
  }
}
