// How keyed and operator state become the sections of a state file, and back (the payload
// format of ARCHITECTURE.md §8 data files; documented in docs/savepoint-format.md).
//
// Keyed state: one section per non-empty key group, id = key group. The payload is a CBOR
// sequence (docs/value-codec.md): for each state with entries in the group, its name, its kind,
// the number of entries n, then (keyed state file version 2) the n keys, then the values' layout
// (0: n items; 1: one float64 column, RFC 8746 tag 86) and the values. Version 1 files, which
// weir wrote before, hold n key/value pairs instead. Keys are the user's keys as given to keyBy
// (tuples as arrays); map-state values are Maps keyed by the user's map keys.
//
// Operator state: one section (id 0): for each state, its name, its mode ('split' or 'union' for
// list state, 'broadcast' for broadcast state, whose entries are [key, value] pairs), the number
// of entries, then the entries.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { KeyedStateCapture } from '../state/keyed-state-backend.js';
import type { StateKind } from '../state/descriptors.js';
import type {
  EncodedKeyGroup,
  KeyGroupEntries,
  OperatorStateMode,
  OperatorStateSnapshot,
} from '../state/snapshot.js';
import { fromStateKey, toStateKey } from '../state/state-key.js';
import { TAG_MAP_ANY_KEYS, ValueCodecError, ValueDecoder, ValueEncoder } from '../state/value-codec.js';
import { mapUnits, type StoredFormat } from '../state/state-schema.js';
import { releaseCapturedGroup } from '../state/state-table.js';
import type { KeyColumn } from '../state/key-column-cache.js';
import type { StateFileWriter } from '../storage/state-file.js';

/** Bytes encoded before they are handed to the file writer (and the event loop gets a turn). */
const CHUNK_BYTES = 1 << 20;
/** Entries encoded before the event loop gets a turn, so records keep flowing during a snapshot. */
const ENTRIES_PER_TURN = 20_000;
/** The encoder's first buffer: a key group's entries usually fit; it grows when they do not. */
const ENCODER_BYTES = 64 << 10;

const STATE_KINDS: ReadonlySet<string> = new Set(['value', 'list', 'map', 'reducing', 'aggregating']);

export function isStateKind(kind: string): kind is StateKind {
  return STATE_KINDS.has(kind);
}

export interface StateEntryCount {
  readonly name: string;
  readonly kind: StateKind;
  readonly format: StoredFormat;
  entries: number;
}

export class StateFormatError extends Error {
  override readonly name: string = 'StateFormatError';
}

/**
 * Restored keyed state that passed its checksums but does not decode, found when the job first
 * needed it (see EncodedKeyGroup). Every attempt restoring `snapshot` would fail the same way, so
 * the job master takes that snapshot as unusable, as a restore that found it damaged would.
 */
export class RestoredStateError extends StateFormatError {
  override readonly name = 'RestoredStateError';
  constructor(
    /** The snapshot's location (its URI), as the restore was given it. */
    readonly snapshot: string,
    /** What does not decode, and where (file, key group). */
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(
      `${detail}; these bytes match their checksums, so the snapshot was written with them (a fault of the weir that wrote it): start from another checkpoint or savepoint`,
      options,
    );
  }
}

function toPortableValue(kind: StateKind, v: unknown): unknown {
  if (kind !== 'map') return v;
  const out = new Map<unknown, unknown>();
  for (const [k, x] of v as Map<unknown, unknown>) out.set(fromStateKey(k), x);
  return out;
}

function fromPortableValue(kind: StateKind, v: unknown, where: string): unknown {
  if (kind !== 'map') return v;
  if (!(v instanceof Map)) throw new StateFormatError(`${where}: a map-state value is not a map`);
  const out = new Map<unknown, unknown>();
  for (const [k, x] of v) out.set(toStateKey(k), x);
  return out;
}

/** Kinds whose values may be written as one float64 column (RFC 8746) when every one is a number. */
const NUMBER_COLUMN_KINDS: ReadonlySet<string> = new Set(['value', 'reducing', 'aggregating']);
/** How a state's values follow its keys in a version 2 section. */
const VALUES_AS_ITEMS = 0;
const VALUES_AS_FLOAT64 = 1;

/** Key groups larger than this have their keys encoded (and flushed) piecewise, never kept. */
const MAX_KEPT_GROUP = ENTRIES_PER_TURN;

/**
 * Whether `m` holds exactly `keys`, in the same order: one plain loop over the map's key
 * iterator, which optimized code runs without a call per entry (a Map.forEach callback took twice
 * as long), stopping at the first miss.
 */
