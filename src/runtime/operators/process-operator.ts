import type {
  KeyedProcessContext,
  KeyedProcessFunction,
  OnTimerContext,
  ProcessFunction,
  TimerServiceView,
} from '../functions.js';
import { StateAccessError } from '../../state/state.js';
import type { TimeDomain } from '../timer-service.js';
import { StreamOperator } from '../stream-operator.js';

export class ProcessOperator<I, O> extends StreamOperator<I, O> {
  private readonly ctx = { subtaskIndex: 0 };
  constructor(private readonly fn: ProcessFunction<I, O>) {
    super();
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  override async open(): Promise<void> {
    this.ctx.subtaskIndex = this.info.subtaskIndex;
    await super.open();
  }
  processElement(record: I): void {
    this.fn.processElement(record, this.ctx, this.output);
  }
  override finish(): void {
    this.fn.endInput?.(this.output);
  }
}

export class KeyedProcessOperator<K, I, O> extends StreamOperator<I, O> {
  private ctx!: KeyedProcessContext<K>;
  private timerCtx!: OnTimerContext<K>;
  private firing: TimeDomain = 'event';
  constructor(private readonly fn: KeyedProcessFunction<K, I, O>) {
    super();
  }
  protected get userFunction(): unknown {
    return this.fn;
  }
  override async open(): Promise<void> {
    const backend = this.keyedBackend!;
    const keyCtx = backend.ctx;
    const timers = this.timers!;
    const time = this.time;
    const onTimer = this.fn.onTimer;
    const checkTimer = (timestamp: number): void => {
      if (keyCtx.kgIndex < 0)
        throw new StateAccessError(
          'a timer can only be registered or deleted for the key of a record or timer being processed',
        );
      if (typeof onTimer !== 'function')
        throw new StateAccessError(
          `a timer was registered at ${timestamp} but the function has no onTimer(timestamp, ctx, out) method to call`,
        );
    };
    const timerService: TimerServiceView = {
      currentProcessingTime: () => time.clock.now(),
      currentWatermark: () => this.currentWatermark,
      registerEventTimeTimer: (t) => {
        checkTimer(t);
        timers.register('event', keyCtx.kgIndex, keyCtx.stateKey, t);
      },
      deleteEventTimeTimer: (t) => timers.delete('event', keyCtx.kgIndex, keyCtx.stateKey, t),
      registerProcessingTimeTimer: (t) => {
        checkTimer(t);
        timers.register('processing', keyCtx.kgIndex, keyCtx.stateKey, t);
        this.requestProcessingWakeup();
      },
      deleteProcessingTimeTimer: (t) => timers.delete('processing', keyCtx.kgIndex, keyCtx.stateKey, t),
    };
    const firing = (): TimeDomain => this.firing;
    this.ctx = {
      subtaskIndex: this.info.subtaskIndex,
      getCurrentKey: () => keyCtx.key as K,
      timestamp: () => time.timestamp,
      timerService,
    };
    this.timerCtx = {
      ...this.ctx,
      get timeDomain() {
        return firing();
      },
    };
    await super.open();
  }
  processElement(record: I): void {
    this.fn.processElement(record, this.ctx, this.output);
  }
  protected override onTimer(domain: TimeDomain, timestamp: number): void {
    this.firing = domain;
    this.fn.onTimer!(timestamp, this.timerCtx, this.output);
  }
}
