// Query 4: average closing price per category. Each auction is joined with its bids made between
// its start and its expiry; its closing price is the highest of them; the query keeps the average
// closing price per category, emitting it each time an auction of the category closes.
//
// Flink runs the SQL as a regular (unwindowed) join with updating aggregates; here, as in Beam's
// Query 4, an auction closes when event time passes its expiry: the join is a keyed co-process
// function on the auction id (the auction, its best price so far, the bids that came before it),
// then a keyed running average per category. Flink's AVG over BIGINT truncates; this one does not.
import {
  ListStateDescriptor,
  ValueStateDescriptor,
  type Collector,
  type KeyedCoProcessFunction,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type ListState,
  type OnTimerContext,
  type RuntimeContext,
  type ValueState,
} from '../../../src/index.js';
import { auctions, bids } from './streams.js';
import type { NexmarkQuery } from './query.js';

export interface Q4Result {
  category: number;
  /** The average closing price of the category's closed auctions so far. */
  avg: number;
}

interface Closing {
  auction: number;
  category: number;
  price: number;
}

interface AuctionInfo {
  id: number;
  category: number;
  dateTime: number;
  expires: number;
}

interface BidInfo {
  auction: number;
  price: number;
  dateTime: number;
}

interface AuctionState {
  category: number;
  start: number;
  expires: number;
  /** The best matching price so far; −1: none. */
  max: number;
  closed: boolean;
}

/** How long (event time) a closed auction is remembered, so its late bids are recognised and dropped. */
export const CLOSED_AUCTION_RETENTION_MS = 10_000;

/** Joins each auction with its bids until it expires; emits its closing price then (if it had a bid). */
class ClosingPrice implements KeyedCoProcessFunction<number, AuctionInfo, BidInfo, Closing> {
  private auction!: ValueState<AuctionState>;
  /** Bids that came before their auction: [dateTime, price]. */
  private early!: ListState<[number, number]>;

  open(ctx: RuntimeContext): void {
    this.auction = ctx.getState(new ValueStateDescriptor<AuctionState>('auction'));
    this.early = ctx.getListState(new ListStateDescriptor<[number, number]>('early-bids'));
  }

  processElement1(a: AuctionInfo, ctx: KeyedProcessContext<number>): void {
    const s: AuctionState = {
      category: a.category,
      start: a.dateTime,
      expires: a.expires,
      max: -1,
      closed: false,
    };
    const early = this.early.get();
    if (early.length > 0) {
      for (const [t, price] of early) if (t >= s.start && t <= s.expires && price > s.max) s.max = price;
      this.early.clear();
    }
    this.auction.update(s);
    ctx.timerService.registerEventTimeTimer(a.expires);
  }

  processElement2(b: BidInfo, ctx: KeyedProcessContext<number>): void {
    const s = this.auction.value();
    if (s !== undefined) {
      if (!s.closed && b.price > s.max && b.dateTime >= s.start && b.dateTime <= s.expires) {
        s.max = b.price;
        this.auction.update(s);
      }
      return;
    }
    // No auction yet. If event time has passed the bid, its auction (if it could match) came and
    // went already; otherwise the bid waits for it, until event time passes the bid.
    if (b.dateTime <= ctx.timerService.currentWatermark()) return;
    this.early.add([b.dateTime, b.price]);
    ctx.timerService.registerEventTimeTimer(b.dateTime);
  }

  onTimer(t: number, ctx: OnTimerContext<number>, out: Collector<Closing>): void {
    const s = this.auction.value();
    if (s === undefined) {
      this.early.clear();
      return;
    }
    if (!s.closed && t >= s.expires) {
      if (s.max >= 0) out.collect({ auction: ctx.getCurrentKey(), category: s.category, price: s.max });
      s.closed = true;
      this.auction.update(s);
      ctx.timerService.registerEventTimeTimer(s.expires + CLOSED_AUCTION_RETENTION_MS);
    } else if (s.closed && t >= s.expires + CLOSED_AUCTION_RETENTION_MS) this.auction.clear();
  }
}

class AveragePerCategory implements KeyedProcessFunction<number, Closing, Q4Result> {
  private sum!: ValueState<[total: number, count: number]>;

  open(ctx: RuntimeContext): void {
    this.sum = ctx.getState(new ValueStateDescriptor<[number, number]>('sum'));
  }

  processElement(c: Closing, _ctx: KeyedProcessContext<number>, out: Collector<Q4Result>): void {
    const [total, count] = this.sum.value() ?? [0, 0];
    const next: [number, number] = [total + c.price, count + 1];
    this.sum.update(next);
    out.collect({ category: c.category, avg: next[0] / next[1] });
  }
}

export const q4: NexmarkQuery<Q4Result> = {
  name: 'q4',
  description:
    'average closing price per category: auctions ⋈ bids until expiry, max per auction, average per category',
  build(events, sink) {
    const open = auctions(events)
      .map((a): AuctionInfo => ({ id: a.id, category: a.category, dateTime: a.dateTime, expires: a.expires }))
      .name('q4-auctions');
    const offers = bids(events)
      .map((b): BidInfo => ({ auction: b.auction, price: b.price, dateTime: b.dateTime }))
      .name('q4-bids');
    open
      .connect(offers)
      .keyBy(
        (a) => a.id,
        (b) => b.auction,
      )
      .process(new ClosingPrice())
      .uid('q4-closing-price')
      .name('q4-closing-price')
      .keyBy((c) => c.category)
      .process(new AveragePerCategory())
      .uid('q4-average')
      .name('q4-average')
      .sinkTo(sink)
      .uid('sink');
  },
};
