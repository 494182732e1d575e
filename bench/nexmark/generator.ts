// A deterministic Nexmark event generator following the reference model (Flink's nexmark
// repository, itself after Beam's NexmarkGenerator): events are numbered 0..n−1; in every 50
// consecutive numbers 1 is a person, 3 are auctions and 46 are bids; person and auction ids are
// derived from the event number (both start at 1000), so a bid refers to auctions and people
// that exist (or are about to: a few ids of lead); most bids go to "hot" auctions and bidders,
// most auctions to "hot" sellers; event time advances by a fixed inter-event delay derived from
// the configured rate.
//
// Unlike the reference (which draws from one shared java.util.Random), every event's random
// fields come from a generator seeded with (seed, event number): event n is the same whichever
// subtask makes it, at any parallelism. Long random text (`extra`, item names, descriptions) is a
// slice of a fixed random pool at a random offset rather than a string built character by
// character: same lengths and alphabet as the reference, much cheaper.
import type { Auction, Bid, NexmarkEvent, Person } from './model.js';

/** What a user may set; every field has the reference's default. */
export interface GeneratorOptions {
  /** Seeds every event's random fields (default 42). */
  readonly seed?: number;
  /**
   * Events per second of event time: event n happens at baseTime + ⌊n·1000/rate⌋ ms. Default
   * 10 000 000, the rate of the Flink Nexmark benchmark's workloads.
   */
  readonly eventsPerSecond?: number;
  /** Event time of event 0, epoch ms (default 2024-01-01T00:00:00Z, so runs are comparable). */
  readonly baseTime?: number;
  readonly personProportion?: number;
  readonly auctionProportion?: number;
  readonly bidProportion?: number;
  /** 1 in hotAuctionRatio bids goes to a random in-flight auction, the others to the hot one. */
  readonly hotAuctionRatio?: number;
  readonly hotSellersRatio?: number;
  readonly hotBiddersRatio?: number;
  /** People that place bids and auctions (the most recent ones). */
  readonly numActivePeople?: number;
  /** Auctions a random bid chooses among (the most recent ones). */
  readonly numInFlightAuctions?: number;
  readonly avgPersonByteSize?: number;
  readonly avgAuctionByteSize?: number;
  readonly avgBidByteSize?: number;
}

/** The options with every default applied. */
export type GeneratorConfig = Required<GeneratorOptions>;

export const FIRST_PERSON_ID = 1000;
export const FIRST_AUCTION_ID = 1000;
export const FIRST_CATEGORY_ID = 10;
export const NUM_CATEGORIES = 5;
/** Ids of people and auctions not yet created that bids and auctions may already name. */
const PERSON_ID_LEAD = 10;
const AUCTION_ID_LEAD = 10;
/** Hot sellers, bidders and auctions are the first of each batch of this many. */
const HOT_BATCH = 100;
const HOT_CHANNELS_RATIO = 2;
const CHANNELS = 10_000;

export const DEFAULT_GENERATOR_CONFIG: GeneratorConfig = {
  seed: 42,
  eventsPerSecond: 10_000_000,
  baseTime: Date.UTC(2024, 0, 1),
  personProportion: 1,
  auctionProportion: 3,
  bidProportion: 46,
  hotAuctionRatio: 2,
  hotSellersRatio: 4,
  hotBiddersRatio: 4,
  numActivePeople: 1000,
  numInFlightAuctions: 100,
  avgPersonByteSize: 200,
  avgAuctionByteSize: 500,
  avgBidByteSize: 100,
};

export function generatorConfig(options: GeneratorOptions = {}): GeneratorConfig {
  const c: GeneratorConfig = { ...DEFAULT_GENERATOR_CONFIG, ...options };
  for (const [k, v] of Object.entries(c)) {
    if (!Number.isFinite(v)) throw new RangeError(`nexmark generator: ${k} must be a number, got ${v}`);
  }
  const positive: Array<keyof GeneratorConfig> = [
    'eventsPerSecond',
    'personProportion',
    'auctionProportion',
    'bidProportion',
    'hotAuctionRatio',
    'hotSellersRatio',
    'hotBiddersRatio',
    'numActivePeople',
    'numInFlightAuctions',
  ];
  for (const k of positive)
    if (!(c[k] > 0)) throw new RangeError(`nexmark generator: ${k} must be above 0, got ${c[k]}`);
  return c;
}

