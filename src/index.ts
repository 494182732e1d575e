// weir's public API. Everything not exported here is internal and may change without notice.

export { defineJob, isJobDefinition, type JobDefinition } from './api/job.js';
export { parseJobArgs, JobArgs, JobArgumentError, JobHelpRequested } from './api/job-args.js';
export { StreamExecutionEnvironment, type EnvironmentOptions } from './api/environment.js';
export {
  DataStream,
  KeyedStream,
  DataStreamSink,
  WindowedStream,
  CountWindowedStream,
} from './api/data-stream.js';
export { OutputTag } from './runtime/output-tag.js';
export {
  ConnectedStreams,
  KeyedConnectedStreams,
  BroadcastStream,
  BroadcastConnectedStream,
} from './api/connected-streams.js';
export { IntervalJoin, IntervalJoined } from './api/interval-join.js';
export { JoinedStreams, WindowedJoin, type JoinFunction, type CoGroupFunction } from './api/window-join.js';
export type { ProcessJoinFunction, IntervalJoinContext } from './runtime/operators/interval-join-operator.js';
export type {
  CoProcessFunction,
  KeyedCoProcessFunction,
  CoMapFunction,
  CoFlatMapFunction,
  BroadcastProcessFunction,
  KeyedBroadcastProcessFunction,
  ReadOnlyBroadcastContext,
  BroadcastContext,
  KeyedReadOnlyBroadcastContext,
  KeyedBroadcastContext,
  KeyedOnTimerBroadcastContext,
  ReadOnlyMapState,
  KeyedStateDescriptor,
  StateOf,
} from './runtime/two-input-functions.js';
export {
  WatermarkStrategy,
  BoundedOutOfOrdernessWatermarks,
  type ProcessingClock,
  type TimestampAssigner,
  type WatermarkGenerator,
  type WatermarkOutput,
} from './api/watermark-strategy.js';
export {
  TumblingEventTimeWindows,
  TumblingProcessingTimeWindows,
  SlidingEventTimeWindows,
  SlidingProcessingTimeWindows,
  EventTimeSessionWindows,
  ProcessingTimeSessionWindows,
  type TimeWindow,
  type WindowAssigner,
} from './api/windows.js';
export type { ProcessWindowFunction, WindowContext } from './runtime/operators/window-operator.js';
export {
  TriggerResult,
  EventTimeTrigger,
  ProcessingTimeTrigger,
  CountTrigger,
  ContinuousEventTimeTrigger,
  PurgingTrigger,
  type Trigger,
  type TriggerContext,
  type OnMergeContext,
} from './api/triggers.js';
export {
  CountEvictor,
  TimeEvictor,
  type Evictor,
  type EvictorContext,
  type TimestampedValue,
} from './api/evictors.js';
export { TriggerStateError, type TriggerStateDescriptor } from './runtime/window-trigger.js';
export {
  CheckpointConfig,
  CheckpointConfigError,
  DEFAULT_CHECKPOINT_SETTINGS,
  type CheckpointSettings,
  type CheckpointingMode,
  type ExternalizedCheckpointRetention,
} from './api/checkpoint-config.js';
export { parseDuration } from './api/duration.js';

export type {
  Collector,
  RuntimeContext,
  RichFunction,
  CheckpointedFunction,
  CheckpointListener,
  FunctionInitializationContext,
  FunctionSnapshotContext,
  MapFunction,
  FilterFunction,
  FlatMapFunction,
  KeySelector,
  ProcessFunction,
  ProcessContext,
  KeyedProcessFunction,
  KeyedProcessContext,
  OnTimerContext,
  TimerServiceView,
} from './runtime/functions.js';
export type {
  Source,
  SourceReader,
  SourceReaderContext,
  SourceOutput,
  InputStatus,
} from './runtime/source.js';
export type { Sink, SinkWriter } from './runtime/sink.js';

export {
  ValueStateDescriptor,
  ListStateDescriptor,
  MapStateDescriptor,
  ReducingStateDescriptor,
  AggregatingStateDescriptor,
  DEFAULT_SERIALIZER_ID,
  type AggregateFunction,
  type ReduceFunction,
  type StateKind,
  type StateSerializer,
  type StateSchemaOptions,
} from './state/descriptors.js';
export { StateMigrationError } from './state/state-migration-error.js';
export type { ValueState, ListState, MapState, ReducingState, AggregatingState } from './state/state.js';
export { StateAccessError } from './state/state.js';
export type { KeyedStateStore } from './state/keyed-state-backend.js';
export type { OperatorStateStore } from './state/operator-state-store.js';
export {
  keyGroupOf,
  KeyGroupRange,
  DEFAULT_MAX_PARALLELISM,
  InvalidKeyError,
  type KeyValue,
} from './state/key-group.js';

export { GraphValidationError } from './graph/transformation.js';
export { JobCancelledError, JobFailedError } from './cluster/job-failed-error.js';
/**
 * Thrown by `env.execute()` before a job that checkpoints starts, when its checkpoint directory
 * cannot be written (a file, no permission, a read-only mount):
 *
 * ```ts
 * try {
 *   await env.execute();
 * } catch (e) {
 *   if (e instanceof CheckpointStorageUnusableError) console.error(e.message); // names the folder and why
 *   else throw e;
 * }
 * ```
 */
export { CheckpointStorageUnusableError } from './storage/checkpoint-storage.js';
export type { RestartStrategyConfig } from './cluster/restart-strategy.js';
export { RestartStrategyConfigError } from './cluster/restart-strategy.js';
export type { JobExecutionResult } from './cluster/local-executor.js';
export { OperatorFailure } from './runtime/operator-failure.js';

export { SequenceSource } from './connectors/sequence-source.js';
export { CollectionSource } from './connectors/collection-source.js';
export { PrintSink } from './connectors/print-sink.js';
export { CollectSink } from './connectors/collect-sink.js';
export { DiscardingSink } from './connectors/discarding-sink.js';
export { FileSource, type FileSourceOptions } from './connectors/file-source.js';
export { InputPathError } from './connectors/file-splits.js';
export { FileSink, type FileSinkOptions } from './connectors/file-sink.js';
