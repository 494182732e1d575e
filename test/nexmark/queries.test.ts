// Each Nexmark query's output on 50 k generated events (50 s of event time) against the same
// answer computed by a plain loop over the same events, without weir. Stateful queries also run
// at p=2 with exactly-once checkpoints; q12 (processing time) is checked on its invariants.
import { describe, expect, it } from 'vitest';
import type { Auction, Bid, NexmarkEvent, Person } from '../../bench/nexmark/model.js';
import { q0 } from '../../bench/nexmark/queries/q0.js';
import { DOLLARS_TO_EUROS, q1 } from '../../bench/nexmark/queries/q1.js';
import { q2, Q2_MODULUS } from '../../bench/nexmark/queries/q2.js';
import { q3, Q3_CATEGORY, Q3_STATES } from '../../bench/nexmark/queries/q3.js';
import { q4, type Q4Result } from '../../bench/nexmark/queries/q4.js';
import { q5 } from '../../bench/nexmark/queries/q5.js';
import { q7 } from '../../bench/nexmark/queries/q7.js';
import { q8 } from '../../bench/nexmark/queries/q8.js';
import { q11 } from '../../bench/nexmark/queries/q11.js';
import { q12 } from '../../bench/nexmark/queries/q12.js';
import { generate, runQuery, sortedJson } from './helpers.js';

const EVENTS = 50_000;
const SIZE = 10_000;
const SLIDE = 2_000;
const events = generate(EVENTS);
const bids = events.filter((e): e is Bid => e.kind === 'bid');
const auctions = events.filter((e): e is Auction => e.kind === 'auction');
const persons = events.filter((e): e is Person => e.kind === 'person');
const startOf = (t: number, size: number): number => t - (t % size);

function groupBy<T, K>(xs: readonly T[], key: (x: T) => K): Map<K, T[]> {
  const m = new Map<K, T[]>();
  for (const x of xs) {
    const k = key(x);
    let l = m.get(k);
    if (l === undefined) m.set(k, (l = []));
    l.push(x);
  }
  return m;
}

