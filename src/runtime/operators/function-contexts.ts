// The contexts user functions get with each record and timer — subtask, timestamp, side outputs
// and, when keyed, the key and timers — shared by every operator that runs user functions.
import { StateAccessError } from '../../state/state.js';
import type { KeyedProcessContext, OnTimerContext, ProcessContext, TimerServiceView } from '../functions.js';
import type { StreamOperator } from '../stream-operator.js';
import type { TimeDomain } from '../timer-service.js';

/** The context of a function on a non-keyed stream. Call in `open` (the operator is set up then). */
export function createProcessContext(op: StreamOperator): ProcessContext {
  return {
    subtaskIndex: op.info.subtaskIndex,
    timestamp: () => op.time.timestamp,
    output: (tag, value) => op.emitToSide(tag, value),
  };
}

export interface KeyedContexts<K> {
  readonly ctx: KeyedProcessContext<K>;
  readonly timerCtx: OnTimerContext<K>;
  /** Sets what `timerCtx.timeDomain` says, before calling the function's onTimer. */
  firing(domain: TimeDomain): void;
}

/** Call in `open` (the operator's keyed backend and timers exist then). */
export function createKeyedContexts<K>(op: StreamOperator, hasOnTimer: boolean): KeyedContexts<K> {
  const keyCtx = op.keyedBackend!.ctx;
  const timers = op.timers!;
  const time = op.time;
  const checkTimer = (timestamp: number): void => {
    if (keyCtx.kgIndex < 0)
      throw new StateAccessError(
        'a timer can only be registered or deleted for the key of a record or timer being processed',
      );
    if (!hasOnTimer)
      throw new StateAccessError(
        `a timer was registered at ${timestamp} but the function has no onTimer(timestamp, ctx, out) method to call`,
      );
  };
  const timerService: TimerServiceView = {
    currentProcessingTime: () => time.clock.now(),
    currentWatermark: () => op.currentWatermark,
    registerEventTimeTimer: (t) => {
      checkTimer(t);
      timers.register('event', keyCtx.kgIndex, keyCtx.stateKey, t);
    },
    deleteEventTimeTimer: (t) => timers.delete('event', keyCtx.kgIndex, keyCtx.stateKey, t),
    registerProcessingTimeTimer: (t) => {
      checkTimer(t);
      timers.register('processing', keyCtx.kgIndex, keyCtx.stateKey, t);
      op.requestProcessingWakeup();
    },
    deleteProcessingTimeTimer: (t) => timers.delete('processing', keyCtx.kgIndex, keyCtx.stateKey, t),
  };
  let domain: TimeDomain = 'event';
  const ctx: KeyedProcessContext<K> = {
    ...createProcessContext(op),
    getCurrentKey: () => keyCtx.key as K,
    timerService,
  };
  const timerCtx: OnTimerContext<K> = {
    ...ctx,
    get timeDomain() {
      return domain;
    },
  };
  return {
    ctx,
    timerCtx,
    firing: (d) => {
      domain = d;
    },
  };
}
