// Query 3: local item suggestion. Who sells in category 10 from OR, ID or CA, and which auctions:
// people of those states joined with auctions of category 10 on person.id = auction.seller, an
// incremental join in keyed state as Flink's SQL runs it (no window: both sides may come first).
// Person ids are unique, so a person is kept for its key and each auction waits only until its
// seller's person arrives (Flink's regular join keeps the joined auctions too; the output is the
// same).
import {
  ListStateDescriptor,
  ValueStateDescriptor,
  type Collector,
  type KeyedCoProcessFunction,
  type KeyedProcessContext,
  type ListState,
  type RuntimeContext,
  type ValueState,
} from '../../../src/index.js';
import { auctions, persons } from './streams.js';
import type { NexmarkQuery } from './query.js';

export interface Q3Result {
  name: string;
  city: string;
  state: string;
  id: number;
}

export const Q3_STATES = new Set(['OR', 'ID', 'CA']);
export const Q3_CATEGORY = 10;

interface Seller {
  id: number;
  name: string;
  city: string;
  state: string;
}

interface SellerAuction {
  id: number;
  seller: number;
}

class LocalItemJoin implements KeyedCoProcessFunction<number, Seller, SellerAuction, Q3Result> {
  private person!: ValueState<Seller>;
  private waiting!: ListState<number>;

  open(ctx: RuntimeContext): void {
    this.person = ctx.getState(new ValueStateDescriptor<Seller>('person'));
    this.waiting = ctx.getListState(new ListStateDescriptor<number>('auctions'));
  }

  processElement1(p: Seller, _ctx: KeyedProcessContext<number>, out: Collector<Q3Result>): void {
    this.person.update(p);
    const ids = this.waiting.get();
    if (ids.length === 0) return;
    for (const id of ids) out.collect({ name: p.name, city: p.city, state: p.state, id });
    this.waiting.clear();
  }

  processElement2(a: SellerAuction, _ctx: KeyedProcessContext<number>, out: Collector<Q3Result>): void {
    const p = this.person.value();
    if (p === undefined) this.waiting.add(a.id);
    else out.collect({ name: p.name, city: p.city, state: p.state, id: a.id });
  }
}

export const q3: NexmarkQuery<Q3Result> = {
  name: 'q3',
  description:
    'local item suggestion: persons in OR/ID/CA ⋈ auctions of category 10 on seller, in keyed state',
  build(events, sink) {
    const sellers = persons(events)
      .filter((p) => Q3_STATES.has(p.state))
      .map((p): Seller => ({ id: p.id, name: p.name, city: p.city, state: p.state }))
      .name('q3-persons');
    const items = auctions(events)
      .filter((a) => a.category === Q3_CATEGORY)
      .map((a): SellerAuction => ({ id: a.id, seller: a.seller }))
      .name('q3-auctions');
    sellers
      .connect(items)
      .keyBy(
        (p) => p.id,
        (a) => a.seller,
      )
      .process(new LocalItemJoin())
      .uid('q3-join')
      .name('q3-join')
      .sinkTo(sink)
      .uid('sink');
  },
};