// ---- randomness ----

/** murmur3's 32-bit finaliser. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32, reseeded per event. */
export class Rng {
  private s = 0;

  /** Positions the generator at the start of event `n`'s draws. */
  reseed(seed: number, n: number): void {
    const lo = n >>> 0;
    const hi = Math.floor(n / 4294967296);
    this.s = fmix32((seed ^ fmix32(lo + Math.imul(hi, 0x9e3779b9))) >>> 0);
  }

  /** A uniform 32-bit unsigned integer. */
  next(): number {
    const a = (this.s = (this.s + 0x6d2b79f5) | 0);
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** A uniform integer in [0, n) for 0 < n < 2^21. */
  int(n: number): number {
    // x·n < 2^53 is exact, and so is scaling by 2^−32; `| 0` truncates (the result is < 2^31).
    return (this.next() * n * 2.3283064365386963e-10) | 0;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }
}

// ---- fixed text, built once from a fixed seed ----

const POOL_SIZE = 1 << 16;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';

function buildPool(rng: Rng, spaceEvery: number, size: number): string {
  const chars: string[] = [];
  for (let i = 0; i < size; i++)
    chars.push(spaceEvery > 0 && rng.int(spaceEvery) === 0 ? ' ' : LETTERS[rng.int(26)]!);
  return chars.join('');
}

/** The reference's nextString with `special` for the space. */
function buildString(rng: Rng, maxLength: number, special: string): string {
  const len = 3 + rng.int(maxLength - 3);
  let s = '';
  for (let i = 0; i < len; i++) s += rng.int(13) === 0 ? special : LETTERS[rng.int(26)]!;
  return s;
}

const fixed = new Rng();
fixed.reseed(0x6e65786d, 0);
/** Letters only (the reference's nextExactString alphabet), for `extra`. */
const EXACT_POOL = buildPool(fixed, 0, POOL_SIZE);
/** Letters with a space about every 13th character (the reference's nextString), trimmed when sliced. */
const TEXT_POOL = buildPool(fixed, 13, POOL_SIZE);

const US_STATES = ['AZ', 'CA', 'ID', 'OR', 'WA', 'WY'];
const US_CITIES = [
  'Phoenix',
  'Los Angeles',
  'San Francisco',
  'Boise',
  'Portland',
  'Bend',
  'Redmond',
  'Seattle',
  'Kent',
  'Cheyenne',
];
const FIRST_NAMES = [
  'Peter',
  'Paul',
  'Luke',
  'John',
  'Saul',
  'Vicky',
  'Kate',
  'Julie',
  'Sarah',
  'Deiter',
  'Walter',
];
const LAST_NAMES = ['Shultz', 'Abrams', 'Spencer', 'White', 'Bartels', 'Walton', 'Smith', 'Jones', 'Noris'];
/** Every first × last name, so a person's name is a lookup. */
const NAMES = FIRST_NAMES.flatMap((f) => LAST_NAMES.map((l) => `${f} ${l}`));
/** "0000" … "9999": credit card groups. */
const DIGITS4 = Array.from({ length: 10_000 }, (_, i) => String(i).padStart(4, '0'));

function baseUrl(rng: Rng): string {
  return (
    'https://www.nexmark.com/' +
    buildString(rng, 5, '_') +
    '/' +
    buildString(rng, 5, '_') +
    '/' +
    buildString(rng, 5, '_') +
    '/item.htm?query=1'
  );
}

/** Java's Integer.reverse: the 32 bits of `i` in reverse order, as a signed int. */
function reverseBits(i: number): number {
  let r = 0;
  for (let b = 0; b < 32; b++) r = (r << 1) | ((i >>> b) & 1);
  return r | 0;
}

const HOT_CHANNEL_NAMES = ['Google', 'Facebook', 'Baidu', 'Apple'];
const HOT_URLS = HOT_CHANNEL_NAMES.map(() => baseUrl(fixed));
/** The reference caches a channel's name and URL the first time it is drawn; here all are made up front. */
const CHANNEL_NAMES = Array.from({ length: CHANNELS }, (_, i) => `channel-${i}`);
const CHANNEL_URLS = Array.from({ length: CHANNELS }, (_, i) => {
  const url = baseUrl(fixed);
  return fixed.int(10) > 0 ? `${url}&channel_id=${Math.abs(reverseBits(i))}` : url;
});

/**
 * 10^(6·x/2^32) for a 32-bit x as the product of three small tables (of its top 11, middle 11
 * and low 10 bits): prices by lookups that stay in the CPU cache, instead of Math.pow (a quarter
 * of the generator's time) or two 64 Ki-entry tables (cache misses).
 */
const POW_TOP = Float64Array.from(
  { length: 1 << 11 },
  (_, i) => 100 * Math.pow(10, (6 * i * 2 ** 21) / 2 ** 32),
);
const POW_MID = Float64Array.from({ length: 1 << 11 }, (_, i) => Math.pow(10, (6 * i * 2 ** 10) / 2 ** 32));
const POW_LOW = Float64Array.from({ length: 1 << 10 }, (_, i) => Math.pow(10, (6 * i) / 2 ** 32));

// ---- the generator ----

export type EventKind = NexmarkEvent['kind'];

/**
 * Makes event n for any n, in any order: a pure function of (config, n). One instance per reader
 * (it holds a reusable random generator).
 */
export class NexmarkGenerator {
  readonly config: GeneratorConfig;
  private readonly rng = new Rng();
  private readonly total: number;
  private readonly persons: number;
  private readonly personsAndAuctions: number;
  /** Events between an auction and the auction numInFlightAuctions later. */
  private readonly eventsForInFlightAuctions: number;

