// What the snapshot and savepoint figures share: a job's keyed state of `keys` keys held by the
// subtasks of one keyed operator, written the way a running job writes a snapshot (each subtask's
// capture through writeTaskSnapshot, all at once, then `_metadata`), and restored the way a new
// job (or a job restarting after a failure) restores one (loadSnapshot: each new subtask reads
// only the sections of the key groups it owns, then its backend takes the state).
import { loadSnapshot } from '../../src/checkpoint/snapshot-loader.js';
import { writeTaskSnapshot } from '../../src/checkpoint/task-snapshot-writer.js';
import type { JobGraph, OperatorNode } from '../../src/graph/job-graph.js';
import { DiscardingSink, StreamExecutionEnvironment, ValueStateDescriptor } from '../../src/index.js';
import { HeapKeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange, keyGroupOf, subtaskForKeyGroup } from '../../src/state/key-group.js';
import type { CheckpointStorage, SnapshotLocation } from '../../src/storage/checkpoint-storage.js';
import {
  decodeMetadata,
  encodeMetadata,
  METADATA_VERSION,
  type SnapshotMetadata,
} from '../../src/storage/metadata.js';
import { weirVersion } from '../../src/version.js';

export const MAX_PARALLELISM = 128;
const STATE = 'v';

export interface KeyedStateShape {
  readonly keys: number;
  /** Bytes of each value (a Buffer). */
  readonly valueBytes: number;
}

/** The first byte of key i's value; a restore is checked against the sum of these. */
const tag = (i: number): number => (i * 31) & 0xff;

/** `p` subtasks' backends, each holding the keys whose key group falls in its range. */
export function buildBackends(p: number, shape: KeyedStateShape): HeapKeyedStateBackend[] {
  const M = MAX_PARALLELISM;
  const backends = Array.from(
    { length: p },
    (_, i) => new HeapKeyedStateBackend(KeyGroupRange.forSubtask(i, p, M), M),
  );
  const states = backends.map((b) => b.getState(new ValueStateDescriptor<Buffer>(STATE)));
  for (let i = 0; i < shape.keys; i++) {
    const key = `key-${i}`;
    const kg = keyGroupOf(key, M);
    const s = subtaskForKeyGroup(kg, p, M);
    backends[s]!.setCurrentKey(key, kg);
    states[s]!.update(Buffer.alloc(shape.valueBytes, tag(i)));
  }
  for (const b of backends) b.clearCurrentKey();
  return backends;
}

/** A job with one keyed operator (uid 'state') at parallelism `p`: the graph a snapshot is restored into. */
export function restoreGraph(p: number): { graph: JobGraph; node: OperatorNode } {
  const env = new StreamExecutionEnvironment({
    parallelism: p,
    maxParallelism: MAX_PARALLELISM,
    jobName: 'bench keyed state',
  });
  env
    .fromSequence(1, 10)
    .uid('numbers')
    .keyBy((n) => n)
    .sum()
    .uid('state')
    .sinkTo(new DiscardingSink())
    .uid('sink');
  const graph = env.getJobGraph();
  const node = graph.vertices.flatMap((v) => v.operators).find((n) => n.uid === 'state');
  if (node === undefined || !node.keyed || node.parallelism !== p)
    throw new Error(`bench: the restore graph has no keyed operator of parallelism ${p}`);
  return { graph, node };
}

/**
 * Writes one snapshot of `backends` (operator `node`, one subtask per backend) at `location`, as a
 * job does: the synchronous part of every subtask (capture), their asynchronous parts at once,
 * then `_metadata`. Returns the bytes written.
 */