function holdsExactly(m: ReadonlyMap<unknown, unknown>, keys: readonly unknown[]): boolean {
  if (keys.length !== m.size) return false;
  let i = 0;
  for (const k of m.keys()) if (k !== keys[i++]) return false;
  return true;
}

/** What `numbersInto` found: 0, a value that is not a number; 1, numbers; 2, numbers, NaN among them. */
const NOT_NUMBERS = 0;
const NUMBERS = 1;
const NUMBERS_WITH_NAN = 2;

/** Whether `m`'s values are all numbers (see NUMBERS); then they are in `into`, which has room for them. */
function numbersInto(m: ReadonlyMap<unknown, unknown>, into: Float64Array): number {
  let at = 0;
  let nan = false;
  for (const v of m.values()) {
    if (typeof v !== 'number') return NOT_NUMBERS;
    if (v !== v) nan = true;
    into[at++] = v;
  }
  return nan ? NUMBERS_WITH_NAN : NUMBERS;
}

/** The first value of a non-empty map. */
function firstValue(m: ReadonlyMap<unknown, unknown>): unknown {
  for (const v of m.values()) return v;
  return undefined;
}

/**
 * The asynchronous part of a keyed snapshot: encodes the capture key group by key group into
 * `file` (keyed state file version 2: for each state, its keys, then its values), giving the
 * event loop a turn regularly. Returns the entry count per state.
 *
 * The key column of a group whose map holds the same keys in the same order as at the state's
 * previous snapshot is copied from that snapshot (KeyColumnCache) instead of encoded again; the
 * values are one float64 column when they are all numbers (value, reducing and aggregating state
 * with the default serializer), else one item each.
 *
 * Each key group is handed back to its state table once encoded (`releaseCapturedGroup`, a
 * no-op unless the capture was adopted): its bytes are in the encoder, so records may change it
 * again while the rest is written.
 */
