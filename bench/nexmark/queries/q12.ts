// Query 12: processing-time windows. Bids per bidder in tumbling 10 s processing-time windows.
// Which window a bid lands in depends on when it is processed: the results are not repeatable,
// only their totals are (every bid is counted once, if every window fires before the job ends).
import { TumblingProcessingTimeWindows, type Collector } from '../../../src/index.js';
import { bids } from './streams.js';
import { countBids } from './q5.js';
import type { SessionCount } from './q11.js';
import { DEFAULT_WINDOW_MS, type NexmarkQuery } from './query.js';

export type WindowCount = SessionCount;

export const q12: NexmarkQuery<WindowCount> = {
  name: 'q12',
  description: 'processing-time windows: bids per bidder in tumbling 10 s processing-time windows',
  build(events, sink, params = {}) {
    const size = params.windowMs ?? DEFAULT_WINDOW_MS;
    bids(events)
      .keyBy((b) => b.bidder)
      .window(TumblingProcessingTimeWindows.of(size))
      .aggregate(countBids, {
        process(bidder: number, ctx, counts, out: Collector<WindowCount>) {
          out.collect({ bidder, count: counts[0]!, starttime: ctx.window.start, endtime: ctx.window.end });
        },
      })
      .uid('q12-windows')
      .name('q12-windows')
      .sinkTo(sink)
      .uid('sink');
  },
};
