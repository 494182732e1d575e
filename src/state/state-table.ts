// Keyed state of one state name on one subtask: a Map per owned key group, so a snapshot can be
// written (and later read back at another parallelism) key group by key group.
//
// Copy-on-write for asynchronous snapshots: `freeze()` hands the current maps to a snapshot in
// O(key groups) and from then on every write goes to an overlay map of the same key group (with
// TOMBSTONE for deletions), so the snapshot can be serialized while records keep changing state.
// Values read from a frozen map that may be mutated in place (objects) are copied into the
// overlay first. After `unfreeze()` the overlay is folded back into the maps a little at a time
// (`mergeStep`), so no single step pays for everything written during the snapshot.
import type { KeyGroupRange } from './key-group.js';

export const TOMBSTONE: unique symbol = Symbol('weir.deleted');

type GroupMap = Map<unknown, unknown>;

export class StateTable {
  /** Indexed by key group − range.start; a group's Map is created on its first write. */
  readonly maps: Array<GroupMap | undefined>;
  /** Writes made while a snapshot holds `maps`, or not yet merged back; undefined otherwise. */
  overlay: Array<GroupMap | undefined> | undefined;
  /** True while a snapshot may read `maps`: nothing may change them. */
  frozen = false;
  private mergeCursor = 0;
  /** Per key group: TOMBSTONE entries in the overlay (an upper bound), so merges can skip looking for them. */
  private readonly tombstones: number[];

  constructor(readonly range: KeyGroupRange) {
    this.maps = new Array<GroupMap | undefined>(range.size).fill(undefined);
    this.tombstones = new Array<number>(range.size).fill(0);
  }

  /** The map a write to this key group goes to. */
  mapFor(kgIndex: number): GroupMap {
    const ov = this.overlay;
    if (ov !== undefined && (this.frozen || ov[kgIndex] !== undefined)) {
      let m = ov[kgIndex];
      if (m === undefined) {
        m = new Map();
        ov[kgIndex] = m;
      }
      return m;
    }
    let m = this.maps[kgIndex];
    if (m === undefined) {
      m = new Map();
      this.maps[kgIndex] = m;
    }
    return m;
  }

  /** Reads through the overlay; a mutable value of a frozen map is copied so it can be changed. */
  get(kgIndex: number, stateKey: unknown): unknown {
    const ov = this.overlay;
    if (ov === undefined) return this.maps[kgIndex]?.get(stateKey);
    const o = ov[kgIndex];
    if (o !== undefined) {
      const v = o.get(stateKey);
      if (v === TOMBSTONE) return undefined;
      if (v !== undefined) return v;
    }
    const base = this.maps[kgIndex]?.get(stateKey);
    if (base === undefined || typeof base !== 'object' || base === null || !this.frozen) return base;
    const copy = structuredClone(base);
    this.mapFor(kgIndex).set(stateKey, copy);
    return copy;
  }

  set(kgIndex: number, stateKey: unknown, value: unknown): void {
    this.mapFor(kgIndex).set(stateKey, value);
  }

  delete(kgIndex: number, stateKey: unknown): void {
    const ov = this.overlay;
    if (ov !== undefined && this.frozen) {
      if (this.maps[kgIndex]?.has(stateKey) === true) {
        this.mapFor(kgIndex).set(stateKey, TOMBSTONE);
        this.tombstones[kgIndex]!++;
      } else ov[kgIndex]?.delete(stateKey);
      return;
    }
    ov?.[kgIndex]?.delete(stateKey);
    this.maps[kgIndex]?.delete(stateKey);
  }

  /** Hands the current maps to a snapshot: O(key groups). Folds in any overlay left first. */
  freeze(): ReadonlyArray<GroupMap | undefined> {
    if (this.overlay !== undefined) this.mergeAll();
    this.frozen = true;
    this.overlay = new Array<GroupMap | undefined>(this.maps.length).fill(undefined);
    this.mergeCursor = 0;
    return this.maps.slice();
  }

  /** The snapshot is done with the maps; the overlay is merged back by later `mergeStep`s. */
  unfreeze(): void {
    this.frozen = false;
  }

  /** Merges overlay key groups back until about `budget` entries were moved; true when done. */
  mergeStep(budget: number): boolean {
    const ov = this.overlay;
    if (ov === undefined) return true;
    if (this.frozen) return false;
    let moved = 0;
    while (this.mergeCursor < ov.length && moved < budget) {
      const i = this.mergeCursor++;
      const o = ov[i];
      if (o === undefined) continue;
      const base = this.maps[i];
      if (base === undefined || base.size === 0) {
        for (const [k, v] of o) if (v === TOMBSTONE) o.delete(k);
        this.maps[i] = o;
      } else if (o.size * 2 >= base.size) {
        // Most keys were written during the snapshot: carry the few untouched ones over to the
        // overlay and let it become the group's map, instead of copying the many the other way.
        for (const [k, v] of base) if (!o.has(k)) o.set(k, v);
        if (this.tombstones[i]! > 0) for (const [k, v] of o) if (v === TOMBSTONE) o.delete(k);
        this.maps[i] = o;
      } else {
        for (const [k, v] of o) {
          if (v === TOMBSTONE) base.delete(k);
          else base.set(k, v);
        }
      }
      this.tombstones[i] = 0;
      moved += o.size;
      ov[i] = undefined;
    }
    if (this.mergeCursor >= ov.length) {
      this.overlay = undefined;
      return true;
    }
    return false;
  }

  private mergeAll(): void {
    this.frozen = false;
    this.mergeStep(Number.POSITIVE_INFINITY);
  }

  /** Every live (key, value) of one key group, through the overlay. */
  *groupEntries(kgIndex: number): IterableIterator<[unknown, unknown]> {
    const o = this.overlay?.[kgIndex];
    const base = this.maps[kgIndex];
    if (base !== undefined) {
      for (const e of base) {
        if (o === undefined || !o.has(e[0])) yield e;
      }
    }
    if (o !== undefined) for (const e of o) if (e[1] !== TOMBSTONE) yield e;
  }

  /** Number of keys with a value, over all key groups. */
  get size(): number {
    let n = 0;
    for (let i = 0; i < this.maps.length; i++) for (const _ of this.groupEntries(i)) n++;
    return n;
  }
}
