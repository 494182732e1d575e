// Query 1: currency conversion. Every bid with its price in euros (× 0.908).
import { bids } from './streams.js';
import type { NexmarkQuery } from './query.js';

export interface Q1Result {
  auction: number;
  bidder: number;
  price: number;
  dateTime: number;
  extra: string;
}

export const DOLLARS_TO_EUROS = 0.908;

export const q1: NexmarkQuery<Q1Result> = {
  name: 'q1',
  description: 'currency conversion: every bid with price × 0.908',
  build(events, sink) {
    bids(events)
      .map((b): Q1Result => ({
        auction: b.auction,
        bidder: b.bidder,
        price: b.price * DOLLARS_TO_EUROS,
        dateTime: b.dateTime,
        extra: b.extra,
      }))
      .name('q1-convert')
      .sinkTo(sink)
      .uid('sink');
  },
};