export async function writeKeyedState(
  capture: KeyedStateCapture,
  file: Pick<StateFileWriter, 'beginSection' | 'write' | 'endSection'>,
): Promise<StateEntryCount[]> {
  const enc = new ValueEncoder(ENCODER_BYTES);
  const counts: StateEntryCount[] = capture.states.map((s) => ({
    name: s.name,
    kind: s.kind,
    format: s.format,
    entries: 0,
  }));
  // String keys and number values are what most keyed state holds: paths of their own.
  const writeKey = (k: unknown): void => {
    const key = fromStateKey(k);
    if (typeof key === 'string') enc.encodeString(key);
    else enc.encode(key);
  };
  const writeValue = capture.states.map((st): ((v: unknown) => void) => {
    const serialize = st.serialize;
    const kind = st.kind;
    if (kind !== 'map' && serialize === undefined)
      return (v) => {
        if (typeof v === 'number') enc.encodeNumber(v);
        else enc.encode(v);
      };
    return (v) => {
      const portable = toPortableValue(kind, v);
      enc.encode(serialize === undefined ? portable : mapUnits(kind, portable, serialize));
    };
  });
  let sinceTurn = 0;
  // This snapshot's column of numbers (another snapshot may be encoding while this one awaits).
  let column = new Float64Array(256);
  // The writer copies what it is given (holding it only until its promise settles), so the
  // encoder's buffer is handed over as a view and reused: no chunk is allocated per megabyte,
  // and a gigabyte of snapshot does not become a gigabyte of garbage (each major GC would mark
  // every object of the state being written).
  //
  // A promise only when the writer must wait for the disk: an await of anything else would hand
  // the thread to the task's records between two key groups, stretching the copy-on-write window
  // of the groups still to come over their processing (a snapshot of 100 k entries, encoded in
  // ~2 ms, held its groups for ~6 ms, and ~1.7 k records went to the overlay per checkpoint).
  // The thread is handed over on purpose, in `turn`, every ENTRIES_PER_TURN entries.
  const flush = (): Promise<void> | undefined => {
    if (enc.length === 0) return undefined;
    const pending = file.write(enc.view());
    if (pending === undefined) {
      enc.reset();
      return undefined;
    }
    return pending.then(() => enc.reset());
  };
  const turn = async (): Promise<void> => {
    sinceTurn = 0;
    await yieldToLoop();
  };
  // Inside a key group too large to encode in one go: hand over a full chunk, give a turn.
  const pace = async (): Promise<void> => {
    if (enc.length >= CHUNK_BYTES) await flush();
    await turn();
  };
  for (let i = 0; i < capture.range.size; i++) {
    let opened = false;
    for (let s = 0; s < capture.states.length; s++) {
      const st = capture.states[s]!;
      const m = st.maps[i] ?? st.encoded?.[i]?.mapOf(st.name);
      if (m === undefined || m.size === 0) {
        st.keyColumns?.drop(i);
        releaseCapturedGroup(st.maps, i);
        continue;
      }
      if (!opened) {
        file.beginSection(capture.range.start + i);
        opened = true;
      }
      const n = m.size;
      enc.encode(st.name);
      enc.encode(st.kind);
      enc.encode(n);
      counts[s]!.entries += n;
      // Keys: kept whole in the encoder (no flush in between), so the column can be kept.
      const cache = n <= MAX_KEPT_GROUP ? st.keyColumns : undefined;
      if (cache === undefined) st.keyColumns?.drop(i);
      const removals = st.removals?.[i];
      // The kept column when its keys are known to be this map's first keys (all of them, or
      // the keys before those added since); else the kept column if it holds exactly the map's
      // keys, checked one by one.
      const prefix = cache?.prefixOf(i, m, removals);
      let kept: KeyColumn | undefined = prefix !== undefined && prefix.keys.length === n ? prefix : undefined;
      if (prefix === undefined && cache !== undefined) {
        const c = cache.get(i, n);
        if (c !== undefined && holdsExactly(m, c.keys)) {
          kept = c;
          cache.found(i, c, m, removals);
        }
      }
      if (kept !== undefined) enc.appendEncoded(kept.bytes);
      else {
        const start = enc.length;
        // Keys added since the kept column's: only they are encoded, after the column's bytes.
        const from = prefix?.keys.length ?? 0;
        if (prefix !== undefined) enc.appendEncoded(prefix.bytes);
        const keys: unknown[] | undefined =
          cache?.wants(i, n) === true ? (prefix?.keys.slice() ?? []) : undefined;
        let at = 0;
        for (const k of m.keys()) {
          if (at++ < from) continue;
          writeKey(k);
          keys?.push(k);
          // (Such a group keeps no key column, so its keys may be flushed piecewise.)
          if (++sinceTurn >= ENTRIES_PER_TURN && n > MAX_KEPT_GROUP) await pace();
        }
        if (keys !== undefined)
          cache!.keep(i, { keys, bytes: enc.copyOf(start, enc.length), map: m, removals });
        else cache?.drop(i);
      }
      // Values that may be one column of numbers (a first value that is not a number spares the
      // look at the others: it would only find that out).
      const numbers =
        NUMBER_COLUMN_KINDS.has(st.kind) && st.serialize === undefined && typeof firstValue(m) === 'number';
      if (numbers && column.length < n) column = new Float64Array(Math.max(n, 2 * column.length));
      const collected = numbers ? numbersInto(m, column) : NOT_NUMBERS;
      // Values. (`column`, this snapshot's own, holds the group's numbers when they are all numbers.)
      if (collected !== NOT_NUMBERS) {
        enc.encodeNumber(VALUES_AS_FLOAT64);
        enc.float64Column(column, n, collected === NUMBERS);
        sinceTurn += n >>> 3;
      } else {
        enc.encodeNumber(VALUES_AS_ITEMS);
        const write = writeValue[s]!;
        for (const v of m.values()) {
          write(v);
          if (++sinceTurn >= ENTRIES_PER_TURN && n > ENTRIES_PER_TURN) await pace();
        }
      }
      releaseCapturedGroup(st.maps, i);
      if (enc.length >= CHUNK_BYTES) {
        const wait = flush();
        if (wait !== undefined) await wait;
      }
    }
    if (opened) {
      const wait = flush();
      if (wait !== undefined) await wait;
      file.endSection();
    }
    if (sinceTurn >= ENTRIES_PER_TURN) await turn();
  }
  return counts;
}

/** Decoded keyed state, by state name: its kind and its key groups. */
export type DecodedKeyedState = Map<
  string,
  { kind: StateKind; keyGroups: Array<{ keyGroup: number; entries: KeyGroupEntries }> }
>;

/**
 * Decodes one keyed-state section (key group `keyGroup`) into `into`, grouped by state name.
 * `version`: the keyed state file's version (1: key, value pairs; 2: keys, then values).
 */
export function readKeyedSection(
  payload: Uint8Array,
  keyGroup: number,
  into: DecodedKeyedState,
  where: string,
  version: number,
): void {
  if (version !== 1 && version !== 2)
    throw new StateFormatError(`${where}: keyed state file version ${version} is not one this weir reads`);
  try {
    decodeKeyedSection(payload, keyGroup, into, where, version);
  } catch (e) {
    // A malformed item: say where it is, not only at which byte.
    if (e instanceof ValueCodecError)
      throw new StateFormatError(`${where}: key group ${keyGroup}: ${e.message}`);
    throw e;
  }
}

