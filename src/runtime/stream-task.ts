// A task runs one subtask of a chain in a mailbox loop: take one batch (or, in a source task,
// poll the reader once), run it through the chain, then handle mail. It never takes new input
// while an output channel is full, which is how backpressure reaches the sources.
//
// A batch whose records are expensive is run in slices (see WorkSlicer): when the time slice of
// the turn is used up in the middle of a batch, the task yields there and goes on with the rest
// of that batch on its next turn, before anything else (mail, another batch, an event of any
// input), so the order of records, barriers and watermarks is that of whole batches.
import type { HeapKeyedStateBackend } from '../state/keyed-state-backend.js';
import type { Channel } from './channel.js';
import { attribute } from './operator-failure.js';
import { END_OF_INPUT, MAX_WATERMARK, type CheckpointBarrier, type RecordBatch } from './record-batch.js';
import { TaskTime } from './timer-service.js';
import type { RecordWriter } from './record-writer.js';
import { WorkSlicer, type Scheduler } from './scheduler.js';
import type { Signal } from './signal.js';
import { SinkOperator } from './operators/sink-operator.js';
import { SourceOperator } from './operators/source-operator.js';
import type { InputStatus, SourceOutput } from './source.js';
import type { OperatorSnapshotParts, OperatorSubtaskState, StreamOperator } from './stream-operator.js';

/** How a task takes part in checkpoints; implemented by the job's checkpoint machinery. */
export interface TaskCheckpointGateway {
  /** Whether snapshots carry keyed state (false: commit-only snapshots when checkpointing is off). */
  readonly persistState: boolean;
  /** Exactly-once aligns barriers; at-least-once lets records of aligned inputs through. */
  readonly aligned: boolean;
  /**
   * Called in the task's loop right after its synchronous snapshot for `barrier`; owns the
   * asynchronous part (writing, waiting for `parts[i].pending`) and the acknowledgement.
   */
  snapshotTaken(
    task: StreamTask,
    barrier: CheckpointBarrier,
    parts: OperatorSnapshotParts[],
    timing: { syncMs: number; alignmentMs: number },
  ): void;
  /** The task has processed all its input and finished its operators. */
  taskFinished(task: StreamTask): void;
}

export class TaskCancelledError extends Error {
  override readonly name = 'TaskCancelledError';
}

/** Thrown inside a task's loop to end it after a stop-with-savepoint: not a failure. */
class TaskStopped extends Error {
  override readonly name = 'TaskStopped';
}

/** 'stopped': ended by a stop-with-savepoint, its operators not finished (their state is in the savepoint). */
export type TaskState = 'created' | 'running' | 'finished' | 'stopped' | 'failed' | 'cancelled';

export interface TaskSetup {
  readonly name: string;
  /** Woken by anything that may let the task continue; channels hold it too. */
  readonly signal: Signal;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  /** Operators in chain order; the first is the head. */
  readonly operators: StreamOperator[];
  readonly inputs: Channel[];
  readonly writers: RecordWriter[];
  /** Set when the head operator's input is keyed. */
  readonly keyedBackend: HeapKeyedStateBackend | undefined;
  readonly scheduler: Scheduler;
  readonly flushIntervalMs: number;
  /** State to restore per operator (same order as `operators`). */
  readonly restored?: ReadonlyArray<OperatorSubtaskState | undefined>;
  /** "<vertex id>#<subtask>": how the coordinator names the task. */
  readonly taskId: string;
  /** The index of the task's vertex in the job graph (whose counts the task adds to). */
  readonly vertexIndex: number;
  readonly checkpoints?: TaskCheckpointGateway;
  /** Shared with the task's operators and writers: record timestamps, processing time. */
  readonly time?: TaskTime;
}

/** Barrier alignment in progress: which inputs have delivered barrier `barrier.id`. */
interface Alignment {
  readonly barrier: CheckpointBarrier;
  readonly arrived: boolean[];
  readonly startedAt: number;
}

