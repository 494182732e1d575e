// The stream execution environment: where a job's sources are created, its defaults are set,
// and from which the graph is executed.
import { buildJobGraph } from '../graph/job-graph-builder.js';
import type { JobGraph } from '../graph/job-graph.js';
import { GraphValidationError } from '../graph/transformation.js';
import {
  DEFAULT_EXECUTION_OPTIONS,
  type ExecutionOptions,
  type JobExecutionResult,
} from '../cluster/local-executor.js';
import { launchJob, type ExecuteOptions } from '../cluster/job-launcher.js';
import { parseRestartStrategy, type RestartStrategyConfig } from '../cluster/restart-strategy.js';
import { CollectionSource } from '../connectors/collection-source.js';
import { SequenceSource } from '../connectors/sequence-source.js';
import { SourceOperator } from '../runtime/operators/source-operator.js';
import { WatermarkStrategy } from './watermark-strategy.js';
import type { Source } from '../runtime/source.js';
import { checkParallelism, DEFAULT_MAX_PARALLELISM } from '../state/key-group.js';
import { CheckpointConfig, CheckpointConfigError } from './checkpoint-config.js';
import { DataStream } from './data-stream.js';
import { StreamGraphBuilder } from './stream-graph-builder.js';

export interface EnvironmentOptions {
  /** Default parallelism of every operator (default 1). */
  parallelism?: number;
  /** Default max parallelism, the number of key groups (default 128). */
  maxParallelism?: number;
  /** Name of the job when none is given to execute(). */
  jobName?: string;
  /** Tuning of the in-process runtime. */
  execution?: Partial<ExecutionOptions>;
}

let executeRefusal: string | undefined;
/** Environments made while execute() was refused, with what their execute() says for good. */
const refusedEnvironments = new WeakMap<StreamExecutionEnvironment, string>();

/**
 * While `reason` is set, execute() throws it instead of running anything, and so does, later,
 * every environment made meanwhile. `weir run` sets it while it loads a job file and while it
 * runs the job's build(): neither may run a job itself (a Flink-style program would run its job,
 * and then once more or not at all), not even after an await. Environments made later (say, one
 * an operator runs in open() to fill a table) are not refused. @internal
 */
export function refuseExecute(reason: string | undefined): void {
  executeRefusal = reason;
}

/**
 * @example
 * const env = new StreamExecutionEnvironment({ parallelism: 2 });
 * env
 *   .fromElements('a b', 'b c')
 *   .flatMap((line: string) => line.split(' ').map((word) => ({ word, count: 1 })))
 *   .keyBy((w) => w.word)
 *   .sum('count')
 *   .print(); // 1> { word: 'b', count: 1 } … 1> { word: 'b', count: 2 } …
 * await env.execute('words');
 */
export class StreamExecutionEnvironment {
  private parallelism: number;
  private maxParallelism: number;
  private chaining = true;
  private readonly graph = new StreamGraphBuilder();
  private readonly execution: ExecutionOptions;
  readonly checkpointConfig = new CheckpointConfig();
  /** Validated when set; each execute() gets a fresh strategy, so failure counts never carry over. */
  private restartStrategy: RestartStrategyConfig | undefined;
  readonly jobName: string;

  constructor(options: EnvironmentOptions = {}) {
    if (executeRefusal !== undefined) refusedEnvironments.set(this, executeRefusal);
    this.maxParallelism = options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
    this.parallelism = options.parallelism ?? 1;
    checkParallelism(this.parallelism, this.maxParallelism);
    this.jobName = options.jobName ?? 'weir job';
    this.execution = { ...DEFAULT_EXECUTION_OPTIONS, ...options.execution };
  }

  setParallelism(parallelism: number): this {
    if (!Number.isInteger(parallelism) || parallelism < 1) {
      throw new GraphValidationError(
        `setParallelism(${parallelism}): parallelism must be a positive integer`,
      );
    }
    this.parallelism = parallelism;
    return this;
  }

  getParallelism(): number {
    return this.parallelism;
  }

  /** The number of key groups; fixed for the life of the job's state. */
  setMaxParallelism(maxParallelism: number): this {
    if (!Number.isInteger(maxParallelism) || maxParallelism < 1) {
      throw new GraphValidationError(
        `setMaxParallelism(${maxParallelism}): max parallelism must be a positive integer`,
      );
    }
    this.maxParallelism = maxParallelism;
    return this;
  }

  getMaxParallelism(): number {
    return this.maxParallelism;
  }

  /** Runs every operator in its own task (useful for debugging; slower). */
  disableOperatorChaining(): this {
    this.chaining = false;
    return this;
  }