/** The header of one state's entries in a keyed section: its name, kind and number of entries. */
function stateHeader(
  dec: ValueDecoder,
  keyGroup: number,
  where: string,
): { name: string; kind: StateKind; count: number } {
  const name = dec.decode();
  const kind = dec.decode();
  const count = dec.decode();
  if (typeof name !== 'string' || typeof kind !== 'string' || !STATE_KINDS.has(kind)) {
    throw new StateFormatError(`${where}: key group ${keyGroup} has a malformed state header`);
  }
  if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
    throw new StateFormatError(`${where}: key group ${keyGroup} has a bad entry count for state '${name}'`);
  }
  return { name, kind: kind as StateKind, count };
}

function decodeKeyedSection(
  payload: Uint8Array,
  keyGroup: number,
  into: DecodedKeyedState,
  where: string,
  version: number,
): void {
  const dec = new ValueDecoder(payload);
  while (!dec.done) {
    const { name, kind, count } = stateHeader(dec, keyGroup, where);
    let st = into.get(name);
    if (st === undefined) {
      st = { kind, keyGroups: [] };
      into.set(name, st);
    } else if (st.kind !== kind) {
      throw new StateFormatError(`${where}: state '${name}' is both ${st.kind} and ${kind} state`);
    }
    // Straight into the key group's map, which the restoring backend adopts: no pair per entry
    // and no second pass (a restore of a gigabyte decodes millions of entries here).
    const entries = new Map<unknown, unknown>();
    if (version === 1) {
      if (kind === 'map')
        for (let e = 0; e < count; e++) {
          const key = toStateKey(dec.decodeKey());
          entries.set(key, fromPortableValue(kind, dec.decode(), where));
        }
      else for (let e = 0; e < count; e++) entries.set(toStateKey(dec.decodeKey()), dec.decode());
    } else {
      // Every key takes at least one byte: a count past the payload is damage, not an allocation.
      if (count > payload.length)
        throw new StateFormatError(
          `${where}: key group ${keyGroup} has a bad entry count for state '${name}'`,
        );
      const keys = new Array<unknown>(count);
      for (let e = 0; e < count; e++) keys[e] = toStateKey(dec.decodeKey());
      const form = dec.decode();
      if (form === VALUES_AS_FLOAT64 && NUMBER_COLUMN_KINDS.has(kind)) {
        const values = dec.decodeFloat64Column(count);
        for (let e = 0; e < count; e++) entries.set(keys[e], values[e]);
      } else if (form === VALUES_AS_ITEMS) {
        if (kind === 'map')
          for (let e = 0; e < count; e++) entries.set(keys[e], fromPortableValue(kind, dec.decode(), where));
        else for (let e = 0; e < count; e++) entries.set(keys[e], dec.decode());
      } else
        throw new StateFormatError(
          `${where}: key group ${keyGroup} has a bad value layout for ${kind} state '${name}'`,
        );
    }
    st.keyGroups.push({ keyGroup, entries });
  }
}

/**
 * Key group `keyGroup` of a keyed state file (the file's `version`), read and checked against its
 * checksum, left encoded: see EncodedKeyGroup. It is checked here, before the job starts, to
 * decode (every item, without building any): a StateFormatError now rather than a failed job
 * later, when the restore can no longer choose another checkpoint and sinks have already
 * restored. `kinds`: the kind of each keyed state of the operator, from `_metadata`; a group
 * holding another state, or one of another kind, is damage.
 */
export function encodedKeyGroup(
  payload: Uint8Array,
  keyGroup: number,
  kinds: ReadonlyMap<string, StateKind>,
  file: { snapshot: string; where: string; version: number },
): EncodedKeyGroup {
  if (file.version !== 1 && file.version !== 2)
    throw new StateFormatError(
      `${file.where}: keyed state file version ${file.version} is not one this weir reads`,
    );
  try {
    checkKeyedSection(payload, keyGroup, kinds, file.where, file.version);
  } catch (e) {
    if (e instanceof ValueCodecError)
      throw new StateFormatError(`${file.where}: key group ${keyGroup}: ${e.message}`);
    throw e;
  }
  return new EncodedSection(payload, keyGroup, kinds, file);
}

