// The job graph: operators resolved (parallelism, ids, partitioners) and grouped into chains.
// A chain becomes one task per subtask; edges between chains become channels.
import type { KeySelector } from '../runtime/functions.js';
import type { PartitionerKind } from '../runtime/record-writer.js';
import type { OperatorId } from './operator-id.js';
import type { Transformation } from './transformation.js';

export interface OperatorNode {
  readonly transformation: Transformation;
  readonly operatorId: OperatorId;
  readonly name: string;
  readonly uid: string | undefined;
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly keyed: boolean;
  /** Operators in the same chain fed by this one (by its main output, or a side output's tag). */
  readonly chainedOutputs: ChainedOutput[];
  /** Edges to other chains fed by this one. */
  readonly networkOutputs: NetworkEdge[];
  vertex: JobVertex;
}

export interface ChainedOutput {
  readonly to: OperatorNode;
  readonly tag: string | undefined;
}

export interface NetworkEdge {
  readonly from: OperatorNode;
  readonly to: OperatorNode;
  /** The side output of `from` carried; its main output when undefined. */
  readonly tag: string | undefined;
  /** The input of `to` fed (two-input operators). */
  readonly inputIndex: 0 | 1;
  readonly partitioner: PartitionerKind;
  readonly keySelector: KeySelector<unknown, unknown> | undefined;
}

export interface JobVertex {
  readonly index: number;
  /** The chain's operators, head first, each after the operators that feed it. */
  readonly operators: OperatorNode[];
  readonly parallelism: number;
  readonly inputs: NetworkEdge[];
  readonly name: string;
}

export interface JobGraph {
  readonly jobName: string;
  /** Vertices in topological order: every vertex after the vertices that feed it. */
  readonly vertices: JobVertex[];
  /** Things worth telling the user that do not stop the job. */
  readonly warnings: string[];
}