/** What a task counted so far (see StreamTask.recordCounts). */
export interface TaskRecordCounts {
  /** Records its sources emitted: read into the job. */
  read: number;
  /** Records it took from other tasks. */
  received: number;
  /** Records it sent to other tasks. */
  sent: number;
  /** Records its sinks took: written out of the job. */
  written: number;
}

/** How many aborted checkpoints' ids a task keeps to pass over their barriers (see notifyCheckpointAborted). */
const MAX_ABORTED_KEPT = 64;

export class StreamTask {
  readonly signal: Signal;
  state: TaskState = 'created';
  /** Records taken from other tasks (over channels). */
  recordsIn = 0;
  private readonly mailbox: Array<() => void | Promise<void>> = [];
  private cancelled = false;
  private lastFlush = 0;
  private nextInput = 0;
  private openInputs: number;
  /** Operators whose open was attempted, which are the ones to close. */
  private readonly started = new Set<StreamOperator>();
  private alignment: Alignment | undefined;
  /** Inputs held back until the current alignment ends (exactly-once). */
  private readonly blocked: boolean[];
  /** The newest snapshot this task took; older or equal barriers are stale. */
  private lastSnapshotId = 0;
  /** Newer checkpoints the job aborted: their barriers are stale too. */
  private readonly abortedIds = new Set<number>();
  /** Set by `finishAfterFinalCheckpoint`: the job's last checkpoint is complete, the task may end. */
  private released = false;
  private inputsFinished = false;
  /** Sources only: the stop-with-savepoint whose barrier this source emitted; it emits nothing more unless that savepoint is aborted. */
  private suspendedFor: number | undefined;
  /** Sources only: end the input now (stop with --drain). */
  private endInputRequested = false;
  /** End the task at its next step without finishing its operators (the stop-with-savepoint completed). */
  private stopRequested = false;
  readonly time: TaskTime;
  /** Per input: the newest watermark, and whether its producer said it is idle. */
  private readonly inputWatermarks: number[];
  private readonly inputIdle: boolean[];
  /** The watermark passed to the operators, and whether this task told downstream it is idle. */
  private watermark = Number.NEGATIVE_INFINITY;
  private idleDownstream = false;
  private wakeup: ReturnType<typeof setTimeout> | undefined;
  /** Set at the end of the input: processing-time timers fire no more. */
  private timersDropped = false;
  /** The input of a two-input head operator that the batch being processed came on. */
  private batchInput = 0;
  /** Sources only: the promise of the reader's `isAvailable()` that wakes this task when it settles. */
  private watchedAvailability: PromiseLike<void> | undefined;
  /** Sources only: how the watched promise rejected (thrown by the task's next wait). */
  private availabilityFailure: { readonly error: unknown } | undefined;
  /** Cuts batches of expensive records into slices between which the task may yield. */
  private readonly slicer: WorkSlicer;
  /** Sources only: records the reader may still emit in the current slice before a look at the clock. */
  private sliceLeft = 0;
  /**
   * Sources only: the reader emitted past the end of the turn's time slice. What it emits until
   * its poll returns waits in `deferred` (record, timestamp, record, …) and goes down the chain
   * on the next turns, before anything else.
   */
  private deferring = false;
  private readonly deferred: unknown[] = [];

  constructor(readonly setup: TaskSetup) {
    this.signal = setup.signal;
    this.openInputs = setup.inputs.length;
    this.blocked = setup.inputs.map(() => false);
    this.inputWatermarks = setup.inputs.map(() => Number.NEGATIVE_INFINITY);
    this.inputIdle = setup.inputs.map(() => false);
    this.time = setup.time ?? new TaskTime();
    this.time.onWakeupRequest = (at) => this.armWakeup(at);
    this.slicer = new WorkSlicer(setup.scheduler);
  }