/** decodeKeyedSection's checks, and `kinds`', without building the entries. */
function checkKeyedSection(
  payload: Uint8Array,
  keyGroup: number,
  kinds: ReadonlyMap<string, StateKind>,
  where: string,
  version: number,
): void {
  const dec = new ValueDecoder(payload);
  while (!dec.done) {
    const { name, kind, count } = stateHeader(dec, keyGroup, where);
    checkListed(name, kind, kinds, keyGroup, where);
    const value = (): void => {
      if (dec.skip() !== TAG_MAP_ANY_KEYS && kind === 'map')
        throw new StateFormatError(`${where}: a map-state value is not a map`);
    };
    if (version === 1) {
      for (let e = 0; e < count; e++) {
        dec.skip();
        value();
      }
      continue;
    }
    if (count > payload.length)
      throw new StateFormatError(`${where}: key group ${keyGroup} has a bad entry count for state '${name}'`);
    for (let e = 0; e < count; e++) dec.skip();
    const form = dec.decode();
    if (form === VALUES_AS_FLOAT64 && NUMBER_COLUMN_KINDS.has(kind)) dec.skipFloat64Column(count);
    else if (form === VALUES_AS_ITEMS) for (let e = 0; e < count; e++) value();
    else
      throw new StateFormatError(
        `${where}: key group ${keyGroup} has a bad value layout for ${kind} state '${name}'`,
      );
  }
}

function checkListed(
  name: string,
  kind: StateKind,
  kinds: ReadonlyMap<string, StateKind>,
  keyGroup: number,
  where: string,
): void {
  const listed = kinds.get(name);
  if (listed !== kind)
    throw new StateFormatError(
      `${where}: key group ${keyGroup} holds ${kind} state '${name}', which _metadata ` +
        (listed === undefined ? 'does not list' : `lists as ${listed} state`),
    );
}

class EncodedSection implements EncodedKeyGroup {
  private payload: Uint8Array | undefined;
  private maps: Map<string, Map<unknown, unknown>> | undefined;

  constructor(
    payload: Uint8Array,
    readonly keyGroup: number,
    private readonly kinds: ReadonlyMap<string, StateKind>,
    private readonly file: { snapshot: string; where: string; version: number },
  ) {
    this.payload = payload;
  }

  mapOf(name: string): Map<unknown, unknown> | undefined {
    if (this.maps !== undefined) return this.maps.get(name);
    try {
      return this.decode().get(name);
    } catch (e) {
      // Whatever it is (also a RangeError of the runtime's limits on a key or a Map): every
      // attempt restoring this snapshot would fail the same way.
      const detail =
        e instanceof StateFormatError
          ? e.message
          : `${this.file.where}: key group ${this.keyGroup}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
      throw new RestoredStateError(this.file.snapshot, detail, { cause: e });
    }
  }

  private decode(): Map<string, Map<unknown, unknown>> {
    const { where, version } = this.file;
    const decoded: DecodedKeyedState = new Map();
    readKeyedSection(this.payload!, this.keyGroup, decoded, where, version);
    const maps = new Map<string, Map<unknown, unknown>>();
    for (const [name, st] of decoded) {
      checkListed(name, st.kind, this.kinds, this.keyGroup, where);
      const [first, ...more] = st.keyGroups.map((g) => g.entries as Map<unknown, unknown>);
      for (const m of more) m.forEach((v, k) => first!.set(k, v));
      maps.set(name, first!);
    }
    this.maps = maps;
    this.payload = undefined;
    return maps;
  }
}

export async function writeOperatorState(
  snapshot: OperatorStateSnapshot,
  file: StateFileWriter,
): Promise<void> {
  const enc = new ValueEncoder();
  file.beginSection(0);
  for (const st of snapshot.states) {
    enc.encode(st.name);
    enc.encode(st.mode);
    enc.encode(st.entries.length);
    for (const e of st.entries) {
      enc.encode(e);
      if (enc.length >= CHUNK_BYTES) {
        const pending = file.write(enc.takeChunk());
        if (pending !== undefined) await pending;
      }
    }
  }
  if (enc.length > 0) {
    const pending = file.write(enc.takeChunk());
    if (pending !== undefined) await pending;
  }
  file.endSection();
}

export function readOperatorSection(payload: Uint8Array, where: string): OperatorStateSnapshot {
  const dec = new ValueDecoder(payload);
  const states: OperatorStateSnapshot['states'] = [];
  while (!dec.done) {
    const name = dec.decode();
    const mode = dec.decode();
    const count = dec.decode();
    if (typeof name !== 'string' || (mode !== 'split' && mode !== 'union' && mode !== 'broadcast')) {
      throw new StateFormatError(`${where}: malformed operator state header`);
    }
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) {
      throw new StateFormatError(`${where}: bad entry count for operator state '${name}'`);
    }
    const entries: unknown[] = new Array<unknown>(count);
    for (let e = 0; e < count; e++) entries[e] = dec.decode();
    states.push({ name, mode: mode as OperatorStateMode, entries });
  }
  return { states };
}
