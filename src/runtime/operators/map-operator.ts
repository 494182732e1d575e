import type { MapFunction } from '../functions.js';
import { StreamOperator } from '../stream-operator.js';

export class MapOperator<I, O> extends StreamOperator<I, O> {
  private readonly call: (value: I) => O;
  constructor(private readonly fn: MapFunction<I, O>) {
    super();
    this.call = typeof fn === 'function' ? fn : fn.map.bind(fn);
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  processElement(record: I): void {
    this.output.collect(this.call(record));
  }
}
