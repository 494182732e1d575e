// Keyed state of one state name on one subtask: a Map per owned key group, so a snapshot can be
// written (and later read back at another parallelism) key group by key group.
import type { KeyGroupRange } from './key-group.js';

export class StateTable {
  /** Indexed by key group − range.start; a group's Map is created on its first write. */
  readonly maps: Array<Map<unknown, unknown> | undefined>;

  constructor(readonly range: KeyGroupRange) {
    this.maps = new Array<Map<unknown, unknown> | undefined>(range.size).fill(undefined);
  }

  mapFor(kgIndex: number): Map<unknown, unknown> {
    let m = this.maps[kgIndex];
    if (m === undefined) {
      m = new Map();
      this.maps[kgIndex] = m;
    }
    return m;
  }

  /** Number of keys with a value, over all key groups. */
  get size(): number {
    let n = 0;
    for (const m of this.maps) if (m !== undefined) n += m.size;
    return n;
  }
}