  /** Processing-time timers: one JavaScript timer for the earliest, firing in the task's loop. */
  private armWakeup(at: number): void {
    if (this.wakeup !== undefined) clearTimeout(this.wakeup);
    const delay = Math.max(0, at - this.time.clock.now());
    this.wakeup = setTimeout(() => {
      this.wakeup = undefined;
      this.enqueueMail(() => {
        this.time.wakeupAt = undefined;
        if (this.timersDropped) return;
        const now = this.time.clock.now();
        for (const op of this.setup.operators) {
          if (!this.started.has(op)) continue;
          try {
            op.advanceProcessingTime(now);
          } catch (e) {
            throw attribute(e, op.info, 'onTimer');
          }
        }
      });
    }, delay);
    this.wakeup.unref?.();
  }

  get head(): StreamOperator {
    return this.setup.operators[0]!;
  }

  /** Runs the task to the end of its input. Rejects with an OperatorFailure or TaskCancelledError. */
  async run(): Promise<void> {
    this.state = 'running';
    const ops = this.setup.operators;
    try {
      // Downstream operators first, so that a head that emits while opening finds them ready.
      for (let i = ops.length - 1; i >= 0; i--) {
        const op = ops[i]!;
        this.started.add(op);
        await this.guard(op, 'initializeState', () => op.initializeState(this.setup.restored?.[i]));
        await this.guard(op, 'open', () => op.open());
      }
      if (this.head instanceof SourceOperator) {
        await this.runSource(this.head);
        const head = this.head;
        this.guardSync(head, 'onTimer', () => head.endOfEventTime());
      } else {
        await this.runInputs();
        this.guardSync(this.head, 'onTimer', () => this.head.processWatermark(MAX_WATERMARK));
      }
      // As in Flink, processing-time timers that have not fired by the end of the input never
      // do: the task may wait a while for the job's final checkpoint, and whatever a timer
      // emitted then would follow the end of input it sent downstream.
      this.timersDropped = true;
      if (this.wakeup !== undefined) clearTimeout(this.wakeup);
      this.wakeup = undefined;
      for (const op of ops) await this.guard(op, 'finish', () => op.finish());
      for (const w of this.setup.writers) w.broadcastEvent(END_OF_INPUT);
      this.inputsFinished = true;
      this.checkAlignment();
      if (this.setup.checkpoints !== undefined) {
        this.setup.checkpoints.taskFinished(this);
        await this.awaitRelease();
      }
      this.state = 'finished';
    } catch (e) {
      if (e instanceof TaskStopped && !this.cancelled) {
        this.state = 'stopped';
        return;
      }
      this.state = this.cancelled ? 'cancelled' : 'failed';
      throw e;
    } finally {
      await this.closeAll();
    }
  }

  /** Stops the task at its next step. */
  cancel(): void {
    this.cancelled = true;
    this.signal.notify();
  }

  /** Lets a finished task end: the job's final checkpoint is complete (or there is none). */
  release(): void {
    // A mail, after the final checkpoint's "complete" told just before it: set at once, it could
    // end the task between its last look at the mailbox and that mail (the sinks' last commit).
    this.enqueueMail(() => {
      this.released = true;
    });
  }

  /** Whether all input was processed and the operators finished. */
  get isFinished(): boolean {
    return this.inputsFinished;
  }

  /**
   * Sources only: snapshot between two batches and emit the barrier downstream. Called from the
   * mailbox, so it never runs in the middle of a batch; a finished source still answers. With
   * `suspend` (stop-with-savepoint) the source emits nothing after the barrier until the
   * savepoint is aborted, so the savepoint holds everything the job did.
   */
  triggerCheckpoint(barrier: CheckpointBarrier, options: { suspend?: boolean } = {}): void {
    if (barrier.id <= this.lastSnapshotId) return;
    this.performCheckpoint(barrier, 0);
    if (options.suspend === true && this.lastSnapshotId === barrier.id) this.suspendedFor = barrier.id;
  }