  /** Takes a checkpoint every `intervalMs` (above 0); see checkpointConfig for the other settings. */
  enableCheckpointing(intervalMs: number, mode?: 'exactly-once' | 'at-least-once'): this {
    // An interval of 0 means "off" in the config; asking to enable checkpointing with it is a
    // mistake to name, not a silent off.
    if (intervalMs === 0)
      throw new CheckpointConfigError(
        'enableCheckpointing needs an interval above 0 ms, got 0; to run without checkpoints, leave the call out',
      );
    this.checkpointConfig.setInterval(intervalMs);
    if (mode !== undefined) this.checkpointConfig.setMode(mode);
    return this;
  }

  /**
   * How the job restarts after a failure (Flink's strategies). Default: exponential delay when
   * checkpointing is enabled, no restart otherwise.
   * @example
   * env.setRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 1000 });
   */
  setRestartStrategy(config: RestartStrategyConfig): this {
    parseRestartStrategy(config);
    this.restartStrategy = config;
    return this;
  }

  /**
   * A stream from a source. With a watermark strategy the records get event timestamps and the
   * job event time: watermarks at most every `execution.watermarkIntervalMs` (default 200 ms),
   * and the maximum watermark when the input ends, so every window and event-time timer fires.
   * @example
   * env.fromSource(source, WatermarkStrategy.forBoundedOutOfOrderness<Event>(5000).withTimestampAssigner((e) => e.time), 'events')
   */
  fromSource<T>(
    source: Source<T>,
    strategyOrName?: WatermarkStrategy<T> | string,
    name?: string,
  ): DataStream<T> {
    const strategy = strategyOrName instanceof WatermarkStrategy ? strategyOrName : undefined;
    if (strategyOrName !== undefined && strategy === undefined && typeof strategyOrName !== 'string')
      throw new GraphValidationError(
        'fromSource(source, strategy, name): the strategy must be a WatermarkStrategy',
      );
    const sourceName = (typeof strategyOrName === 'string' ? strategyOrName : name) ?? 'Source';
    const { batchSize, watermarkIntervalMs } = this.execution;
    const t = this.graph.add(
      'source',
      sourceName,
      [],
      () => new SourceOperator(source, batchSize, strategy, watermarkIntervalMs),
      {
        maxSourceParallelism: source.maxParallelism,
        // Its read position is state: restored to a generated id that changed with the graph,
        // the source would start over. Records written in the job itself (fromElements and
        // the like) change with the job anyway, so those are left out of the uid warning.
        stateful: !(source instanceof CollectionSource || source instanceof SequenceSource),
      },
    );
    return new DataStream<T>(this.graph, [{ from: t, partition: { kind: 'default' } }], t);
  }

  /** The integers from `from` to `to`, inclusive, split over the source's subtasks. */
  fromSequence(from: number, to: number): DataStream<number> {
    return this.fromSource(new SequenceSource(from, to), 'Sequence Source');
  }

  /** A fixed list of records, emitted in order by one subtask. */
  fromElements<T>(...elements: T[]): DataStream<T> {
    return this.fromSource(new CollectionSource(elements), 'Collection Source');
  }

  fromCollection<T>(elements: Iterable<T>): DataStream<T> {
    return this.fromSource(new CollectionSource([...elements]), 'Collection Source');
  }

  /** Validates the graph and resolves it into chains, without running it. */
  getJobGraph(jobName = this.jobName): JobGraph {
    const graph = buildJobGraph(jobName, this.graph.transformations, {
      parallelism: this.parallelism,
      maxParallelism: this.maxParallelism,
      chaining: this.chaining,
    });
    return graph;
  }

  /**
   * Runs the job in this process until its sources end (or it fails for good), taking
   * checkpoints and restarting from them as configured.
   */
  execute(jobName = this.jobName, options: ExecuteOptions = {}): Promise<JobExecutionResult> {
    // At once, not as a rejection: a call nobody awaits must stop the load or build too.
    const refused = executeRefusal ?? refusedEnvironments.get(this);
    if (refused !== undefined) throw new GraphValidationError(refused);
    return this.run(jobName, options);
  }

  private async run(jobName: string, options: ExecuteOptions): Promise<JobExecutionResult> {
    const graph = this.getJobGraph(jobName);
    const restart =
      this.restartStrategy === undefined ? undefined : parseRestartStrategy(this.restartStrategy);
    return launchJob(graph, this.checkpointConfig.settings, this.execution, restart, {
      log: () => undefined,
      ...options,
    });
  }
}
