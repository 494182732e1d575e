// The heap keyed state backend: live state in Maps on the JavaScript heap, one StateTable per
// state name, scoped by a KeyContext that the task sets before each record.
import { StateMigrationError } from './state-migration-error.js';
import {
  type AggregatingStateDescriptor,
  type ListStateDescriptor,
  type MapStateDescriptor,
  type ReducingStateDescriptor,
  type StateDescriptor,
  type StateSerializer,
  type StateKind,
  type ValueStateDescriptor,
} from './descriptors.js';
import { keyGroupOf, type KeyGroup, type KeyGroupRange } from './key-group.js';
import { cloneValue } from './clone-value.js';
import {
  StateAccessError,
  type AggregatingState,
  type ListState,
  type MapState,
  type ReducingState,
  type ValueState,
} from './state.js';
import { fromStateKey, toStateKey } from './state-key.js';
import { StateTable } from './state-table.js';
import type { KeyColumnCache } from './key-column-cache.js';
import {
  DEFAULT_FORMAT,
  formatOf,
  mapUnits,
  restoreUnit,
  serializeUnit,
  copyStored,
  type StoredFormat,
} from './state-schema.js';
import type { EncodedKeyGroup, KeyedStateSnapshot, KeyGroupEntries } from './snapshot.js';

/** What an asynchronous snapshot reads: the frozen maps of every state, by key group index. */
export interface KeyedStateCapture {
  readonly range: KeyGroupRange;
  readonly maxParallelism: number;
  readonly states: ReadonlyArray<{
    readonly name: string;
    readonly kind: StateKind;
    readonly format: StoredFormat;
    /** Turns a stored unit into what is written; undefined: written as it is (weir-cbor). */
    readonly serialize: ((unit: unknown) => unknown) | undefined;
    /** Indexed by key group − range.start; keys are state keys (see state-key.ts). */
    readonly maps: ReadonlyArray<Map<unknown, unknown> | undefined>;
    /**
     * Restored key groups still encoded, by the same index: such a group's map is
     * `encoded[i].mapOf(name)` (the group was not changed since the restore).
     */
    readonly encoded?: ReadonlyArray<EncodedKeyGroup | undefined>;
    /** The state's key columns as last written, which a writer may copy and must keep current. */
    readonly keyColumns?: KeyColumnCache;
    /** The table's `removals` when `maps` were captured (see StateTable.removals). */
    readonly removals?: Uint32Array;
  }>;
  /** Lets the backend change the captured maps again. Call once the snapshot is written (or abandoned). */
  release(): void;
}

/** What keyed state is scoped to right now. Mutated in place per record: no allocation. */
export class KeyContext {
  key: unknown = undefined;
  stateKey: unknown = undefined;
  keyGroup: KeyGroup = -1;
  /** keyGroup − range.start, or −1 outside a keyed context. */
  kgIndex = -1;
}

/** Creates keyed state from descriptors; what a runtime context hands to user functions. */
export interface KeyedStateStore {
  getState<T>(descriptor: ValueStateDescriptor<T>): ValueState<T>;
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T>;
  getMapState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): MapState<UK, UV>;
  getReducingState<T>(descriptor: ReducingStateDescriptor<T>): ReducingState<T>;
  getAggregatingState<IN, ACC, OUT>(
    descriptor: AggregatingStateDescriptor<IN, ACC, OUT>,
  ): AggregatingState<IN, OUT>;
}

interface Registered {
  kind: StateKind;
  table: StateTable;
  handle: unknown;
  /** How the values are stored in snapshots; for restored, unregistered state the snapshot's. */
  format: StoredFormat;
  serialize: ((unit: unknown) => unknown) | undefined;
}

export class HeapKeyedStateBackend implements KeyedStateStore {
  readonly ctx = new KeyContext();
  private readonly states = new Map<string, Registered>();
  /** Names the operator in messages (set by the runtime). */
  owner = 'this operator';
  /** Indexes of key groups a restore left encoded, decoded one per `mergeStep` from `decodeCursor` on. */
  private encodedGroups: number[] = [];
  private decodeCursor = 0;

  constructor(
    readonly range: KeyGroupRange,
    readonly maxParallelism: number,
  ) {}

  setCurrentKey(key: unknown, keyGroup: KeyGroup): void {
    const ctx = this.ctx;
    ctx.key = key;
    ctx.stateKey = toStateKey(key);
    ctx.keyGroup = keyGroup;
    ctx.kgIndex = keyGroup - this.range.start;
  }