  /** Sources only (stop with --drain): end the input now; the operators finish as at a real end. */
  endInput(): void {
    this.enqueueMail(() => {
      this.endInputRequested = true;
    });
  }

  /**
   * Ends the task once the mail before this one ran (the savepoint's "complete"), without
   * finishing its operators: what they hold is in the stop-with-savepoint.
   */
  stop(): void {
    this.enqueueMail(() => {
      this.stopRequested = true;
    });
  }

  /** Delivers "checkpoint `id` complete" to every operator, in the task's loop. */
  notifyCheckpointComplete(id: number): void {
    this.enqueueMail(async () => {
      for (const op of this.setup.operators) {
        if (this.started.has(op))
          await this.guard(op, 'notifyCheckpointComplete', () => op.notifyCheckpointComplete(id));
      }
    });
  }

  notifyCheckpointAborted(id: number): void {
    this.enqueueMail(async () => {
      if (this.suspendedFor === id) this.suspendedFor = undefined; // the stop failed: go on
      // Its barriers still on their way are passed over (onBarrier): one that started an
      // alignment now would block its input until a later barrier came on every other one.
      // (A task that takes no snapshot for long, say one whose job declines every checkpoint,
      // keeps the newest few: a barrier older than those has been overtaken.)
      if (id > this.lastSnapshotId) this.abortedIds.add(id);
      if (this.abortedIds.size > MAX_ABORTED_KEPT) this.abortedIds.delete(Math.min(...this.abortedIds));
      // Only its own alignment ends: an older checkpoint being aligned may still complete, and
      // an input that delivered that one's barrier must stay blocked until the others do.
      if (this.alignment?.barrier.id === id) this.endAlignment();
      for (const op of this.setup.operators) {
        if (this.started.has(op))
          await this.guard(op, 'notifyCheckpointAborted', () => op.notifyCheckpointAborted(id));
      }
    });
  }

  /** Runs `action` in the task's loop, between two batches. */
  enqueueMail(action: () => void | Promise<void>): void {
    this.mailbox.push(action);
    this.signal.notify();
  }

  /** After the end of input: keep answering barriers and mail until the final checkpoint is done. */
  private async awaitRelease(): Promise<void> {
    for (;;) {
      await this.step();
      if (this.released) return;
      // Barriers may still arrive behind end-of-input; a finished task snapshots its final state.
      while (this.pollInput(this.setup.inputs) !== undefined) {
        throw new Error(`internal: ${this.setup.name} received records after the end of its input`);
      }
      this.flushOutputs();
      await this.signal.wait();
    }
  }

  private async runSource(source: SourceOperator<unknown>): Promise<void> {
    const reader = source.reader!;
    const output = this.slicedSourceOutput(source.sourceOutput);
    source.statusOutput = (idle) => {
      for (const w of this.setup.writers) w.broadcastEvent({ kind: 'watermark-status', idle });
    };
    for (;;) {
      await this.step();
      if (this.endInputRequested) return;
      if (this.suspendedFor !== undefined) {
        this.flushOutputs();
        await this.signal.wait();
        continue;
      }
      if (!this.hasOutputCredit()) {
        await this.signal.wait();
        continue;
      }
      let status: InputStatus;
      const slicer = this.slicer;
      this.sliceLeft = slicer.size;
      slicer.start();
      try {
        status = reader.pollNext(output);
      } catch (e) {
        throw attribute(e, source.info, 'pollNext');
      }
      if (this.deferring) await this.emitDeferred(source);
      else slicer.finish(slicer.size - this.sliceLeft);
      this.time.timestamp = undefined;
      this.guardSync(source, 'onTimer', () => source.emitPeriodicWatermark());
      await this.afterBatch();
      if (status === 'end-of-input') return;
      if (status === 'nothing-available') {
        this.flushOutputs();
        if (reader.isAvailable !== undefined) {
          try {
            this.watchAvailability(reader.isAvailable());
          } catch (e) {
            throw attribute(e, source.info, 'isAvailable');
          }
          await this.signal.wait();
          const failure = this.availabilityFailure;
          if (failure !== undefined) throw attribute(failure.error, source.info, 'isAvailable');
        } else {
          await this.setup.scheduler.yield();
        }
      }
    }
  }

