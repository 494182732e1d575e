import type { FilterFunction } from '../functions.js';
import { StreamOperator } from '../stream-operator.js';

export class FilterOperator<T> extends StreamOperator<T, T> {
  private readonly call: (value: T) => boolean;
  constructor(private readonly fn: FilterFunction<T>) {
    super();
    this.call = typeof fn === 'function' ? fn : fn.filter.bind(fn);
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  processElement(record: T): void {
    if (this.call(record)) this.output.collect(record);
  }
}