  /** For callers that did not get the key group with the record (tests, timers). */
  setCurrentKeyComputingGroup(key: unknown): void {
    const kg = keyGroupOf(key, this.maxParallelism);
    if (!this.range.contains(kg)) {
      throw new StateAccessError(
        `key ${String(key)} is in key group ${kg}, outside this subtask's range ${this.range}`,
      );
    }
    this.setCurrentKey(key, kg);
  }

  clearCurrentKey(): void {
    this.ctx.key = undefined;
    this.ctx.stateKey = undefined;
    this.ctx.keyGroup = -1;
    this.ctx.kgIndex = -1;
  }

  getState<T>(d: ValueStateDescriptor<T>): ValueState<T> {
    return this.register(d, (t) => new HeapValueState<T>(t, this.ctx, defaultOf(d)));
  }
  getListState<T>(d: ListStateDescriptor<T>): ListState<T> {
    return this.register(d, (t) => new HeapListState<T>(t, this.ctx));
  }
  getMapState<UK, UV>(d: MapStateDescriptor<UK, UV>): MapState<UK, UV> {
    return this.register(d, (t) => new HeapMapState<UK, UV>(t, this.ctx));
  }
  getReducingState<T>(d: ReducingStateDescriptor<T>): ReducingState<T> {
    return this.register(d, (t) => new HeapReducingState<T>(t, this.ctx, d.reduce));
  }
  getAggregatingState<IN, ACC, OUT>(d: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT> {
    return this.register(d, (t) => new HeapAggregatingState<IN, ACC, OUT>(t, this.ctx, d.aggregate));
  }

  private register<H>(d: StateDescriptor, create: (table: StateTable) => H): H {
    const existing = this.states.get(d.name);
    if (existing !== undefined) {
      if (existing.kind !== d.kind) {
        // Restored and not asked for yet: the snapshot's kind, which restarting cannot change.
        if (existing.handle === undefined)
          throw new StateMigrationError(
            `state '${d.name}' of ${this.owner} is ${existing.kind} state in the snapshot, but the job declares it as ${d.kind} state; a state cannot change kind across a restore: give the ${d.kind} state another name (or start from a snapshot that has no '${d.name}')`,
          );
        throw new StateAccessError(
          `state '${d.name}' is already registered as ${existing.kind} state and cannot also be ${d.kind} state; give it another name`,
        );
      }
      // State restored from a snapshot has its table but no handle until a function asks for it;
      // then its values become what the descriptor declares (deserialized, migrated).
      if (existing.handle === undefined) {
        const upgrade = restoreUnit(d, existing.format, this.owner);
        if (upgrade !== undefined) this.upgradeAll(existing, upgrade);
        existing.format = formatOf(d);
        existing.serialize = serializeUnit(d.serializer);
        existing.table.copyValue = copyStored(d.kind, d.serializer);
        existing.handle = create(existing.table);
      }
      return existing.handle as H;
    }
    const table = new StateTable(this.range);
    table.copyValue = copyStored(d.kind, d.serializer);
    const handle = create(table);
    this.states.set(d.name, {
      kind: d.kind,
      table,
      handle,
      format: formatOf(d),
      serialize: serializeUnit(d.serializer),
    });
    return handle;
  }

  private upgradeAll(s: Registered, upgrade: (unit: unknown) => unknown): void {
    for (let i = 0; i < s.table.maps.length; i++)
      for (const [k, v] of [...s.table.groupEntries(i)]) s.table.set(i, k, mapUnits(s.kind, v, upgrade));
  }

  /**
   * Calls `fn` with the current key set to each key of this subtask that has a value in state
   * `name` (Flink's applyToKeyedState). The keys are gathered first, so `fn` may change or clear
   * the state; afterwards no key is current.
   */
  forEachKey(name: string, fn: () => void): void {
    const table = this.states.get(name)?.table;
    if (table === undefined) return;
    for (let i = 0; i < table.maps.length; i++) {
      const keys: unknown[] = [];
      for (const [stateKey] of table.groupEntries(i)) keys.push(stateKey);
      for (const stateKey of keys) {
        this.setCurrentKey(fromStateKey(stateKey), this.range.start + i);
        fn();
      }
    }
    this.clearCurrentKey();
  }

  stateNames(): string[] {
    return [...this.states.keys()];
  }

  /** Every (key, value) of one state, for tests and tools. */
  *entries(name: string): IterableIterator<[unknown, unknown]> {
    const s = this.states.get(name);
    if (s === undefined) return;
    for (let i = 0; i < s.table.maps.length; i++)
      for (const [k, v] of s.table.groupEntries(i)) yield [fromStateKey(k), v];
  }

  /**
   * The synchronous part of an asynchronous snapshot: O(states × key groups), independent of
   * the number of keys. The capture's maps stay unchanged until `release()`; records keep
   * updating state meanwhile through the copy-on-write overlay of each table.
   */
  capture(): KeyedStateCapture {
    const states: Array<KeyedStateCapture['states'][number]> = [];
    const tables: StateTable[] = [];
    for (const [name, s] of this.states) {
      states.push({
        name,
        kind: s.kind,
        format: s.format,
        serialize: s.serialize,
        maps: s.table.freeze(),
        encoded: s.table.encodedGroups(),
        keyColumns: s.table.keyColumns,
        removals: s.table.removals.slice(),
      });
      tables.push(s.table);
    }
    let released = false;
    return {
      range: this.range,
      maxParallelism: this.maxParallelism,
      states,
      release: () => {
        if (released) return;
        released = true;
        for (const t of tables) t.unfreeze();
      },
    };
  }

  /**
   * Background work between batches: folds copy-on-write overlays back in, about `budget`
   * entries at a time, and decodes one key group a restore left encoded (so a restored job
   * spreads the decoding over its first batches instead of pausing on a record that needs a
   * group). True when nothing is left to do.
   */
  mergeStep(budget = 4096): boolean {
    let done = true;
    for (const s of this.states.values()) if (!s.table.mergeStep(budget)) done = false;
    if (this.decodeCursor < this.encodedGroups.length) {
      const i = this.encodedGroups[this.decodeCursor++]!;
      for (const s of this.states.values()) s.table.decodeGroup(i);
      if (this.decodeCursor < this.encodedGroups.length) done = false;
      else {
        this.encodedGroups = [];
        this.decodeCursor = 0;
      }
    }
    return done;
  }

  /** A detached copy of all keyed state, grouped by key group. */
  snapshot(): KeyedStateSnapshot {
    const states: KeyedStateSnapshot['states'] = [];
    for (const [name, s] of this.states) {
      const keyGroups: KeyedStateSnapshot['states'][number]['keyGroups'] = [];
      const copyValue = s.table.copyValue;
      for (let i = 0; i < s.table.maps.length; i++) {
        const entries = [...s.table.groupEntries(i)];
        if (entries.length > 0)
          keyGroups.push({ keyGroup: this.range.start + i, entries: copyEntries(entries, copyValue) });
      }
      // In memory the values stay as they are: only a file holds serializer bytes.
      const format = { serializer: DEFAULT_FORMAT.serializer, version: s.format.version };
      states.push(
        withCopyValue(
          { name, kind: s.kind, format: s.handle === undefined ? s.format : format, keyGroups },
          copyValue,
        ),
      );
    }
    return { maxParallelism: this.maxParallelism, states };
  }

  /** Loads the key groups of this subtask's range from snapshots (of any earlier parallelism). */
  restore(snapshots: readonly KeyedStateSnapshot[], options: { copy?: boolean } = {}): void {
    for (const snap of snapshots) {
      if (snap.maxParallelism !== this.maxParallelism) {
        throw new StateAccessError(
          `state was written with max parallelism ${snap.maxParallelism} but the job now has ${this.maxParallelism}; ` +
            'max parallelism cannot change across a restore',
        );
      }
      for (const st of snap.states) {
        let s = this.states.get(st.name);
        // A state without a single entry restores to nothing, as the snapshot loader leaves it
        // out of a file's: the job may declare the name anew, with any kind.
        if (s === undefined && st.keyGroups.length === 0 && (snap.encoded ?? []).length === 0) continue;
        if (s === undefined) {
          s = {
            kind: st.kind,
            table: new StateTable(this.range),
            handle: undefined,
            format: st.format ?? DEFAULT_FORMAT,
            serialize: undefined,
          };
          this.states.set(st.name, s);
        }
        const reg = s;
        if (reg.handle !== undefined && reg.kind !== st.kind) {
          throw new StateAccessError(
            `state '${st.name}' was ${st.kind} state in the snapshot but is ${reg.kind} state now`,
          );
        }
        for (const kg of st.keyGroups) {
          if (!this.range.contains(kg.keyGroup)) continue;
          const idx = kg.keyGroup - this.range.start;
          const entries =
            options.copy === false ? kg.entries : copyEntries(kg.entries, st.copyValue ?? cloneValue);
          if (entries instanceof Map) {
            // A decoded key group becomes the table's own map when it has none yet.
            if (reg.table.adoptGroup(idx, entries)) continue;
            const m = reg.table.mapFor(idx);
            entries.forEach((v, k) => m.set(k, v));
            continue;
          }
          const m = reg.table.mapFor(idx);
          // Indexed, not destructured: a restore sets millions of entries here.
          for (let i = 0; i < entries.length; i++) {
            const e = entries[i]!;
            m.set(e[0], e[1]);
          }
        }
      }
      for (const g of snap.encoded ?? []) this.restoreEncoded(g, snap, options.copy === false);
    }
  }

  /**
   * An encoded key group of a restore: left encoded in every state's table when it is adopted,
   * else decoded now (copied, or merged into a group that already has entries).
   */
  private restoreEncoded(g: EncodedKeyGroup, snap: KeyedStateSnapshot, adopt: boolean): void {
    if (!this.range.contains(g.keyGroup)) return;
    const idx = g.keyGroup - this.range.start;
    let deferred = false;
    for (const st of snap.states) {
      const table = this.states.get(st.name)!.table;
      if (adopt && table.defer(idx, g, st.name)) {
        deferred = true;
        continue;
      }
      const decoded = g.mapOf(st.name);
      if (decoded === undefined) continue;
      const entries = adopt ? decoded : (cloneValue(decoded) as Map<unknown, unknown>);
      if (table.adoptGroup(idx, entries)) continue;
      const m = table.mapFor(idx);
      entries.forEach((v, k) => m.set(k, v));
    }
    if (deferred) this.encodedGroups.push(idx);
  }
}

function noKey(): StateAccessError {
  return new StateAccessError(
    'keyed state was used outside of a keyed context; use it in processElement/onTimer of a function on a keyed stream (after keyBy)',
  );
}

abstract class HeapState {
  constructor(
    protected readonly table: StateTable,
    protected readonly ctx: KeyContext,
  ) {}

