// The three event kinds as their own streams (filters chained to the source).
import type { DataStream } from '../../../src/index.js';
import type { Auction, Bid, NexmarkEvent, Person } from '../model.js';

// A filter keeps the record type; the kind test makes these casts true.
export const bids = (events: DataStream<NexmarkEvent>): DataStream<Bid> =>
  events.filter((e) => e.kind === 'bid').name('bids') as DataStream<unknown> as DataStream<Bid>;
export const auctions = (events: DataStream<NexmarkEvent>): DataStream<Auction> =>
  events.filter((e) => e.kind === 'auction').name('auctions') as DataStream<unknown> as DataStream<Auction>;
export const persons = (events: DataStream<NexmarkEvent>): DataStream<Person> =>
  events.filter((e) => e.kind === 'person').name('persons') as DataStream<unknown> as DataStream<Person>;

/** The start of the aligned window of `size` ms that holds `t`. */
export const windowStartOf = (t: number, size: number): number => t - (((t % size) + size) % size);
