// Query 11: user sessions. Bids per bidder in event-time session windows with a 10 s gap: one
// result per session, with its start and end (last bid + gap).
import { EventTimeSessionWindows, type Collector } from '../../../src/index.js';
import { bids } from './streams.js';
import { countBids } from './q5.js';
import { DEFAULT_WINDOW_MS, type NexmarkQuery } from './query.js';

export interface SessionCount {
  bidder: number;
  count: number;
  starttime: number;
  endtime: number;
}

export const q11: NexmarkQuery<SessionCount> = {
  name: 'q11',
  description: 'user sessions: bids per bidder in session windows with a 10 s gap',
  build(events, sink, params = {}) {
    const gap = params.windowMs ?? DEFAULT_WINDOW_MS;
    bids(events)
      .keyBy((b) => b.bidder)
      .window(EventTimeSessionWindows.withGap(gap))
      .aggregate(countBids, {
        process(bidder: number, ctx, counts, out: Collector<SessionCount>) {
          out.collect({ bidder, count: counts[0]!, starttime: ctx.window.start, endtime: ctx.window.end });
        },
      })
      .uid('q11-sessions')
      .name('q11-sessions')
      .sinkTo(sink)
      .uid('sink');
  },
};