  protected current(): unknown {
    const idx = this.ctx.kgIndex;
    if (idx < 0) throw noKey();
    return this.table.get(idx, this.ctx.stateKey);
  }

  protected set(value: unknown): void {
    const idx = this.ctx.kgIndex;
    if (idx < 0) throw noKey();
    this.table.set(idx, this.ctx.stateKey, value);
  }

  clear(): void {
    const idx = this.ctx.kgIndex;
    if (idx < 0) throw noKey();
    this.table.delete(idx, this.ctx.stateKey);
  }
}

/**
 * What value() gives a key without a value: the descriptor's default, a copy of it each time when
 * it is an object, so that one key changing what it got (and storing it) changes no other key's
 * default, nor a snapshot's value behind its copy-on-write.
 */
function defaultOf<T>(d: ValueStateDescriptor<T>): () => T | undefined {
  const v = d.defaultValue;
  if (typeof v !== 'object' || v === null) return () => v;
  if (d.serializer !== undefined) {
    const copy = copyStored('value', d.serializer as StateSerializer<unknown>);
    return () => copy(v) as T;
  }
  // Without a serializer only plain data is weir's to copy (what its codec stores); anything else
  // (a class instance, which no checkpoint could hold anyway) is handed out as it is, as before.
  if (!isPlainData(v)) return () => v;
  return () => {
    try {
      return cloneValue(v);
    } catch {
      return v; // holds something structuredClone refuses (a class instance with a function)
    }
  };
}

function isPlainData(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return (
    proto === Object.prototype ||
    proto === null ||
    Array.isArray(v) ||
    ArrayBuffer.isView(v) ||
    v instanceof ArrayBuffer ||
    v instanceof Map ||
    v instanceof Set ||
    v instanceof Date
  );
}

class HeapValueState<T> extends HeapState implements ValueState<T> {
  constructor(
    table: StateTable,
    ctx: KeyContext,
    private readonly defaultValue: () => T | undefined,
  ) {
    super(table, ctx);
  }
  value(): T | undefined {
    const v = this.current() as T | undefined;
    return v === undefined ? this.defaultValue() : v;
  }
  update(value: T | undefined): void {
    if (value === undefined) this.clear();
    else this.set(value);
  }
}

const EMPTY: readonly never[] = Object.freeze([]);

class HeapListState<T> extends HeapState implements ListState<T> {
  get(): readonly T[] {
    return (this.current() as T[] | undefined) ?? EMPTY;
  }
  add(value: T): void {
    const l = this.current() as T[] | undefined;
    if (l === undefined) this.set([value]);
    else l.push(value);
  }
  addAll(values: Iterable<T>): void {
    const l = this.current() as T[] | undefined;
    if (l === undefined) {
      const n = [...values];
      if (n.length > 0) this.set(n);
    } else for (const v of values) l.push(v);
  }
  update(values: Iterable<T>): void {
    const n = [...values];
    if (n.length === 0) this.clear();
    else this.set(n);
  }
}

class HeapMapState<UK, UV> extends HeapState implements MapState<UK, UV> {
  private map(): Map<unknown, UV> | undefined {
    return this.current() as Map<unknown, UV> | undefined;
  }
  private mapForWrite(): Map<unknown, UV> {
    let m = this.map();
    if (m === undefined) {
      m = new Map();
      this.set(m);
    }
    return m;
  }
  get(key: UK): UV | undefined {
    return this.map()?.get(toStateKey(key));
  }
  put(key: UK, value: UV): void {
    this.mapForWrite().set(toStateKey(key), value);
  }
  putAll(entries: Iterable<readonly [UK, UV]>): void {
    const m = this.mapForWrite();
    for (const [k, v] of entries) m.set(toStateKey(k), v);
  }
  remove(key: UK): void {
    const m = this.map();
    if (m === undefined) return;
    m.delete(toStateKey(key));
    if (m.size === 0) this.clear();
  }
  contains(key: UK): boolean {
    return this.map()?.has(toStateKey(key)) ?? false;
  }
  *entries(): IterableIterator<[UK, UV]> {
    const m = this.map();
    if (m !== undefined) for (const [k, v] of m) yield [fromStateKey(k) as UK, v];
  }
  *keys(): IterableIterator<UK> {
    const m = this.map();
    if (m !== undefined) for (const k of m.keys()) yield fromStateKey(k) as UK;
  }
  *values(): IterableIterator<UV> {
    const m = this.map();
    if (m !== undefined) yield* m.values();
  }
  isEmpty(): boolean {
    return (this.map()?.size ?? 0) === 0;
  }
}

class HeapReducingState<T> extends HeapState implements ReducingState<T> {
  constructor(
    table: StateTable,
    ctx: KeyContext,
    private readonly reduce: (a: T, b: T) => T,
  ) {
    super(table, ctx);
  }
  get(): T | undefined {
    return this.current() as T | undefined;
  }
  add(value: T): void {
    const cur = this.current() as T | undefined;
    this.set(cur === undefined ? value : this.reduce(cur, value));
  }
}

class HeapAggregatingState<IN, ACC, OUT> extends HeapState implements AggregatingState<IN, OUT> {
  constructor(
    table: StateTable,
    ctx: KeyContext,
    private readonly agg: AggregatingStateDescriptor<IN, ACC, OUT>['aggregate'],
  ) {
    super(table, ctx);
  }
  get(): OUT | undefined {
    const acc = this.current() as ACC | undefined;
    return acc === undefined ? undefined : this.agg.getResult(acc);
  }
  add(value: IN): void {
    const acc = this.current() as ACC | undefined;
    this.set(this.agg.add(value, acc === undefined ? this.agg.createAccumulator() : acc));
  }
}

/**
 * A copy of a keyed state snapshot, each state's values copied as that state copies them (through
 * its serializer when the snapshot knows it): for a restore that must not share them.
 */
export function copyKeyedSnapshot(snap: KeyedStateSnapshot): KeyedStateSnapshot {
  return {
    ...snap,
    states: snap.states.map((st) =>
      withCopyValue(
        {
          ...st,
          keyGroups: st.keyGroups.map((kg) => ({
            keyGroup: kg.keyGroup,
            entries: copyEntries(kg.entries, st.copyValue ?? cloneValue),
          })),
        },
        st.copyValue,
      ),
    ),
  };
}

/**
 * `state` with its `copyValue` (see KeyedStateSnapshot): not enumerable, so snapshots compare,
 * print and spread as the plain data they hold (a spread drops it: pass it on with this).
 */
export function withCopyValue<S extends KeyedStateSnapshot['states'][number]>(
  state: S,
  copyValue: ((stored: unknown) => unknown) | undefined,
): S {
  if (copyValue !== undefined)
    Object.defineProperty(state, 'copyValue', { value: copyValue, enumerable: false, configurable: true });
  return state;
}

/** A copy of a key group's entries: the keys as plain data, the values with `copyValue`. */
function copyEntries<E extends KeyGroupEntries>(entries: E, copyValue: (stored: unknown) => unknown): E {
  if (entries instanceof Map) {
    const out = new Map<unknown, unknown>();
    for (const [k, v] of entries) out.set(cloneValue(k), copyValue(v));
    return out as E;
  }
  return entries.map(([k, v]) => [cloneValue(k), copyValue(v)]) as E;
}
