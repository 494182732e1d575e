// The state handles user functions read and write. Keyed handles are scoped to the key of the
// record (or timer) being processed; operator list state belongs to the subtask.

export interface ValueState<T> {
  /** The value for the current key, or the descriptor's default when there is none. */
  value(): T | undefined;
  /** Sets the value for the current key; `undefined` clears it. */
  update(value: T | undefined): void;
  clear(): void;
}

export interface ListState<T> {
  /** The current list. Treat it as read-only: change it through add/addAll/update. */
  get(): readonly T[];
  add(value: T): void;
  addAll(values: Iterable<T>): void;
  update(values: Iterable<T>): void;
  clear(): void;
}

export interface MapState<UK, UV> {
  get(key: UK): UV | undefined;
  put(key: UK, value: UV): void;
  putAll(entries: Iterable<readonly [UK, UV]>): void;
  remove(key: UK): void;
  contains(key: UK): boolean;
  entries(): IterableIterator<[UK, UV]>;
  keys(): IterableIterator<UK>;
  values(): IterableIterator<UV>;
  isEmpty(): boolean;
  clear(): void;
}

export interface ReducingState<T> {
  get(): T | undefined;
  add(value: T): void;
  clear(): void;
}

export interface AggregatingState<IN, OUT> {
  get(): OUT | undefined;
  add(value: IN): void;
  clear(): void;
}

export class StateAccessError extends Error {
  override readonly name = 'StateAccessError';
}
