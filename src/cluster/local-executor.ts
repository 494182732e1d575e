// Runs every subtask of a job graph in this process: one StreamTask per subtask of each chain,
// connected by bounded channels. The first task to fail cancels all others.
import { randomUUID } from 'node:crypto';
import type { JobGraph, JobVertex, NetworkEdge } from '../graph/job-graph.js';
import { combineOutputs, ChainingOutput } from '../runtime/chain-outputs.js';
import { Channel } from '../runtime/channel.js';
import type { Collector } from '../runtime/functions.js';
import { createRecordWriter, type RecordWriter } from '../runtime/record-writer.js';
import { Scheduler } from '../runtime/scheduler.js';
import { Signal } from '../runtime/signal.js';
import type { OperatorSubtaskState, StreamOperator } from '../runtime/stream-operator.js';
import { StreamTask, TaskCancelledError, type TaskCheckpointGateway } from '../runtime/stream-task.js';
import { HeapKeyedStateBackend } from '../state/keyed-state-backend.js';
import { KeyGroupRange } from '../state/key-group.js';
import { JobFailedError } from './job-failed-error.js';
import { attribute } from '../runtime/operator-failure.js';
import { TaskTime, type ProcessingClock } from '../runtime/timer-service.js';

export interface ExecutionOptions {
  /** Records per batch on a channel. */
  readonly batchSize: number;
  /** Batches a channel holds before its producer waits. */
  readonly channelCapacity: number;
  /** Longest time a partial batch waits before it is sent. */
  readonly flushIntervalMs: number;
  /** Processing time of every task (default: the system clock); tests inject their own. */
  readonly clock?: ProcessingClock;
  /** Sources with a watermark strategy emit a watermark at most this often (Flink's auto-watermark interval). */
  readonly watermarkIntervalMs: number;
}

export const DEFAULT_EXECUTION_OPTIONS: ExecutionOptions = {
  batchSize: 1024,
  channelCapacity: 4,
  flushIntervalMs: 50,
  watermarkIntervalMs: 200,
};

export interface JobExecutionResult {
  readonly jobId: string;
  readonly jobName: string;
  readonly durationMs: number;
  /** Set when the job was stopped with a savepoint: the savepoint's folder. */
  readonly savepointPath?: string;
}

/** What one deployment of a job starts from, and how its tasks take part in checkpoints. */
export interface DeploymentOptions {
  /** The run's id, which operators see (RuntimeContext.jobId); a new one when not given. */
  readonly jobId?: string;
  /** State per operator of the chain (head first) for subtask `subtask` of `vertex`; undefined: start empty. */
  readonly restoredState?: (
    vertex: JobVertex,
    subtask: number,
  ) => ReadonlyArray<OperatorSubtaskState | undefined> | undefined;
  readonly checkpoints?: TaskCheckpointGateway;
}

/** How the coordinator names a task: stable across attempts of one job graph. */
export function taskIdOf(vertex: JobVertex, subtask: number): string {
  return `${vertex.index}#${subtask}`;
}

let lastAttemptStartTime = 0;

/**
 * Now, but never the time of an earlier attempt in this process: two attempts deployed within one
 * millisecond (a restart without delay) must not share what is keyed by it (FileSource's listing).
 */
export function nextAttemptStartTime(): number {
  lastAttemptStartTime = Math.max(Date.now(), lastAttemptStartTime + 1);
  return lastAttemptStartTime;
}

export class LocalExecutor {
  constructor(private readonly options: ExecutionOptions = DEFAULT_EXECUTION_OPTIONS) {}

  async execute(graph: JobGraph, jobId: string = randomUUID()): Promise<JobExecutionResult> {
    const started = performance.now();
    const tasks = this.deploy(graph, { jobId });
    let failure: unknown;
    const runs = tasks.map((t) =>
      t.run().catch((e: unknown) => {
        if (failure === undefined && !(e instanceof TaskCancelledError)) {
          failure = e;
          for (const other of tasks) other.cancel();
        }
      }),
    );
    await Promise.all(runs);
    if (failure !== undefined) throw new JobFailedError(graph.jobName, failure);
    return { jobId, jobName: graph.jobName, durationMs: performance.now() - started };
  }

