// Query 8: monitor new users. People who joined and opened an auction in the same tumbling 10 s
// window: persons and auctions co-grouped on person.id = auction.seller per window, one result per
// person and window (the SQL groups each side by id and window before joining).
import { TumblingEventTimeWindows } from '../../../src/index.js';
import { auctions, persons, windowStartOf } from './streams.js';
import { DEFAULT_WINDOW_MS, type NexmarkQuery } from './query.js';

export interface Q8Result {
  id: number;
  name: string;
  starttime: number;
}

interface NewPerson {
  id: number;
  name: string;
  dateTime: number;
}

export const q8: NexmarkQuery<Q8Result> = {
  name: 'q8',
  description: 'new users: persons and auctions window-joined on person.id = seller in tumbling 10 s windows',
  build(events, sink, params = {}) {
    const size = params.windowMs ?? DEFAULT_WINDOW_MS;
    const people = persons(events)
      .map((p): NewPerson => ({ id: p.id, name: p.name, dateTime: p.dateTime }))
      .name('q8-persons');
    const sellers = auctions(events)
      .map((a) => a.seller)
      .name('q8-sellers');
    people
      .coGroup(sellers)
      .where((p) => p.id)
      .equalTo((seller) => seller)
      .window(TumblingEventTimeWindows.of(size))
      .apply<Q8Result>({
        coGroup(ps, sold, out) {
          if (sold.length === 0) return;
          // The function is not told its window; every person of the group is in it.
          for (const p of ps)
            out.collect({ id: p.id, name: p.name, starttime: windowStartOf(p.dateTime, size) });
        },
      })
      .uid('q8-join')
      .sinkTo(sink)
      .uid('sink');
  },
};
