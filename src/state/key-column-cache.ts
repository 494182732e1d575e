// The encoded key column of each key group of one state, kept from one snapshot to the next.
//
// A keyed state file lists a key group's keys before its values (format: state-serialization.ts),
// and between two checkpoints most key groups keep the same keys while their values change. A
// snapshot that finds a group's map holding exactly the keys of the kept column, in the same
// order, copies the column's bytes instead of encoding every key again: checking costs one
// identity comparison per key, encoding a string key costs a loop over its characters.
//
// A column is used when the map's keys, in iteration order, are the very keys it was encoded
// from: known without looking when the map is the same object and its table recorded no removal
// since (StateTable.removals; then the column's keys are the map's first keys, and keys added
// since are encoded after the copied bytes), else checked key by key. The memory is bounded:
// past `budget` bytes a group's column is not kept (its keys are encoded each time).

/** The key column of one key group as last written. */
export interface KeyColumn {
  /** The state keys, in the map's iteration order when the column was encoded. */
  readonly keys: readonly unknown[];
  /** Their encoding: `keys.length` items, back to back. */
  readonly bytes: Uint8Array;
  /** The captured map they were found in, and its table's `removals` then (see `prefixOf`). */
  readonly map?: ReadonlyMap<unknown, unknown> | undefined;
  readonly removals?: number | undefined;
}

/**
 * Under tests (WEIR_CHECK_KEY_COLUMNS=1) every column `prefixOf` trusts is checked key by key, so
 * a change of a map that its table did not record fails the test that made it.
 */
const CHECK = process.env['WEIR_CHECK_KEY_COLUMNS'] === '1';

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
   * that the map holds exactly these keys in this order (then it tells `found`).
   */
  get(kgIndex: number, size: number): KeyColumn | undefined {
    const c = this.columns[kgIndex];
    return c !== undefined && c.keys.length === size ? c : undefined;
  }

  /**
   * Key group `kgIndex`'s column when its keys are known, without looking, to be the first keys
   * of `map`: the column was found in this very map, and `removals` (the table's count for the
   * group when `map` was captured) did not change since. `map` may hold more keys, added since.
   */
  prefixOf(
    kgIndex: number,
    map: ReadonlyMap<unknown, unknown>,
    removals: number | undefined,
  ): KeyColumn | undefined {
    const c = this.columns[kgIndex];
    if (c === undefined || removals === undefined || c.map !== map || c.removals !== removals)
      return undefined;
    if (c.keys.length > map.size) return undefined;
    if (CHECK) {
      const keys = c.keys;
      let i = 0;
      for (const k of map.keys()) {
        if (i === keys.length) break;
        if (k !== keys[i++])
          throw new Error(
            `internal: the kept key column of key group index ${kgIndex} is not a prefix of its map`,
          );
      }
    }
    return c;
  }

  /** Records that key group `kgIndex`'s column `c` was found, key by key, to be `map`'s keys. */
  found(
    kgIndex: number,
    c: KeyColumn,
    map: ReadonlyMap<unknown, unknown>,
    removals: number | undefined,
  ): void {
    if (this.columns[kgIndex] === c && removals !== undefined)
      this.columns[kgIndex] = { keys: c.keys, bytes: c.bytes, map, removals };
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