  /** Creates every task of the graph, connected by channels; `run()` each to start them. */
  deploy(graph: JobGraph, deployment: DeploymentOptions = {}): StreamTask[] {
    const { batchSize, channelCapacity, flushIntervalMs } = this.options;
    const jobId = deployment.jobId ?? randomUUID();
    const attemptStartTime = nextAttemptStartTime();
    const scheduler = new Scheduler();
    const signals = new Map<JobVertex, Signal[]>();
    for (const v of graph.vertices)
      signals.set(
        v,
        Array.from({ length: v.parallelism }, () => new Signal()),
      );

    // channels[edge][producer][consumer]; forward edges only have producer i → consumer i.
    const channels = new Map<NetworkEdge, Array<Array<Channel | undefined>>>();
    for (const v of graph.vertices) {
      for (const e of v.inputs) {
        const from = e.from.vertex;
        const grid = Array.from({ length: from.parallelism }, (_, i) =>
          Array.from({ length: v.parallelism }, (_, j) =>
            e.partitioner === 'forward' && i !== j
              ? undefined
              : new Channel(channelCapacity, signals.get(from)![i]!, signals.get(v)![j]!, e.inputIndex),
          ),
        );
        channels.set(e, grid);
      }
    }

    const tasks: StreamTask[] = [];
    for (const v of graph.vertices) {
      for (let i = 0; i < v.parallelism; i++) {
        const writers: RecordWriter[] = [];
        const time = new TaskTime(this.options.clock);
        const ops = new Map<(typeof v.operators)[number], StreamOperator>();
        for (const node of v.operators) ops.set(node, node.transformation.createOperator());
        const head = v.operators[0]!;
        const backend = head.keyed
          ? new HeapKeyedStateBackend(
              KeyGroupRange.forSubtask(i, v.parallelism, head.maxParallelism),
              head.maxParallelism,
            )
          : undefined;
        for (const node of v.operators) {
          const op = ops.get(node)!;
          // Main output under the key undefined, each side output under its tag.
          const outputs = new Map<string | undefined, Collector<unknown>[]>([[undefined, []]]);
          const outputFor = (tag: string | undefined): Collector<unknown>[] => {
            let list = outputs.get(tag);
            if (list === undefined) outputs.set(tag, (list = []));
            return list;
          };
          for (const c of node.chainedOutputs) outputFor(c.tag).push(new ChainingOutput(ops.get(c.to)!));
          for (const e of node.networkOutputs) {
            const row = channels.get(e)![i]!.filter((c): c is Channel => c !== undefined);
            const target = e.to;
            const w = createRecordWriter(
              {
                kind: e.partitioner,
                keySelector: e.keySelector,
                maxParallelism: target.maxParallelism,
                target: {
                  name: target.name,
                  uid: target.uid,
                  subtaskIndex: i,
                  parallelism: target.parallelism,
                },
              },
              row,
              batchSize,
              i,
            );
            w.time = time;
            writers.push(w);
            outputFor(e.tag).push(w);
          }
          const sideOutputs = new Map<string, Collector<unknown>>();
          for (const [tag, list] of outputs)
            if (tag !== undefined) sideOutputs.set(tag, combineOutputs(list));
          op.sideOutputs = sideOutputs;
          // Watermarks follow the records: into the chained operators, then out on the network.
          const chained = node.chainedOutputs.map((c) => ops.get(c.to)!);
          const networkWriters = writers.slice(writers.length - node.networkOutputs.length);
          op.watermarkOutput = (watermark) => {
            for (const next of chained) {
              try {
                next.processWatermark(watermark);
              } catch (e) {
                throw attribute(e, next.info, 'onTimer');
              }
            }
            for (const w of networkWriters) w.broadcastEvent({ kind: 'watermark', timestamp: watermark });
          };
          op.setup(
            {
              name: node.name,
              uid: node.uid,
              operatorId: node.operatorId,
              subtaskIndex: i,
              parallelism: v.parallelism,
              maxParallelism: node.maxParallelism,
              jobName: graph.jobName,
              jobId,
              attemptStartTime,
            },
            combineOutputs(outputs.get(undefined)!),
            node === head ? backend : undefined,
            time,
          );
        }
        const inputs: Channel[] = [];
        for (const e of v.inputs)
          for (const row of channels.get(e)!) if (row[i] !== undefined) inputs.push(row[i]!);
        tasks.push(
          new StreamTask({
            name: v.name,
            taskId: taskIdOf(v, i),
            vertexIndex: v.index,
            restored: deployment.restoredState?.(v, i),
            checkpoints: deployment.checkpoints,
            signal: signals.get(v)![i]!,
            subtaskIndex: i,
            parallelism: v.parallelism,
            operators: v.operators.map((n) => ops.get(n)!),
            inputs,
            writers,
            keyedBackend: backend,
            scheduler,
            flushIntervalMs,
            time,
          }),
        );
      }
    }
    return tasks;
  }
}
