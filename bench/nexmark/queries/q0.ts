// Query 0: pass-through. Every bid, unchanged: what the engine costs with no work to do.
import type { Bid } from '../model.js';
import { bids } from './streams.js';
import type { NexmarkQuery } from './query.js';

export const q0: NexmarkQuery<Bid> = {
  name: 'q0',
  description: 'pass-through: every bid to the sink',
  build(events, sink) {
    bids(events).sinkTo(sink).uid('sink');
  },
};
