// Operator (non-keyed) state: list state per subtask. On a rescale, 'split' lists are divided
// among the new subtasks and 'union' lists are given whole to every subtask.
import type { ListStateDescriptor } from './descriptors.js';
import type { OperatorStateMode, OperatorStateSnapshot } from './snapshot.js';
import { StateAccessError, type ListState } from './state.js';

class OperatorListState<T> implements ListState<T> {
  items: T[] = [];
  constructor(readonly mode: OperatorStateMode) {}
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

export class OperatorStateStore {
  private readonly states = new Map<string, OperatorListState<unknown>>();
  private restored: OperatorStateSnapshot | undefined;

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

  private get<T>(d: ListStateDescriptor<T>, mode: OperatorStateMode): ListState<T> {
    let s = this.states.get(d.name);
    if (s === undefined) {
      s = new OperatorListState<unknown>(mode);
      const old = this.restored?.states.find((x) => x.name === d.name);
      if (old !== undefined) s.items = structuredClone(old.entries);
      this.states.set(d.name, s);
    } else if (s.mode !== mode) {
      throw new StateAccessError(
        `operator state '${d.name}' is already registered as ${s.mode} list state, not ${mode}`,
      );
    }
    return s as ListState<T>;
  }

  /** Registers the (already redistributed) state this subtask restores from. Call before use. */
  restore(snapshot: OperatorStateSnapshot): void {
    this.restored = snapshot;
  }

  snapshot(): OperatorStateSnapshot {
    const states: OperatorStateSnapshot['states'] = [];
    for (const [name, s] of this.states)
      states.push({ name, mode: s.mode, entries: structuredClone(s.items) });
    // State restored but not (yet) registered again by this version of the function is kept.
    for (const old of this.restored?.states ?? [])
      if (!this.states.has(old.name)) states.push(structuredClone(old));
    return { states };
  }
}
