// The encoded key column of each key group of one state, kept from one snapshot to the next.
//
// A keyed state file lists a key group's keys before its values (format: state-serialization.ts),
// and between two checkpoints most key groups keep the same keys while their values change. A
// snapshot that finds a group's map holding exactly the keys of the kept column, in the same
// order, copies the column's bytes instead of encoding every key again: checking costs one
// identity comparison per key, encoding a string key costs a loop over its characters.
//
// Correctness does not depend on how the map changed in between: the column is used only when
// the map's keys, in iteration order, are the very keys the column was encoded from. The memory
// is bounded: past `budget` bytes a group's column is not kept (its keys are encoded each time).

/** The key column of one key group as last written. */
export interface KeyColumn {
  /** The state keys, in the map's iteration order when the column was encoded. */
  readonly keys: readonly unknown[];
  /** Their encoding: `keys.length` items, back to back. */
  readonly bytes: Uint8Array;
}

/** Bytes of kept columns per state and subtask, at most (a reference to a key counts 8). */
export const KEY_COLUMN_BUDGET = 64 << 20;

export class KeyColumnCache {
  private readonly columns: Array<KeyColumn | undefined>;
  private used = 0;

  constructor(
    groups: number,
    private readonly budget = KEY_COLUMN_BUDGET,
  ) {
    this.columns = new Array<KeyColumn | undefined>(groups).fill(undefined);
  }

  /** Bytes held now. */
  get size(): number {
    return this.used;
  }

  /**
   * Key group `kgIndex`'s column if it has `size` keys. The caller uses it only after checking
   * that the map holds exactly these keys in this order (state-serialization.ts scans the map
   * once for that and for its values).
   */
  get(kgIndex: number, size: number): KeyColumn | undefined {
    const c = this.columns[kgIndex];
    return c !== undefined && c.keys.length === size ? c : undefined;
  }

  /** Key group `kgIndex`'s column when `map` holds exactly its keys, in its order; else undefined. */
  match(kgIndex: number, map: ReadonlyMap<unknown, unknown>): KeyColumn | undefined {
    const c = this.get(kgIndex, map.size);
    if (c === undefined) return undefined;
    const keys = c.keys;
    let i = 0;
    for (const k of map.keys()) if (k !== keys[i++]) return undefined;
    return c;
  }

  /** Whether a column of `keys` keys for key group `kgIndex` may fit (so is worth building). */
  wants(kgIndex: number, keys: number): boolean {
    const old = this.columns[kgIndex];
    return this.used - (old === undefined ? 0 : costOf(old)) + 9 * keys <= this.budget;
  }

  /** Keeps `column` for key group `kgIndex` (replacing what was kept), unless it exceeds the budget. */
  keep(kgIndex: number, column: KeyColumn): void {
    this.drop(kgIndex);
    const cost = costOf(column);
    if (this.used + cost > this.budget) return;
    this.columns[kgIndex] = column;
    this.used += cost;
  }

  drop(kgIndex: number): void {
    const old = this.columns[kgIndex];
    if (old === undefined) return;
    this.columns[kgIndex] = undefined;
    this.used -= costOf(old);
  }
}

function costOf(c: KeyColumn): number {
  return c.bytes.length + 8 * c.keys.length;
}