describe('Nexmark queries against plain computations', () => {
  it('q0: every bid, in order at p=1', async () => {
    expect(await runQuery(q0, EVENTS)).toEqual(bids);
  });

  it('q1: every bid in euros', async () => {
    const expected = bids.map((b) => ({
      auction: b.auction,
      bidder: b.bidder,
      price: b.price * DOLLARS_TO_EUROS,
      dateTime: b.dateTime,
      extra: b.extra,
    }));
    expect(await runQuery(q1, EVENTS)).toEqual(expected);
  });

  it('q2: bids of every 123rd auction', async () => {
    const expected = bids
      .filter((b) => b.auction % Q2_MODULUS === 0)
      .map((b) => ({ auction: b.auction, price: b.price }));
    expect(expected.length).toBeGreaterThan(0);
    expect(await runQuery(q2, EVENTS)).toEqual(expected);
  });

  it('q3: sellers in OR/ID/CA joined with their category-10 auctions, at p=1 and p=2 with checkpoints', async () => {
    const sellers = new Map(persons.filter((p) => Q3_STATES.has(p.state)).map((p) => [p.id, p]));
    const expected: unknown[] = [];
    for (const a of auctions) {
      const p = sellers.get(a.seller);
      if (a.category === Q3_CATEGORY && p !== undefined)
        expected.push({ name: p.name, city: p.city, state: p.state, id: a.id });
    }
    expect(expected.length).toBeGreaterThan(50);
    expect(sortedJson(await runQuery(q3, EVENTS))).toEqual(sortedJson(expected));
    expect(sortedJson(await runQuery(q3, EVENTS, { parallelism: 2, checkpointMs: 50 }))).toEqual(
      sortedJson(expected),
    );
  });

  it('q4: average closing price per category, at p=1 and p=2 with checkpoints', async () => {
    // Closing price: the highest bid made between the auction's start and its expiry.
    const byAuction = groupBy(bids, (b) => b.auction);
    const perCategory = new Map<number, number[]>();
    let closed = 0;
    for (const a of auctions) {
      let max = -1;
      for (const b of byAuction.get(a.id) ?? [])
        if (b.dateTime >= a.dateTime && b.dateTime <= a.expires && b.price > max) max = b.price;
      if (max < 0) continue;
      closed++;
      let l = perCategory.get(a.category);
      if (l === undefined) perCategory.set(a.category, (l = []));
      l.push(max);
    }
    const expected = new Map(
      [...perCategory].map(([c, ps]) => [c, ps.reduce((x, y) => x + y, 0) / ps.length]),
    );
    expect(expected.size).toBe(5);
    for (const o of [{}, { parallelism: 2, checkpointMs: 50 }]) {
      const out = await runQuery(q4, EVENTS, o);
      expect(out.length).toBe(closed); // one update per auction that closed with a bid
      const last = new Map<number, Q4Result>();
      for (const r of out) last.set(r.category, r);
      expect([...last.keys()].sort()).toEqual([...expected.keys()].sort());
      for (const [c, avg] of expected) expect(last.get(c)!.avg).toBeCloseTo(avg, 6);
    }
  });

  it('q5: the auctions with the most bids per sliding window, at p=1 and p=2 with checkpoints', async () => {
    const counts = new Map<number, Map<number, number>>(); // window start → auction → bids
    for (const b of bids) {
      for (let s = startOf(b.dateTime, SLIDE); s > b.dateTime - SIZE; s -= SLIDE) {
        let m = counts.get(s);
        if (m === undefined) counts.set(s, (m = new Map()));
        m.set(b.auction, (m.get(b.auction) ?? 0) + 1);
      }
    }
    const expected: unknown[] = [];
    for (const [s, m] of counts) {
      const max = Math.max(...m.values());
      for (const [auction, num] of m)
        if (num === max) expected.push({ auction, num, starttime: s, endtime: s + SIZE });
    }
    expect(counts.size).toBeGreaterThan(20);
    expect(sortedJson(await runQuery(q5, EVENTS))).toEqual(sortedJson(expected));
    expect(sortedJson(await runQuery(q5, EVENTS, { parallelism: 2, checkpointMs: 50 }))).toEqual(
      sortedJson(expected),
    );
  });

  it('q7: the highest bids per tumbling window, at p=1 and p=2 with checkpoints', async () => {
    const expected: Bid[] = [];
    for (const ws of groupBy(bids, (b) => startOf(b.dateTime, SIZE)).values()) {
      const max = Math.max(...ws.map((b) => b.price));
      expected.push(...ws.filter((b) => b.price === max));
    }
    expect(expected.length).toBeGreaterThanOrEqual(5);
    expect(sortedJson(await runQuery(q7, EVENTS))).toEqual(sortedJson(expected));
    expect(sortedJson(await runQuery(q7, EVENTS, { parallelism: 2, checkpointMs: 50 }))).toEqual(
      sortedJson(expected),
    );
  });

  it('q8: people who opened an auction in the window they joined, at p=1 and p=2 with checkpoints', async () => {
    const sellers = new Set(auctions.map((a) => `${a.seller}@${startOf(a.dateTime, SIZE)}`));
    const expected = persons
      .filter((p) => sellers.has(`${p.id}@${startOf(p.dateTime, SIZE)}`))
      .map((p) => ({ id: p.id, name: p.name, starttime: startOf(p.dateTime, SIZE) }));
    expect(expected.length).toBeGreaterThan(10);
    expect(sortedJson(await runQuery(q8, EVENTS))).toEqual(sortedJson(expected));
    expect(sortedJson(await runQuery(q8, EVENTS, { parallelism: 2, checkpointMs: 50 }))).toEqual(
      sortedJson(expected),
    );
  });

  it('q11: bids per bidder session (10 s gap), at p=1 and p=2 with checkpoints', async () => {
    const expected: unknown[] = [];
    for (const [bidder, bs] of groupBy(bids, (b) => b.bidder)) {
      const ts = bs.map((b) => b.dateTime).sort((a, b) => a - b);
      let start = ts[0]!;
      let last = start;
      let count = 0;
      for (const t of ts) {
        // Sessions [t, t + gap) merge when they touch.
        if (t > last + SIZE) {
          expected.push({ bidder, count, starttime: start, endtime: last + SIZE });
          start = t;
          count = 0;
        }
        last = t;
        count++;
      }
      expected.push({ bidder, count, starttime: start, endtime: last + SIZE });
    }
    expect(expected.length).toBeGreaterThan(1000);
    expect(sortedJson(await runQuery(q11, EVENTS))).toEqual(sortedJson(expected));
    expect(sortedJson(await runQuery(q11, EVENTS, { parallelism: 2, checkpointMs: 50 }))).toEqual(
      sortedJson(expected),
    );
  });

  it('q12: processing-time windows count every bid of every bidder (test clock)', async () => {
    // A test clock: 1 ms per bid seen, so windows of 100 ms come round every ~100 bids whatever
    // the machine's speed; after the last bid it runs ahead on every reading (and the source
    // stays open a little), so the last windows fire too.
    const size = 100;
    const bidsTotal = bids.length;
    const clock = {
      t: 1_000_000,
      done: false,
      now(): number {
        if (this.done) this.t += 1000;
        return this.t;
      },
    };
    let seen = 0;
    const out = await runQuery(q12, EVENTS, {
      params: { windowMs: size },
      clock,
      source: { keepAliveMs: 300 },
      through: (s) =>
        s.map((e: NexmarkEvent) => {
          if (e.kind === 'bid') {
            clock.t += 1;
            if (++seen === bidsTotal) clock.done = true;
          }
          return e;
        }),
    });
    const perBidder = new Map<number, number>();
    for (const b of bids) perBidder.set(b.bidder, (perBidder.get(b.bidder) ?? 0) + 1);
    const counted = new Map<number, number>();
    for (const r of out) {
      counted.set(r.bidder, (counted.get(r.bidder) ?? 0) + r.count);
      expect(r.endtime - r.starttime).toBe(size);
      expect(r.starttime % size).toBe(0);
    }
    // Not checked: one result per bidder and window. As in Flink, a window fires when the clock
    // reaches its last millisecond, and a record processed within that same millisecond opens
    // it again (it fires a second time).
    expect(counted).toEqual(perBidder);
    expect(new Set(out.map((r) => r.starttime)).size).toBeGreaterThan(10);
  });
});