export async function writeSnapshot(
  storage: CheckpointStorage,
  location: SnapshotLocation,
  backends: readonly HeapKeyedStateBackend[],
  snapshot: {
    graph: JobGraph;
    node: OperatorNode;
    jobId: string;
    id: number;
    kind: 'checkpoint' | 'savepoint';
  },
): Promise<number> {
  const { graph, node } = snapshot;
  const timestamp = Date.now();
  const captures = backends.map((b) => b.capture());
  const acks = await Promise.all(
    captures.map((keyed, i) =>
      writeTaskSnapshot(
        storage,
        location,
        i,
        [backends[i]!.range],
        [{ operatorId: node.operatorId, keyed, operator: { states: [] }, pending: undefined }],
      ),
    ),
  );
  const handles = acks.flat().sort((a, b) => a.subtaskIndex - b.subtaskIndex);
  const metadata: SnapshotMetadata = {
    format: 'weir-snapshot',
    version: METADATA_VERSION,
    weirVersion: weirVersion(),
    kind: snapshot.kind,
    id: snapshot.id,
    timestamp,
    jobId: snapshot.jobId,
    jobName: graph.jobName,
    operators: [
      {
        operatorId: node.operatorId,
        uid: node.uid ?? null,
        name: node.name,
        parallelism: backends.length,
        maxParallelism: MAX_PARALLELISM,
        subtasks: handles.map((h) => ({
          index: h.subtaskIndex,
          keyGroups: h.keyGroups === null ? null : [h.keyGroups[0], h.keyGroups[1]],
          keyed: h.keyed,
          operator: h.operator,
          timers: null,
          sink: null,
          states: h.states,
        })),
      },
    ],
    extra: {},
  };
  const metadataBytes = encodeMetadata(metadata);
  await storage.writeMetadata(location, metadataBytes);
  return handles.reduce((n, h) => n + h.bytes, 0) + metadataBytes.length;
}

/** Restores the snapshot at `uri` into `node` (at the graph's parallelism) as a new job does; returns the new subtasks' backends. */
export async function restoreSnapshot(
  storage: CheckpointStorage,
  uri: string,
  graph: JobGraph,
  node: OperatorNode,
): Promise<{ backends: HeapKeyedStateBackend[]; metadata: SnapshotMetadata }> {
  const at = await storage.resolve(uri);
  const bytes = await storage.readMetadata(at);
  if (bytes === undefined) throw new Error(`bench: ${at.uri} has no _metadata`);
  const metadata = decodeMetadata(bytes, `${at.uri}/_metadata`);
  const job = await loadSnapshot(storage, at, metadata, graph, { allowNonRestoredState: false });
  const backends: HeapKeyedStateBackend[] = [];
  for (let i = 0; i < node.parallelism; i++) {
    const state = job.stateFor(node.vertex, i)[node.vertex.operators.indexOf(node)];
    if (state?.keyed === undefined) throw new Error(`bench: no keyed state for new subtask ${i}`);
    const b = new HeapKeyedStateBackend(
      KeyGroupRange.forSubtask(i, node.parallelism, MAX_PARALLELISM),
      MAX_PARALLELISM,
    );
    b.restore([state.keyed], { copy: false });
    backends.push(b);
  }
  return { backends, metadata };
}

/**
 * Decodes every key group a restore left encoded (see EncodedKeyGroup), as the restored job's
 * background work does over its first batches.
 */
export function decodeAll(backends: readonly HeapKeyedStateBackend[]): void {
  for (const b of backends) while (!b.mergeStep(1 << 16));
}

/** Every restored key is in its subtask's range, none is lost, and the values are the ones written. */
export function checkRestored(backends: readonly HeapKeyedStateBackend[], shape: KeyedStateShape): void {
  let keys = 0;
  let sum = 0;
  for (const b of backends)
    for (const [k, v] of b.entries(STATE)) {
      if (!b.range.contains(keyGroupOf(k, MAX_PARALLELISM)))
        throw new Error(`bench: key ${String(k)} restored outside its range`);
      const bytes = v as Uint8Array;
      if (bytes.length !== shape.valueBytes)
        throw new Error(`bench: a value of ${bytes.length} bytes restored`);
      keys++;
      sum += bytes[0]! + bytes[shape.valueBytes - 1]!;
    }
  let expected = 0;
  for (let i = 0; i < shape.keys; i++) expected += 2 * tag(i);
  if (keys !== shape.keys || sum !== expected)
    throw new Error(
      `bench: restored ${keys} keys (checksum ${sum}), expected ${shape.keys} (checksum ${expected})`,
    );
}