  /**
   * What the reader emits into: the source's output, with a look at the clock after each slice of
   * records. Once the turn's time slice is used up, the rest of the poll is kept for the next turns.
   */
  private slicedSourceOutput(output: SourceOutput<unknown>): SourceOutput<unknown> {
    const slicer = this.slicer;
    return {
      collect: (record: unknown, timestamp?: number) => {
        if (this.deferring) {
          this.deferred.push(record, timestamp);
          return;
        }
        output.collect(record, timestamp);
        if (--this.sliceLeft === 0) {
          if (slicer.finish(slicer.size)) this.deferring = true;
          else {
            this.sliceLeft = slicer.size;
            slicer.start();
          }
        }
      },
    };
  }

  /** Passes the records the reader emitted past the end of a turn down the chain, in slices, a turn at a time. */
  private async emitDeferred(source: SourceOperator<unknown>): Promise<void> {
    const output = source.sourceOutput;
    const deferred = this.deferred;
    const slicer = this.slicer;
    const n = deferred.length;
    let yieldNow = true;
    for (let i = 0; i < n;) {
      if (yieldNow) {
        this.time.timestamp = undefined;
        await this.afterBatch();
        this.checkCancelled();
      }
      const end = Math.min(n, i + 2 * slicer.size);
      const from = i;
      slicer.start();
      try {
        for (; i < end; i += 2) output.collect(deferred[i], deferred[i + 1] as number | undefined);
      } catch (e) {
        throw attribute(e, source.info, 'pollNext');
      }
      yieldNow = slicer.finish((end - from) / 2);
    }
    deferred.length = 0;
    this.deferring = false;
  }

  /**
   * Makes `available` wake the task when it settles. A reader may hand out the same pending
   * promise for as long as it has nothing (as Flink's readers do), while mails wake the task many
   * times: it is watched once, so those wakes add nothing to it. The task waits only on its signal,
   * so no wait is ever left behind to spend a later notification (see signal.ts).
   */
  private watchAvailability(available: PromiseLike<void> | undefined): void {
    // Known by what the reader handed out, not by a promise made of it: another library's
    // promise (a thenable) is wrapped in a new one each time. A plain-JavaScript reader may hand
    // back something that is no object at all: taken as ready, and never as the one watched.
    const watchable =
      (typeof available === 'object' && available !== null) || typeof available === 'function';
    const watched = watchable ? available : undefined;
    if (watchable && watched === this.watchedAvailability) return;
    this.watchedAvailability = watched;
    // Once settled it is watched no more: handed out again, it wakes the task again at once. A
    // promise the reader replaced since is not its word any more.
    const settled = (failure?: { readonly error: unknown }): void => {
      if (this.watchedAvailability !== watched) return;
      this.watchedAvailability = undefined;
      if (failure !== undefined) this.availabilityFailure = failure;
      this.signal.notify();
    };
    Promise.resolve(available).then(
      () => settled(),
      (error: unknown) => settled({ error }),
    );
  }

  private async runInputs(): Promise<void> {
    const inputs = this.setup.inputs;
    while (this.openInputs > 0) {
      await this.step();
      if (!this.hasOutputCredit()) {
        await this.signal.wait();
        continue;
      }
      const item = this.pollInput(inputs);
      if (item === undefined) {
        if (this.openInputs === 0) return;
        // What timers emitted on a watermark or a processing-time wakeup reaches its sinks now.
        await this.afterBatch();
        this.flushOutputs();
        await this.signal.wait();
        continue;
      }
      const rest = this.processBatch(item);
      if (rest !== undefined) await rest;
      await this.afterBatch();
    }
  }

