// Outputs inside a chain: direct calls into the next operator, attributed on failure.
import type { Collector } from './functions.js';
import { attribute } from './operator-failure.js';
import type { StreamOperator } from './stream-operator.js';

export class ChainingOutput implements Collector<unknown> {
  constructor(private readonly op: StreamOperator) {}
  collect(record: unknown): void {
    try {
      this.op.processElement(record);
    } catch (e) {
      throw attribute(e, this.op.info, 'processElement');
    }
  }
}

export class BroadcastingOutput implements Collector<unknown> {
  constructor(private readonly outputs: readonly Collector<unknown>[]) {}
  collect(record: unknown): void {
    for (const o of this.outputs) o.collect(record);
  }
}

/** Swallows records: the output of a sink, or of an operator nobody reads. */
export const NO_OUTPUT: Collector<unknown> = { collect() {} };

export function combineOutputs(outputs: Collector<unknown>[]): Collector<unknown> {
  if (outputs.length === 0) return NO_OUTPUT;
  if (outputs.length === 1) return outputs[0]!;
  return new BroadcastingOutput(outputs);
}
