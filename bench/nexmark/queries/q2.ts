// Query 2: selection. The auction and price of bids on every 123rd auction (Flink's version).
import type { NexmarkQuery } from './query.js';

export interface Q2Result {
  auction: number;
  price: number;
}

export const Q2_MODULUS = 123;

export const q2: NexmarkQuery<Q2Result> = {
  name: 'q2',
  description: 'selection: (auction, price) of bids with auction % 123 = 0',
  build(events, sink) {
    events
      .flatMap<Q2Result>((e, out) => {
        if (e.kind === 'bid' && e.auction % Q2_MODULUS === 0)
          out.collect({ auction: e.auction, price: e.price });
      })
      .name('q2-select')
      .sinkTo(sink)
      .uid('sink');
  },
};