  /**
   * The next batch of records from the inputs in turn. Events on the way (barriers, watermarks,
   * end-of-input) are handled and the same input is polled again: an event never ends the
   * search, or the task would wait for a wake-up that the items queued behind it already spent.
   */
  private pollInput(inputs: Channel[]): RecordBatch | undefined {
    const n = inputs.length;
    for (let tried = 0; tried < n;) {
      const i = this.nextInput;
      this.nextInput = i + 1 === n ? 0 : i + 1;
      tried++;
      if (this.blocked[i] === true) continue;
      const ch = inputs[i]!;
      // A finished channel can still carry barriers: sources answer checkpoints after their end.
      const item = ch.poll();
      if (item === undefined) continue;
      if (item.kind === 'records') {
        if (ch.finished) throw new Error('internal: records after end-of-input on a channel');
        this.batchInput = ch.inputIndex;
        return item;
      }
      this.nextInput = i;
      tried--;
      if (item.kind === 'barrier') {
        this.onBarrier(i, item);
      } else if (item.kind === 'watermark') {
        if (item.timestamp > this.inputWatermarks[i]!) this.inputWatermarks[i] = item.timestamp;
        this.inputIdle[i] = false;
        this.advanceWatermark();
      } else if (item.kind === 'watermark-status') {
        this.inputIdle[i] = item.idle;
        this.advanceWatermark();
      } else {
        ch.finished = true;
        this.openInputs--;
        this.checkAlignment();
        if (this.openInputs > 0) this.advanceWatermark(); // an ended input no longer holds event time back
      }
    }
    return undefined;
  }

  /**
   * Event time of the task: the minimum watermark over its inputs that are neither idle nor
   * ended. When it advances, the operators fire their timers and pass it on; when every open
   * input is idle, so is this task for the tasks after it.
   */
  private advanceWatermark(): void {
    const inputs = this.setup.inputs;
    let min = Number.POSITIVE_INFINITY;
    let active = false;
    for (let i = 0; i < inputs.length; i++) {
      if (inputs[i]!.finished || this.inputIdle[i]) continue;
      active = true;
      if (this.inputWatermarks[i]! < min) min = this.inputWatermarks[i]!;
    }
    const idle = !active && inputs.some((c, i) => !c.finished && this.inputIdle[i]);
    if (idle !== this.idleDownstream) {
      this.idleDownstream = idle;
      for (const w of this.setup.writers) w.broadcastEvent({ kind: 'watermark-status', idle });
    }
    if (!active || min <= this.watermark) return;
    this.watermark = min;
    this.guardSync(this.head, 'onTimer', () => this.head.processWatermark(min));
  }

  private guardSync(op: StreamOperator, phase: string, action: () => void): void {
    try {
      action();
    } catch (e) {
      throw attribute(e, op.info, phase);
    }
  }

  private onBarrier(input: number, barrier: CheckpointBarrier): void {
    if (barrier.id <= this.lastSnapshotId) return; // a checkpoint this task already took (or gave up)
    // Before the overtaking below: with unaligned inputs (at-least-once) an aborted checkpoint's
    // barrier may come while an older one is still being aligned, which goes on. (Aligned, it
    // comes on an input only after that input's barrier of every older checkpoint still valid.)
    if (this.abortedIds.has(barrier.id)) return;
    let a = this.alignment;
    if (a !== undefined && a.barrier.id < barrier.id) {
      // A newer checkpoint overtook one that never completed here: give the old one up.
      this.endAlignment();
      a = undefined;
    }
    if (a === undefined) {
      a = { barrier, arrived: this.setup.inputs.map(() => false), startedAt: performance.now() };
      this.alignment = a;
    } else if (a.barrier.id > barrier.id) return;
    a.arrived[input] = true;
    if (this.setup.checkpoints?.aligned !== false) this.blocked[input] = true;
    this.checkAlignment();
  }

