// Operator (non-keyed) state: list state and broadcast state per subtask. On a rescale, 'split'
// lists are divided among the new subtasks, 'union' lists are given whole to every subtask, and
// broadcast state (the same on every subtask by contract) is given to every subtask as subtask 0
// had it.
import type { ListStateDescriptor, MapStateDescriptor, StateDescriptor } from './descriptors.js';
import { cloneValue } from './clone-value.js';
import { DEFAULT_FORMAT, formatOf, restoreUnit, serializeUnit } from './state-schema.js';
import type { OperatorStateMode, OperatorStateSnapshot } from './snapshot.js';
import { StateAccessError, type ListState, type MapState } from './state.js';
import { fromStateKey, toStateKey } from './state-key.js';

class OperatorListState<T> implements ListState<T> {
  items: T[] = [];
  constructor(
    readonly mode: OperatorStateMode,
    readonly descriptor: StateDescriptor,
  ) {}
  get(): readonly T[] {
    return this.items;
  }
  add(value: T): void {
    this.items.push(value);
  }
  addAll(values: Iterable<T>): void {
    for (const v of values) this.items.push(v);
  }
  update(values: Iterable<T>): void {
    this.items = [...values];
  }
  clear(): void {
    this.items = [];
  }
}

/**
 * A map per subtask that every subtask must keep identical (fed by a broadcast() stream, so each
 * sees the same records). Snapshotted as a list of [key, value] pairs.
 */
class BroadcastMapState<UK, UV> implements MapState<UK, UV> {
  readonly mode = 'broadcast' as const;
  map = new Map<unknown, UV>();
  constructor(readonly descriptor: StateDescriptor) {}
  get(key: UK): UV | undefined {
    return this.map.get(toStateKey(key));
  }
  put(key: UK, value: UV): void {
    this.map.set(toStateKey(key), value);
  }
  putAll(entries: Iterable<readonly [UK, UV]>): void {
    for (const [k, v] of entries) this.map.set(toStateKey(k), v);
  }
  remove(key: UK): void {
    this.map.delete(toStateKey(key));
  }
  contains(key: UK): boolean {
    return this.map.has(toStateKey(key));
  }
  *entries(): IterableIterator<[UK, UV]> {
    for (const [k, v] of this.map) yield [fromStateKey(k) as UK, v];
  }
  *keys(): IterableIterator<UK> {
    for (const k of this.map.keys()) yield fromStateKey(k) as UK;
  }
  values(): IterableIterator<UV> {
    return this.map.values();
  }
  isEmpty(): boolean {
    return this.map.size === 0;
  }
  clear(): void {
    this.map.clear();
  }
  toEntries(unit: (u: unknown) => unknown): Array<[unknown, unknown]> {
    return [...this.map].map(([k, v]) => [fromStateKey(k), unit(v)]);
  }
  load(entries: readonly unknown[], name: string, unit: (u: unknown) => unknown): void {
    for (const e of entries) {
      if (!Array.isArray(e) || e.length !== 2)
        throw new StateAccessError(
          `broadcast state '${name}' in the snapshot is not a list of [key, value] pairs`,
        );
      this.map.set(toStateKey(e[0]), unit(e[1]) as UV);
    }
  }
}

type Registered = OperatorListState<unknown> | BroadcastMapState<unknown, unknown>;

export class OperatorStateStore {
  private readonly states = new Map<string, Registered>();
  private restored: OperatorStateSnapshot | undefined;
  /** Names the operator in messages (set by the runtime). */
  owner = 'this operator';

  /** True when this subtask was started from a snapshot (even one that gave it no entries). */
  get isRestored(): boolean {
    return this.restored !== undefined;
  }

  /** List state redistributed by even split on rescale (positions, buffers). */
  getListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.get(descriptor, 'split');
  }

  /** List state of which every subtask receives the union of all subtasks' lists on restore. */
  getUnionListState<T>(descriptor: ListStateDescriptor<T>): ListState<T> {
    return this.get(descriptor, 'union');
  }

  /**
   * Broadcast state: a map that every subtask keeps identical, typically filled from a
   * broadcast() stream (rules, configuration). On restore at any parallelism every subtask gets
   * the map as subtask 0 had it.
   * @example
   * const rules = ctx.operatorStateStore.getBroadcastState(new MapStateDescriptor<string, Rule>('rules'));
   */
  getBroadcastState<UK, UV>(descriptor: MapStateDescriptor<UK, UV>): MapState<UK, UV> {
    const s = this.registered(
      descriptor,
      'broadcast',
      () => new BroadcastMapState<unknown, unknown>(descriptor),
    );
    return s as unknown as MapState<UK, UV>;
  }

  private get<T>(d: ListStateDescriptor<T>, mode: 'split' | 'union'): ListState<T> {
    return this.registered(d, mode, () => new OperatorListState<unknown>(mode, d)) as ListState<T>;
  }

  private registered(d: StateDescriptor, mode: OperatorStateMode, create: () => Registered): Registered {
    const name = d.name;
    let s = this.states.get(name);
    if (s === undefined) {
      s = create();
      const old = this.restored?.states.find((x) => x.name === name);
      if (old !== undefined) {
        if (old.mode !== mode)
          throw new StateAccessError(
            `operator state '${name}' was ${describeMode(old.mode)} in the snapshot and cannot be restored as ${describeMode(mode)}; give the new state another name`,
          );
        const upgrade = restoreUnit(d, old.format ?? DEFAULT_FORMAT, this.owner) ?? ((u: unknown) => u);
        if (s instanceof BroadcastMapState) s.load(cloneValue(old.entries), name, upgrade);
        else s.items = cloneValue(old.entries).map(upgrade);
      }
      this.states.set(name, s);
    } else if (s.mode !== mode) {
      throw new StateAccessError(
        `operator state '${name}' is already registered as ${describeMode(s.mode)}, not ${describeMode(mode)}`,
      );
    }
    return s;
  }

  /** Registers the (already redistributed) state this subtask restores from. Call before use. */
  restore(snapshot: OperatorStateSnapshot): void {
    this.restored = snapshot;
  }

  snapshot(): OperatorStateSnapshot {
    const states: OperatorStateSnapshot['states'] = [];
    for (const [name, s] of this.states) {
      // Serialized here (operator state is small): the entries then are what the file holds.
      const serialize = serializeUnit(s.descriptor.serializer);
      const unit = serialize ?? ((u: unknown) => u);
      const entries = s instanceof BroadcastMapState ? s.toEntries(unit) : s.items.map(unit);
      states.push({
        name,
        mode: s.mode,
        entries: serialize === undefined ? cloneValue(entries) : entries,
        format: formatOf(s.descriptor),
      });
    }
    // State restored but not (yet) registered again by this version of the function is kept.
    for (const old of this.restored?.states ?? [])
      if (!this.states.has(old.name)) states.push(cloneValue(old));
    return { states };
  }
}

function describeMode(mode: OperatorStateMode): string {
  return mode === 'broadcast' ? 'broadcast state' : `${mode} list state`;
}
