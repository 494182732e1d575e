// Turns the user's transformations into a validated job graph: resolves parallelism and
// partitioners, derives operator ids and chains forward edges between equal parallelism.
import { checkParallelism, UPPER_BOUND_MAX_PARALLELISM } from '../state/key-group.js';
import type { JobGraph, JobVertex, NetworkEdge, OperatorNode } from './job-graph.js';
import { generatedOperatorId, operatorIdFromUid, type OperatorId } from './operator-id.js';
import { GraphValidationError, type PartitionSpec, type Transformation } from './transformation.js';

export interface GraphDefaults {
  readonly parallelism: number;
  readonly maxParallelism: number;
  readonly chaining: boolean;
}

interface Resolved {
  t: Transformation;
  parallelism: number;
  maxParallelism: number;
  operatorId: OperatorId;
  inputs: Array<{
    from: Resolved;
    kind: NetworkEdge['partitioner'];
    spec: PartitionSpec;
    tag: string | undefined;
    inputIndex: 0 | 1;
  }>;
  outputs: Resolved[];
  node?: OperatorNode;
}

export function buildJobGraph(
  jobName: string,
  transformations: readonly Transformation[],
  defaults: GraphDefaults,
): JobGraph {
  if (transformations.length === 0 || !transformations.some((t) => t.kind === 'source')) {
    throw new GraphValidationError(
      `job '${jobName}' has no source; build(env) must create at least one stream, e.g. env.fromSequence(1, 10)`,
    );
  }
  const warnings: string[] = [];
  const byT = new Map<Transformation, Resolved>();
  const uids = new Map<string, Transformation>();

  // Transformations are created inputs-first, so index order is a topological order.
  const ordered = [...transformations].sort((a, b) => a.index - b.index);
  for (const t of ordered) {
    const maxParallelism = t.maxParallelism ?? defaults.maxParallelism;
    let parallelism = t.parallelism ?? defaults.parallelism;
    const cap = t.options.maxSourceParallelism;
    if (cap !== undefined && parallelism > cap) {
      if (t.parallelism !== undefined) {
        throw new GraphValidationError(
          `operator '${t.name}' cannot run with parallelism ${parallelism}: this source supports at most ${cap}`,
        );
      }
      parallelism = cap;
    }
    try {
      checkParallelism(parallelism, maxParallelism);
    } catch (e) {
      throw new GraphValidationError(
        `operator '${t.name}': ${(e as Error).message}` +
          (parallelism > maxParallelism && maxParallelism <= UPPER_BOUND_MAX_PARALLELISM
            ? '; raise the max parallelism or lower the parallelism'
            : ''),
      );
    }
    if (t.uid !== undefined) {
      const other = uids.get(t.uid);
      if (other !== undefined) {
        throw new GraphValidationError(
          `operators '${other.name}' and '${t.name}' both have the uid '${t.uid}'; each operator's uid must be unique in a job`,
        );
      }
      uids.set(t.uid, t);
    }
    const inputs: Resolved['inputs'] = [];
    for (const e of t.inputs) {
      const from = byT.get(e.from);
      if (from === undefined)
        throw new GraphValidationError(`operator '${t.name}' reads from an operator of another job`);
      inputs.push({
        from,
        kind: resolvePartitioner(e.partition, from, parallelism, t),
        spec: e.partition,
        tag: e.tag,
        inputIndex: e.inputIndex ?? 0,
      });
    }
    const operatorId =
      t.uid !== undefined
        ? operatorIdFromUid(t.uid)
        : generatedOperatorId(
            t.index,
            inputs.map((i) => i.from.operatorId),
          );
    const r: Resolved = { t, parallelism, maxParallelism, operatorId, inputs, outputs: [] };
    for (const i of inputs) i.from.outputs.push(r);
    byT.set(t, r);
    if (t.uid === undefined && t.stateful) {
      const what = t.kind === 'sink' ? 'sink' : t.kind === 'source' ? 'source' : 'operator';
      const state = t.keyed
        ? 'keyed state'
        : t.kind === 'sink'
          ? 'transactions in its state'
          : t.kind === 'source'
            ? 'its read position in its state'
            : 'operator state';
      warnings.push(
        `${what} '${t.name}' keeps ${state} but has no uid; give it one with .uid("…") so its state can be restored after the job changes`,
      );
    }
  }

  // Chain: an operator joins its input's chain when it has exactly one input, a forward edge
  // and the same parallelism. A two-input operator always heads a chain: its task must know
  // which input each record came on.
  const vertices: JobVertex[] = [];
  const edges: NetworkEdge[] = [];
  for (const t of ordered) {
    const r = byT.get(t)!;
    const only = r.inputs.length === 1 ? r.inputs[0]! : undefined;
    const chainTo =
      defaults.chaining &&
      only !== undefined &&
      only.kind === 'forward' &&
      t.kind !== 'source' &&
      t.options.twoInput !== true
        ? only.from.node
        : undefined;
    const vertex: JobVertex =
      chainTo?.vertex ??
      (() => {
        const v: JobVertex = {
          index: vertices.length,
          operators: [],
          parallelism: r.parallelism,
          inputs: [],
          name: t.name,
        };
        vertices.push(v);
        return v;
      })();
    const node: OperatorNode = {
      transformation: t,
      operatorId: r.operatorId,
      name: t.name,
      uid: t.uid,
      parallelism: r.parallelism,
      maxParallelism: r.maxParallelism,
      keyed: t.keyed,
      chainedOutputs: [],
      networkOutputs: [],
      vertex,
    };
    r.node = node;
    vertex.operators.push(node);
    if (chainTo !== undefined) {
      chainTo.chainedOutputs.push({ to: node, tag: only!.tag });
      (vertex as { name: string }).name = `${vertex.name} -> ${t.name}`;
    } else {
      for (const i of r.inputs) {
        const spec = i.spec;
        const edge: NetworkEdge = {
          from: i.from.node!,
          to: node,
          partitioner: i.kind,
          keySelector: spec.kind === 'hash' ? spec.keySelector : undefined,
          tag: i.tag,
          inputIndex: i.inputIndex,
        };
        i.from.node!.networkOutputs.push(edge);
        vertex.inputs.push(edge);
        edges.push(edge);
      }
    }
  }
  return { jobName, vertices, warnings };
}

function resolvePartitioner(
  spec: PartitionSpec,
  from: Resolved,
  parallelism: number,
  to: Transformation,
): NetworkEdge['partitioner'] {
  switch (spec.kind) {
    case 'default':
      return from.parallelism === parallelism ? 'forward' : 'rebalance';
    case 'forward':
      if (from.parallelism !== parallelism) {
        throw new GraphValidationError(
          `forward() from '${from.t.name}' (parallelism ${from.parallelism}) to '${to.name}' (parallelism ${parallelism}) ` +
            'needs equal parallelism; use rebalance() or make them equal',
        );
      }
      return 'forward';
    default:
      return spec.kind;
  }
}
