// Query 5: hot items. Per sliding window (10 s every 2 s, Flink's Nexmark SQL), the auctions with
// the most bids: bids counted per auction and window, then per window the auctions whose count is
// the window's largest (all of them on a tie, as the SQL's num >= maxn).
import {
  SlidingEventTimeWindows,
  ValueStateDescriptor,
  type AggregateFunction,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  type RuntimeContext,
  type ValueState,
} from '../../../src/index.js';
import { bids } from './streams.js';
import { DEFAULT_SLIDE_MS, DEFAULT_WINDOW_MS, type NexmarkQuery } from './query.js';

export interface Q5Result {
  auction: number;
  num: number;
  starttime: number;
  endtime: number;
}

export const countBids: AggregateFunction<unknown, number, number> = {
  createAccumulator: () => 0,
  add: (_value, acc) => acc + 1,
  getResult: (acc) => acc,
  merge: (a, b) => a + b,
};

interface Leaders {
  num: number;
  auctions: number[];
}

/** Keyed by window end: keeps the window's largest count and its auctions; emits them when the window is complete. */
class HotItems implements KeyedProcessFunction<number, Q5Result, Q5Result> {
  private leaders!: ValueState<Leaders>;

  constructor(private readonly size: number) {}

  open(ctx: RuntimeContext): void {
    this.leaders = ctx.getState(new ValueStateDescriptor<Leaders>('leaders'));
  }

  processElement(r: Q5Result, ctx: KeyedProcessContext<number>): void {
    const l = this.leaders.value();
    if (l === undefined) {
      this.leaders.update({ num: r.num, auctions: [r.auction] });
      // The window's counts carry its last millisecond; once the watermark passes it, all are in.
      ctx.timerService.registerEventTimeTimer(r.endtime - 1);
    } else if (r.num > l.num) this.leaders.update({ num: r.num, auctions: [r.auction] });
    else if (r.num === l.num) {
      l.auctions.push(r.auction);
      this.leaders.update(l);
    }
  }

  onTimer(t: number, ctx: OnTimerContext<number>, out: Collector<Q5Result>): void {
    const l = this.leaders.value();
    if (l === undefined) return;
    const end = ctx.getCurrentKey();
    for (const auction of l.auctions)
      out.collect({ auction, num: l.num, starttime: this.start(end), endtime: end });
    this.leaders.clear();
  }

  private start(end: number): number {
    return end - this.size;
  }
}

export const q5: NexmarkQuery<Q5Result> = {
  name: 'q5',
  description:
    'hot items: bids per auction in sliding 10 s / 2 s windows, the auctions with the most per window',
  build(events, sink, params = {}) {
    const size = params.windowMs ?? DEFAULT_WINDOW_MS;
    const slide = params.slideMs ?? DEFAULT_SLIDE_MS;
    bids(events)
      .keyBy((b) => b.auction)
      .window(SlidingEventTimeWindows.of(size, slide))
      .aggregate(countBids, {
        process(auction: number, ctx, counts, out: Collector<Q5Result>) {
          out.collect({ auction, num: counts[0]!, starttime: ctx.window.start, endtime: ctx.window.end });
        },
      })
      .uid('q5-count')
      .name('q5-count')
      .keyBy((r) => r.endtime)
      .process(new HotItems(size))
      .uid('q5-hot-items')
      .name('q5-hot-items')
      .sinkTo(sink)
      .uid('sink');
  },
};
