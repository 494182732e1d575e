import type { Collector, FlatMapFunction } from '../functions.js';
import { StreamOperator } from '../stream-operator.js';

export class FlatMapOperator<I, O> extends StreamOperator<I, O> {
  private readonly call: (value: I, out: Collector<O>) => Iterable<O> | void;
  constructor(private readonly fn: FlatMapFunction<I, O>) {
    super();
    this.call = typeof fn === 'function' ? fn : fn.flatMap.bind(fn);
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  processElement(record: I): void {
    const out = this.output;
    const result = this.call(record, out);
    if (result === undefined) return;
    if (Array.isArray(result)) {
      for (let i = 0; i < result.length; i++) out.collect(result[i] as O);
    } else {
      for (const r of result) out.collect(r);
    }
  }
}
