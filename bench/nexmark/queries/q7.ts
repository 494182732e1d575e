// Query 7: highest bid. Per tumbling 10 s window, the bids with the highest price (all of them on
// a tie). Flink's SQL takes the maximum price per window and joins it back with the bids; here the
// maximum and its bids are found per auction and window, then per window across auctions.
import {
  TumblingEventTimeWindows,
  ValueStateDescriptor,
  type AggregateFunction,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type OnTimerContext,
  type RuntimeContext,
  type ValueState,
} from '../../../src/index.js';
import type { Bid } from '../model.js';
import { bids } from './streams.js';
import { DEFAULT_WINDOW_MS, type NexmarkQuery } from './query.js';

interface Highest {
  price: number;
  bids: Bid[];
}

interface WindowHighest extends Highest {
  end: number;
}

/** The highest price and its bids (mutated in place: the window keeps one accumulator per key). */
const highestBids: AggregateFunction<Bid, Highest, Highest> = {
  createAccumulator: () => ({ price: -1, bids: [] }),
  add(b, acc) {
    if (b.price > acc.price) {
      acc.price = b.price;
      acc.bids = [b];
    } else if (b.price === acc.price) acc.bids.push(b);
    return acc;
  },
  getResult: (acc) => acc,
};

/** Keyed by window end: the highest bids over every auction; emitted when the window is complete. */
class HighestPerWindow implements KeyedProcessFunction<number, WindowHighest, Bid> {
  private highest!: ValueState<Highest>;

  open(ctx: RuntimeContext): void {
    this.highest = ctx.getState(new ValueStateDescriptor<Highest>('highest'));
  }

  processElement(w: WindowHighest, ctx: KeyedProcessContext<number>): void {
    const h = this.highest.value();
    if (h === undefined) {
      this.highest.update({ price: w.price, bids: w.bids });
      ctx.timerService.registerEventTimeTimer(w.end - 1);
    } else if (w.price > h.price) this.highest.update({ price: w.price, bids: w.bids });
    else if (w.price === h.price) this.highest.update({ price: h.price, bids: [...h.bids, ...w.bids] });
  }

  onTimer(_t: number, _ctx: OnTimerContext<number>, out: Collector<Bid>): void {
    const h = this.highest.value();
    if (h === undefined) return;
    for (const b of h.bids) out.collect(b);
    this.highest.clear();
  }
}

export const q7: NexmarkQuery<Bid> = {
  name: 'q7',
  description: 'highest bid: the bids with the highest price per tumbling 10 s window',
  build(events, sink, params = {}) {
    const size = params.windowMs ?? DEFAULT_WINDOW_MS;
    bids(events)
      .keyBy((b) => b.auction)
      .window(TumblingEventTimeWindows.of(size))
      .aggregate(highestBids, {
        process(_auction: number, ctx, results, out: Collector<WindowHighest>) {
          const h = results[0]!;
          out.collect({ price: h.price, bids: h.bids, end: ctx.window.end });
        },
      })
      .uid('q7-max-per-auction')
      .name('q7-max-per-auction')
      .keyBy((w) => w.end)
      .process(new HighestPerWindow())
      .uid('q7-max')
      .name('q7-max')
      .sinkTo(sink)
      .uid('sink');
  },
};