  /**
   * Takes the snapshot once every input has delivered the barrier or has ended. When the last
   * input ends first, the snapshot waits until the operators have finished: the barrier came
   * after that input's end, so the snapshot must hold what the operators emit when they finish
   * (a job's final checkpoint would otherwise commit without it).
   */
  private checkAlignment(): void {
    const a = this.alignment;
    if (a === undefined) return;
    const inputs = this.setup.inputs;
    for (let i = 0; i < inputs.length; i++) if (!a.arrived[i] && !inputs[i]!.finished) return;
    if (this.openInputs === 0 && !this.inputsFinished) return; // run() checks again after finish()
    this.endAlignment();
    this.performCheckpoint(a.barrier, performance.now() - a.startedAt);
  }

  private endAlignment(): void {
    this.alignment = undefined;
    this.blocked.fill(false);
    this.signal.notify();
  }

  private performCheckpoint(barrier: CheckpointBarrier, alignmentMs: number): void {
    const gateway = this.setup.checkpoints;
    if (gateway === undefined) return;
    this.lastSnapshotId = barrier.id;
    for (const id of this.abortedIds) if (id <= barrier.id) this.abortedIds.delete(id);
    const started = performance.now();
    const parts: OperatorSnapshotParts[] = [];
    // A savepoint always carries state, also when periodic checkpoints are off.
    const persist = gateway.persistState || barrier.type === 'savepoint';
    for (const op of this.setup.operators) {
      try {
        parts.push(
          op.snapshotForCheckpoint(barrier.id, barrier.timestamp, persist, barrier.type === 'savepoint'),
        );
      } catch (e) {
        for (const p of parts) p.keyed?.release();
        throw attribute(e, op.info, 'snapshotState');
      }
    }
    for (const w of this.setup.writers) w.broadcastEvent(barrier);
    gateway.snapshotTaken(this, barrier, parts, { syncMs: performance.now() - started, alignmentMs });
  }

  /** Its counts so far; a source's and a sink's are counted per record and per batch. */
  recordCounts(): TaskRecordCounts {
    const counts = { read: 0, received: this.recordsIn, sent: 0, written: 0 };
    for (const w of this.setup.writers) counts.sent += w.recordsOut;
    for (const op of this.setup.operators) {
      if (op instanceof SourceOperator) counts.read += op.emitted;
      else if (op instanceof SinkOperator) counts.written += op.recordsIn;
    }
    return counts;
  }

  /**
   * Runs a batch through the chain in slices, and yields between two when the turn's time slice
   * is used up. A batch of cheap records is one slice, run without a promise.
   */
  private processBatch(batch: RecordBatch): Promise<void> | undefined {
    this.recordsIn += batch.records.length;
    const at = this.processSlices(batch, 0);
    return at === undefined ? undefined : this.processRest(batch, at);
  }

  /** The rest of a batch from record `from`, each part after a turn of the event loop. */
  private async processRest(batch: RecordBatch, from: number): Promise<void> {
    for (let at: number | undefined = from; at !== undefined; at = this.processSlices(batch, at)) {
      await this.afterBatch();
      this.checkCancelled();
    }
  }

  /**
   * Slices of a batch from record `from` until it ends (undefined) or the turn's time slice is
   * used up (the record to go on from).
   */
  private processSlices(batch: RecordBatch, from: number): number | undefined {
    const n = batch.records.length;
    const slicer = this.slicer;
    for (;;) {
      const to = n - from <= slicer.size ? n : from + slicer.size;
      slicer.start();
      this.processRecords(batch, from, to);
      const yieldNow = slicer.finish(to - from);
      if (to === n) return undefined;
      if (yieldNow) return to;
      from = to;
    }
  }