  constructor(options: GeneratorOptions | GeneratorConfig = {}) {
    this.config = generatorConfig(options);
    const c = this.config;
    this.total = c.personProportion + c.auctionProportion + c.bidProportion;
    this.persons = c.personProportion;
    this.personsAndAuctions = c.personProportion + c.auctionProportion;
    this.eventsForInFlightAuctions = Math.floor((c.numInFlightAuctions * this.total) / c.auctionProportion);
  }

  kindOf(n: number): EventKind {
    const rem = n % this.total;
    return rem < this.persons ? 'person' : rem < this.personsAndAuctions ? 'auction' : 'bid';
  }

  /** Event time of event n (epoch ms). */
  timestamp(n: number): number {
    return this.config.baseTime + Math.floor((n * 1000) / this.config.eventsPerSecond);
  }

  event(n: number): NexmarkEvent {
    const rem = n % this.total;
    this.rng.reseed(this.config.seed, n);
    if (rem >= this.personsAndAuctions) return this.bid(n);
    if (rem < this.persons) return this.person(n);
    return this.auction(n);
  }

  /** The person id (base 0) of the last person made at or before event n. */
  lastBase0PersonId(n: number): number {
    const epoch = Math.floor(n / this.total);
    let offset = n % this.total;
    if (offset >= this.persons) offset = this.persons - 1;
    return epoch * this.persons + offset;
  }

  /** The auction id (base 0) of the last auction made at or before event n (−1 before the first). */
  lastBase0AuctionId(n: number): number {
    let epoch = Math.floor(n / this.total);
    let offset = n % this.total;
    const auctions = this.config.auctionProportion;
    if (offset < this.persons) {
      epoch--;
      offset = auctions - 1;
    } else if (offset >= this.personsAndAuctions) offset = auctions - 1;
    else offset -= this.persons;
    return epoch * auctions + offset;
  }

  /** One of the active people, or one of the next few (a person about to join). */
  private nextBase0PersonId(n: number): number {
    const numPeople = this.lastBase0PersonId(n) + 1;
    const active = Math.min(numPeople, this.config.numActivePeople);
    return numPeople - active + this.rng.int(active + PERSON_ID_LEAD);
  }

  /** One of the auctions likely still in flight, or one of the next few. */
  private nextBase0AuctionId(n: number): number {
    const max = this.lastBase0AuctionId(n);
    const min = Math.max(max - this.config.numInFlightAuctions, 0);
    return min + this.rng.int(max - min + 1 + AUCTION_ID_LEAD);
  }

  /** 100 × 10^(6u) rounded, u uniform in [0, 1): cents from $1 to $1 000 000, log-uniform. */
  private price(): number {
    const x = this.rng.next();
    return Math.round(POW_TOP[x >>> 21]! * POW_MID[(x >>> 10) & 0x7ff]! * POW_LOW[x & 0x3ff]!);
  }

  /** The reference's nextString: 3 to maxLength − 1 characters, spaces trimmed. */
  private text(maxLength: number): string {
    const len = 3 + this.rng.int(maxLength - 3);
    const at = this.rng.int(POOL_SIZE - len);
    return TEXT_POOL.slice(at, at + len).trim();
  }

