// The user's graph as the API builds it: one Transformation per operator, linked by edges that
// say how records are partitioned. Union and keyBy are not operators; they only shape edges.
import type { KeySelector } from '../runtime/functions.js';
import type { StreamOperator } from '../runtime/stream-operator.js';

export type PartitionSpec =
  /** forward when parallelism is equal, rebalance otherwise (as in Flink) */
  | { kind: 'default' }
  | { kind: 'forward' }
  | { kind: 'rebalance' }
  | { kind: 'broadcast' }
  | { kind: 'hash'; keySelector: KeySelector<unknown, unknown> };

export interface EdgeSpec {
  readonly from: Transformation;
  readonly partition: PartitionSpec;
  /** The side output of `from` this edge reads (an OutputTag id); the main output when absent. */
  readonly tag?: string | undefined;
  /** Which input of a two-input operator the edge feeds (0 = first, 1 = second). */
  readonly inputIndex?: 0 | 1 | undefined;
}

export type TransformationKind = 'source' | 'operator' | 'sink';

export class Transformation {
  name: string;
  uid: string | undefined;
  parallelism: number | undefined;
  maxParallelism: number | undefined;

  constructor(
    /** Creation order within the job; also the basis of generated operator ids. */
    readonly index: number,
    readonly kind: TransformationKind,
    name: string,
    readonly inputs: readonly EdgeSpec[],
    /** Creates the operator of one subtask. */
    readonly createOperator: () => StreamOperator,
    readonly options: {
      /** The operator's input is keyed: its state is scoped by key. */
      keyed?: boolean;
      /** It keeps state in snapshots (keyed, operator state, source positions, sink transactions). */
      stateful?: boolean;
      /** Two inputs (connect, joins): the operator heads its own chain and knows which input a record came on. */
      twoInput?: boolean;
      /** Sources that cannot run in parallel. */
      maxSourceParallelism?: number | undefined;
    } = {},
  ) {
    this.name = name;
  }

  get keyed(): boolean {
    return this.options.keyed === true;
  }

  /**
   * Whether a missing uid deserves a warning. Sources are left out: every source keeps read
   * positions, and warning about each toy `fromSequence` would drown the warnings that matter.
   */
  get stateful(): boolean {
    return this.options.stateful === true || this.keyed;
  }
}

export class GraphValidationError extends Error {
  override readonly name = 'GraphValidationError';
}