  /** Records `from` to `to` (excluded) of a batch, through the head operator. */
  private processRecords(batch: RecordBatch, from: number, to: number): void {
    const head = this.head;
    const records = batch.records;
    const timestamps = batch.timestamps;
    const time = this.time;
    time.timestamp = undefined;
    try {
      const backend = this.setup.keyedBackend;
      if (this.batchInput === 1) {
        this.processSecondInput(batch, from, to);
      } else if (backend !== undefined) {
        const keys = batch.keys!;
        const keyGroups = batch.keyGroups!;
        for (let i = from; i < to; i++) {
          backend.setCurrentKey(keys[i], keyGroups[i]!);
          if (timestamps !== undefined) time.timestamp = timestamps[i];
          head.processElement(records[i]);
        }
      } else if (timestamps !== undefined) {
        for (let i = from; i < to; i++) {
          time.timestamp = timestamps[i];
          head.processElement(records[i]);
        }
      } else {
        for (let i = from; i < to; i++) head.processElement(records[i]);
      }
    } catch (e) {
      throw attribute(e, head.info, 'processElement');
    }
  }

  /**
   * Records `from` to `to` of a batch for the second input of a two-input operator. It is keyed
   * like the first when both inputs are partitioned by key; a broadcast input has no keys, and
   * its records are processed outside any key (keyed state is then out of reach, as in Flink's
   * broadcast side).
   */
  private processSecondInput(batch: RecordBatch, from: number, to: number): void {
    const head = this.head;
    const { records, keys, keyGroups, timestamps } = batch;
    const backend = this.setup.keyedBackend;
    const time = this.time;
    const keyed = backend !== undefined && keys !== undefined;
    if (backend !== undefined && !keyed) backend.clearCurrentKey();
    for (let i = from; i < to; i++) {
      if (keyed) backend.setCurrentKey(keys[i], keyGroups![i]!);
      if (timestamps !== undefined) time.timestamp = timestamps[i];
      head.processElement2(records[i]);
    }
  }

  /** Finishes a batch: sink I/O, a timed flush of partial output batches, a turn for the event loop. */
  private async afterBatch(): Promise<void> {
    const ops = this.setup.operators;
    for (const op of ops) {
      let pending: void | Promise<void>;
      try {
        pending = op.endBatch();
      } catch (e) {
        throw attribute(e, op.info, 'write');
      }
      if (pending !== undefined) await this.guard(op, 'write', () => pending);
    }
    this.setup.keyedBackend?.mergeStep();
    this.head.timers?.mergeStep();
    const scheduler = this.setup.scheduler;
    if (scheduler.shouldYield()) {
      const now = performance.now();
      if (now - this.lastFlush >= this.setup.flushIntervalMs) this.flushOutputs();
      await scheduler.yield();
    }
  }

  private checkCancelled(): void {
    if (this.cancelled)
      throw new TaskCancelledError(
        `${this.setup.name} (${this.setup.subtaskIndex + 1}/${this.setup.parallelism}) was cancelled`,
      );
  }

  private async step(): Promise<void> {
    this.checkCancelled();
    while (this.mailbox.length > 0) await this.mailbox.shift()!();
    if (this.stopRequested) throw new TaskStopped();
  }

  private hasOutputCredit(): boolean {
    for (const w of this.setup.writers) if (!w.hasCredit()) return false;
    return true;
  }

  private flushOutputs(): void {
    this.lastFlush = performance.now();
    for (const w of this.setup.writers) w.flush();
  }

  private async guard(op: StreamOperator, phase: string, action: () => void | Promise<void>): Promise<void> {
    try {
      await action();
    } catch (e) {
      throw attribute(e, op.info, phase);
    }
  }

  private async closeAll(): Promise<void> {
    if (this.wakeup !== undefined) clearTimeout(this.wakeup);
    let first: unknown;
    for (const op of this.setup.operators) {
      if (!this.started.has(op)) continue;
      try {
        await op.close();
      } catch (e) {
        first ??= attribute(e, op.info, 'close');
      }
    }
    if (first !== undefined && (this.state === 'finished' || this.state === 'stopped')) {
      this.state = 'failed';
      throw first;
    }
  }
}