  /** Letters making currentSize + length about averageSize on average (±20 %). */
  private extra(currentSize: number, averageSize: number): string {
    if (currentSize > averageSize) return '';
    const desired = averageSize - currentSize;
    const delta = Math.round(desired * 0.2);
    const len = desired - delta + (delta === 0 ? 0 : this.rng.int(2 * delta));
    const at = this.rng.int(POOL_SIZE - len);
    return EXACT_POOL.slice(at, at + len);
  }

  private person(n: number): Person {
    const rng = this.rng;
    const name = NAMES[rng.int(FIRST_NAMES.length) * LAST_NAMES.length + rng.int(LAST_NAMES.length)]!;
    const emailAddress = this.text(7) + '@' + this.text(5) + '.com';
    const creditCard =
      DIGITS4[rng.int(10_000)]! +
      ' ' +
      DIGITS4[rng.int(10_000)]! +
      ' ' +
      DIGITS4[rng.int(10_000)]! +
      ' ' +
      DIGITS4[rng.int(10_000)]!;
    const city = US_CITIES[rng.int(US_CITIES.length)]!;
    const state = US_STATES[rng.int(US_STATES.length)]!;
    const size = 8 + name.length + emailAddress.length + creditCard.length + city.length + state.length;
    return {
      kind: 'person',
      id: this.lastBase0PersonId(n) + FIRST_PERSON_ID,
      name,
      emailAddress,
      creditCard,
      city,
      state,
      dateTime: this.timestamp(n),
      extra: this.extra(size, this.config.avgPersonByteSize),
    };
  }

  private auction(n: number): Auction {
    const rng = this.rng;
    const c = this.config;
    const dateTime = this.timestamp(n);
    const seller =
      rng.int(c.hotSellersRatio) > 0
        ? Math.floor(this.lastBase0PersonId(n) / HOT_BATCH) * HOT_BATCH
        : this.nextBase0PersonId(n);
    const category = FIRST_CATEGORY_ID + rng.int(NUM_CATEGORIES);
    const initialBid = this.price();
    // Auctions last, on average, until numInFlightAuctions more auctions have been made.
    const horizon = this.timestamp(n + this.eventsForInFlightAuctions) - dateTime;
    const expires = dateTime + 1 + rng.int(Math.max(horizon * 2, 1));
    const itemName = this.text(20);
    const description = this.text(100);
    const reserve = initialBid + this.price();
    const size = 8 + itemName.length + description.length + 8 + 8 + 8 + 8 + 8;
    return {
      kind: 'auction',
      id: this.lastBase0AuctionId(n) + FIRST_AUCTION_ID,
      itemName,
      description,
      initialBid,
      reserve,
      dateTime,
      expires,
      seller: seller + FIRST_PERSON_ID,
      category,
      extra: this.extra(size, c.avgAuctionByteSize),
    };
  }

  private bid(n: number): Bid {
    const rng = this.rng;
    const c = this.config;
    const auction =
      rng.int(c.hotAuctionRatio) > 0
        ? Math.floor(this.lastBase0AuctionId(n) / HOT_BATCH) * HOT_BATCH
        : this.nextBase0AuctionId(n);
    // Hot bidders are the second person of a batch, so they are not the hot sellers.
    const bidder =
      rng.int(c.hotBiddersRatio) > 0
        ? Math.floor(this.lastBase0PersonId(n) / HOT_BATCH) * HOT_BATCH + 1
        : this.nextBase0PersonId(n);
    const price = this.price();
    let channel: string;
    let url: string;
    if (rng.int(HOT_CHANNELS_RATIO) > 0) {
      const i = rng.int(HOT_CHANNEL_NAMES.length);
      channel = HOT_CHANNEL_NAMES[i]!;
      url = HOT_URLS[i]!;
    } else {
      const i = rng.int(CHANNELS);
      channel = CHANNEL_NAMES[i]!;
      url = CHANNEL_URLS[i]!;
    }
    return {
      kind: 'bid',
      auction: auction + FIRST_AUCTION_ID,
      bidder: bidder + FIRST_PERSON_ID,
      price,
      channel,
      url,
      dateTime: this.timestamp(n),
      extra: this.extra(8 + 8 + 8 + 8, c.avgBidByteSize),
    };
  }
}
