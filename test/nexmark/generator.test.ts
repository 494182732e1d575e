// The Nexmark generator and its source: deterministic for a seed, the reference's proportions and
// id rules, the same events at any parallelism, and every event exactly once across a failure
// and restore from a checkpoint.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CollectSink, FileSink, StreamExecutionEnvironment } from '../../src/index.js';
import {
  FIRST_AUCTION_ID,
  FIRST_CATEGORY_ID,
  FIRST_PERSON_ID,
  NUM_CATEGORIES,
  NexmarkGenerator,
} from '../../bench/nexmark/generator.js';
import type { NexmarkEvent } from '../../bench/nexmark/model.js';
import { nexmarkEvents } from '../../bench/nexmark/source.js';
import { committedLines } from '../connectors/helpers.js';
import { generate, sortedJson, TEST_RATE } from './helpers.js';

describe('NexmarkGenerator', () => {
  it('is deterministic for a seed, and any event can be made alone', () => {
    const a = generate(3000);
    expect(generate(3000)).toEqual(a);
    const g = new NexmarkGenerator({ eventsPerSecond: TEST_RATE });
    for (const n of [2999, 17, 0, 1234]) expect(g.event(n)).toEqual(a[n]);
    const other = generate(3000, { eventsPerSecond: TEST_RATE, seed: 7 });
    expect(other.map((e) => e.kind)).toEqual(a.map((e) => e.kind)); // kinds and ids follow the number
    expect(sortedJson(other)).not.toEqual(sortedJson(a));
  });

  it('makes 1 person, 3 auctions and 46 bids per 50 events, with ids from the event number', () => {
    const events = generate(50_000);
    const persons = events.filter((e) => e.kind === 'person');
    const auctions = events.filter((e) => e.kind === 'auction');
    const bids = events.filter((e) => e.kind === 'bid');
    expect([persons.length, auctions.length, bids.length]).toEqual([1000, 3000, 46_000]);
    expect(events[0]!.kind).toBe('person');
    expect(events.slice(1, 4).map((e) => e.kind)).toEqual(['auction', 'auction', 'auction']);
    expect(persons.map((p) => p.id)).toEqual(persons.map((_, i) => FIRST_PERSON_ID + i));
    expect(auctions.map((a) => a.id)).toEqual(auctions.map((_, i) => FIRST_AUCTION_ID + i));

    let lastPerson = -1;
    let lastAuction = -1;
    let hotAuction = 0;
    let hotBidder = 0;
    const wrong: string[] = [];
    const check = (ok: boolean, what: string, e: NexmarkEvent): void => {
      if (!ok && wrong.length < 5) wrong.push(`${what}: ${JSON.stringify(e)}`);
    };
    for (const e of events) {
      if (e.kind === 'person') lastPerson = e.id;
      else if (e.kind === 'auction') {
        lastAuction = e.id;
        check(e.seller <= lastPerson + 10, 'seller', e);
        check(
          e.category >= FIRST_CATEGORY_ID && e.category < FIRST_CATEGORY_ID + NUM_CATEGORIES,
          'category',
          e,
        );
        check(e.expires > e.dateTime && e.reserve >= e.initialBid, 'expires, reserve', e);
        check(e.itemName.length < 20 && e.description.length < 100, 'text', e);
      } else {
        // Bids name existing auctions and people, or one of the next few (the reference's lead).
        check(
          e.auction <= lastAuction + 10 && e.auction >= Math.max(FIRST_AUCTION_ID, lastAuction - 110),
          'auction',
          e,
        );
        check(e.bidder <= lastPerson + 10, 'bidder', e);
        check(e.price >= 100 && e.price <= 100_000_000, 'price', e);
        if ((e.auction - FIRST_AUCTION_ID) % 100 === 0) hotAuction++;
        if ((e.bidder - FIRST_PERSON_ID) % 100 === 1) hotBidder++;
      }
    }
    expect(wrong).toEqual([]);
    // 1 − 1/hotAuctionRatio (2) of bids go to the hot auction, 1 − 1/4 to the hot bidder.
    expect(hotAuction / bids.length).toBeGreaterThan(0.48);
    expect(hotBidder / bids.length).toBeGreaterThan(0.73);
    // Sizes near the reference's averages (200, 500, 100 bytes of fields).
    const avg = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(avg(bids.map((b) => b.extra.length))).toBeGreaterThan(60);
    expect(avg(bids.map((b) => b.extra.length))).toBeLessThan(76);
    expect(new Set(bids.map((b) => b.channel)).size).toBeGreaterThan(1000);
  });

  it('gives event n the time base + n·1000/rate ms', () => {
    const g = new NexmarkGenerator({ eventsPerSecond: 4000, baseTime: 1_000_000 });
    expect([0, 3, 4, 3999, 4000, 10_001].map((n) => g.event(n).dateTime)).toEqual([
      1_000_000, 1_000_000, 1_000_001, 1_000_999, 1_001_000, 1_002_500,
    ]);
  });
});

async function sourceEvents(events: number, parallelism: number): Promise<NexmarkEvent[]> {
  const env = new StreamExecutionEnvironment({ parallelism, execution: { batchSize: 100 } });
  const sink = new CollectSink<NexmarkEvent>();
  nexmarkEvents(env, { events, eventsPerSecond: TEST_RATE }).sinkTo(sink);
  await env.execute('nexmark source');
  return sink.results;
}

describe('NexmarkSource', () => {
  it('emits the same events at p=1 and p=3, each subtask in event-time order', async () => {
    const expected = generate(20_000);
    const p1 = await sourceEvents(20_000, 1);
    expect(p1).toEqual(expected);
    const p3 = await sourceEvents(20_000, 3);
    expect(sortedJson(p3)).toEqual(sortedJson(expected));
  });

  it('restores its position after a failure: every event exactly once through an exactly-once sink', async () => {
    const events = 20_000;
    const out = mkdtempSync(join(tmpdir(), 'weir-nexmark-out-'));
    const checkpoints = mkdtempSync(join(tmpdir(), 'weir-nexmark-chk-'));
    try {
      const failure = { seen: 0, thrown: false };
      let restoredFrom: number[] = [];
      const env = new StreamExecutionEnvironment({ parallelism: 2, execution: { batchSize: 64 } });
      env.enableCheckpointing(50);
      env.checkpointConfig.setCheckpointStorage(checkpoints);
      env.setRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 0 });
      nexmarkEvents(env, { events, eventsPerSecond: TEST_RATE })
        .map((e) => {
          failure.seen++;
          if (!failure.thrown && failure.seen === 12_000) {
            failure.thrown = true;
            throw new Error('injected failure');
          }
          // Slow enough that checkpoints complete before the failure.
          if (!failure.thrown && failure.seen % 100 === 0) {
            const until = performance.now() + 1;
            while (performance.now() < until);
          }
          return JSON.stringify(e);
        })
        .sinkTo(new FileSink<string>(out))
        .uid('sink');
      await env.execute('nexmark restore', {
        onStart: (m) => {
          restoredFrom = m.restoredCheckpointIds;
        },
      });
      expect(failure.thrown).toBe(true);
      expect(restoredFrom.length).toBe(1);
      expect(restoredFrom[0]).toBeGreaterThan(0);
      expect(committedLines(out)).toEqual(sortedJson(generate(events)));
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(checkpoints, { recursive: true, force: true });
    }
  });
});
