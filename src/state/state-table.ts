// Keyed state of one state name on one subtask: a Map per owned key group, so a snapshot can be
// written (and later read back at another parallelism) key group by key group.
//
// Copy-on-write for asynchronous snapshots: `freeze()` hands the current maps to a snapshot in
// O(key groups) and from then on every write goes to an overlay map of the same key group (with
// TOMBSTONE for deletions), so the snapshot can be serialized while records keep changing state.
// Values read from a frozen map that may be mutated in place (objects) are copied into the
// overlay first. After `unfreeze()` the overlay is folded back into the maps a little at a time
// (`mergeStep`), so no single step pays for everything written during the snapshot.
//
// A snapshot writer that encodes key group by key group can hand each group back as soon as it
// is encoded (`adoptCapture`, `releaseCapturedGroup`, `releaseCapture`): its overlay is merged at
// once and writes go to the map again, so the copy-on-write window of a key group ends when the
// group is written, not when the whole snapshot is. Captures may overlap (a savepoint while a
// checkpoint is being written): a key group's map stays unchanged while any capture needs it.
//
// A restore may leave key groups encoded (`defer`, see EncodedKeyGroup): such a group is decoded
// before anything reads or writes it, so every path below sees its map. A capture takes the
// encoded groups along (`encodedGroups`): a group still encoded then was not changed since the
// restore, so its bytes are what the snapshot must hold.
import type { KeyGroupRange } from './key-group.js';
import type { EncodedKeyGroup } from './snapshot.js';
import { cloneValue } from './clone-value.js';
import { KeyColumnCache } from './key-column-cache.js';

export const TOMBSTONE: unique symbol = Symbol('weir.deleted');

type GroupMap = Map<unknown, unknown>;

/** One capture's hold on a table: the key groups its reader still needs unchanged. */
interface Claim {
  readonly table: StateTable;
  /** Per key group: 1 while the capture still needs it. */
  readonly needed: Uint8Array;
  /** Ended by its writer with `releaseCapture` (never by an anonymous `unfreeze`). */
  adopted: boolean;
  open: boolean;
}

const CLAIM: unique symbol = Symbol('weir.stateTableClaim');

type CapturedMaps = ReadonlyArray<GroupMap | undefined> & { readonly [CLAIM]?: Claim };

function claimOf(maps: ReadonlyArray<GroupMap | undefined>): Claim | undefined {
  return (maps as CapturedMaps)[CLAIM];
}

/**
 * Marks the capture that `freeze()` returned `maps` for as read by a writer that hands key
 * groups back with `releaseCapturedGroup` and ends it with `releaseCapture`. Call it right after
 * the capture, before anything can await. A no-op for maps that did not come from `freeze()`.
 */
export function adoptCapture(maps: ReadonlyArray<GroupMap | undefined>): void {
  const c = claimOf(maps);
  if (c !== undefined && c.open) c.adopted = true;
}

/** The adopted capture's writer is done with key group `kgIndex`: it may change again. */
export function releaseCapturedGroup(maps: ReadonlyArray<GroupMap | undefined>, kgIndex: number): void {
  const c = claimOf(maps);
  if (c !== undefined && c.adopted) c.table.releaseGroup(c, kgIndex);
}

/**
 * Ends an adopted capture. The capture's own `unfreeze()` (its `release()`) must follow at once,
 * and is then a no-op: `unfreeze()` takes no argument, so this is how the table knows which
 * capture ended.
 */
export function releaseCapture(maps: ReadonlyArray<GroupMap | undefined>): void {
  const c = claimOf(maps);
  if (c !== undefined && c.adopted && c.open) c.table.endClaim(c, true);
}

export class StateTable {
  /** Indexed by key group − range.start; a group's Map is created on its first write. */
  readonly maps: Array<GroupMap | undefined>;
  /** Writes made while a snapshot holds `maps`, or not yet merged back; undefined otherwise. */
  overlay: Array<GroupMap | undefined> | undefined;
  /** Per key group: how many open captures still need its map unchanged. */
  private readonly needs: Uint32Array;
  /** Open captures, oldest first. */
  private readonly claims: Claim[] = [];
  /** Captures ended by `releaseCapture` whose `unfreeze()` is still to come. */
  private unfreezesOwed = 0;
  private mergeCursor = 0;
  /** Per key group: TOMBSTONE entries in the overlay (an upper bound), so merges can skip looking for them. */
  private readonly tombstones: number[];
  /** The key columns of the last snapshot written, for the next one to copy (see key-column-cache.ts). */
  readonly keyColumns: KeyColumnCache;
  /**
   * Per key group: changed whenever a key may have left the group's map or the map may have been
   * changed outside this table (a delete, a merge with deletions, a map handed out by `mapFor`).
   * While it stays the same, the keys the same map object held earlier are, in order, the first
   * of the keys it holds now (a Map keeps insertion order and `set` only appends), so a snapshot
   * can copy an earlier key column without comparing it key by key (key-column-cache.ts). A map
   * replaced by another (a merge, a restore) is told apart by its identity.
   */
  readonly removals: Uint32Array;
  /** Per key group: restored entries still encoded (of state `encodedName`); undefined once none is. */
  private encoded: Array<EncodedKeyGroup | undefined> | undefined;
  private encodedLeft = 0;
  private encodedName = '';

  /** Copies a stored value that a frozen map holds, before it may be changed in place (see get). */
  copyValue: (stored: unknown) => unknown = cloneValue;

  constructor(readonly range: KeyGroupRange) {
    this.keyColumns = new KeyColumnCache(range.size);
    this.removals = new Uint32Array(range.size);
    this.maps = new Array<GroupMap | undefined>(range.size).fill(undefined);
    this.needs = new Uint32Array(range.size);
    this.tombstones = new Array<number>(range.size).fill(0);
  }

  /** True while a snapshot may read `maps`. */
  get frozen(): boolean {
    return this.claims.length > 0;
  }

  /**
   * Makes `map` key group `kgIndex`'s map when the group has none and no snapshot holds the
   * table (a restore into an empty table); false, and nothing changed, otherwise. The caller
   * hands `map` over: it must not use it afterwards.
   */
  adoptGroup(kgIndex: number, map: GroupMap): boolean {
    this.decodeGroup(kgIndex);
    if (this.overlay !== undefined || this.maps[kgIndex] !== undefined) return false;
    this.maps[kgIndex] = map;
    return true;
  }

  /**
   * Leaves key group `kgIndex`, empty so far, to be decoded from `group` (state `name`'s entries)
   * when it is first needed; false, and nothing changed, when the group already has entries or a
   * snapshot holds the table.
   */
  defer(kgIndex: number, group: EncodedKeyGroup, name: string): boolean {
    if (this.overlay !== undefined || this.maps[kgIndex] !== undefined) return false;
    if (this.encoded?.[kgIndex] !== undefined) return false;
    this.encoded ??= new Array<EncodedKeyGroup | undefined>(this.maps.length).fill(undefined);
    this.encodedName = name;
    this.encoded[kgIndex] = group;
    this.encodedLeft++;
    return true;
  }

  /** The key groups still encoded, by index (for a capture: see the file comment); undefined when none is. */
  encodedGroups(): ReadonlyArray<EncodedKeyGroup | undefined> | undefined {
    return this.encoded?.slice();
  }

  /** Decodes key group `kgIndex` if it is still encoded. */
  decodeGroup(kgIndex: number): void {
    const e = this.encoded;
    if (e === undefined) return;
    const g = e[kgIndex];
    if (g === undefined) return;
    // Throws when the bytes do not decode; the group stays encoded, so every later use says so too.
    const m = g.mapOf(this.encodedName);
    e[kgIndex] = undefined;
    if (--this.encodedLeft === 0) this.encoded = undefined;
    // Nothing reached the group while it was encoded (every path decodes it first), so it has no map.
    if (m !== undefined) this.maps[kgIndex] = m;
  }

  /** The map a write to this key group goes to, for a caller that may do anything with it. */
  mapFor(kgIndex: number): GroupMap {
    this.removals[kgIndex]!++;
    return this.target(kgIndex);
  }

  /** The map a write to this key group goes to. */
  private target(kgIndex: number): GroupMap {
    this.decodeGroup(kgIndex);
    const ov = this.overlay;
    if (ov !== undefined && (this.needs[kgIndex]! > 0 || ov[kgIndex] !== undefined)) {
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
    if (this.encoded !== undefined) this.decodeGroup(kgIndex);
    const ov = this.overlay;
    if (ov === undefined) return this.maps[kgIndex]?.get(stateKey);
    const o = ov[kgIndex];
    if (o !== undefined) {
      const v = o.get(stateKey);
      if (v === TOMBSTONE) return undefined;
      if (v !== undefined) return v;
    }
    const base = this.maps[kgIndex]?.get(stateKey);
    if (base === undefined || typeof base !== 'object' || base === null || this.needs[kgIndex] === 0)
      return base;
    const copy = this.copyValue(base);
    this.target(kgIndex).set(stateKey, copy);
    return copy;
  }

  set(kgIndex: number, stateKey: unknown, value: unknown): void {
    this.target(kgIndex).set(stateKey, value);
  }

  delete(kgIndex: number, stateKey: unknown): void {
    this.decodeGroup(kgIndex);
    const ov = this.overlay;
    if (ov !== undefined && this.needs[kgIndex]! > 0) {
      if (this.maps[kgIndex]?.has(stateKey) === true) {
        this.target(kgIndex).set(stateKey, TOMBSTONE);
        this.tombstones[kgIndex]!++;
      } else ov[kgIndex]?.delete(stateKey);
      return;
    }
    ov?.[kgIndex]?.delete(stateKey);
    if (this.maps[kgIndex]?.delete(stateKey) === true) this.removals[kgIndex]!++;
  }

  /**
   * Hands the current maps to a snapshot: O(key groups) when no overlay is left from an earlier
   * snapshot. Each `freeze` needs one `unfreeze`.
   */
  freeze(): ReadonlyArray<GroupMap | undefined> {
    if (this.overlay !== undefined) this.foldOverlay();
    const n = this.maps.length;
    const claim: Claim = { table: this, needed: new Uint8Array(n).fill(1), adopted: false, open: true };
    this.claims.push(claim);
    for (let i = 0; i < n; i++) this.needs[i]!++;
    this.overlay = new Array<GroupMap | undefined>(n).fill(undefined);
    this.mergeCursor = 0;
    const out = this.maps.slice();
    Object.defineProperty(out, CLAIM, { value: claim });
    return out;
  }

  /**
   * A snapshot is done with the maps; once none needs them, later `mergeStep`s merge the overlay
   * back. Ends the oldest capture that no writer adopted (those are interchangeable: each still
   * needs every key group), unless it follows a `releaseCapture`.
   */
  unfreeze(): void {
    if (this.unfreezesOwed > 0) {
      this.unfreezesOwed--;
      return;
    }
    const c = this.claims.find((x) => !x.adopted);
    if (c !== undefined) this.endClaim(c, false);
  }

  /** @internal — through `releaseCapturedGroup`. */
  releaseGroup(claim: Claim, i: number): void {
    if (!claim.open || claim.needed[i] === 0) return;
    claim.needed[i] = 0;
    if (--this.needs[i]! > 0) return;
    const ov = this.overlay;
    const o = ov?.[i];
    if (o === undefined) return;
    this.mergeGroup(i, o, false);
    ov![i] = undefined;
  }

  /** @internal — through `releaseCapture` (explicit) or `unfreeze`. */
  endClaim(claim: Claim, explicit: boolean): void {
    const needed = claim.needed;
    for (let i = 0; i < needed.length; i++) {
      if (needed[i] === 0) continue;
      needed[i] = 0;
      this.needs[i]!--;
    }
    claim.open = false;
    this.claims.splice(this.claims.indexOf(claim), 1);
    if (explicit) this.unfreezesOwed++;
  }

  /** Merges overlay key groups back until about `budget` entries were moved; true when done. */
  mergeStep(budget: number): boolean {
    const ov = this.overlay;
    if (ov === undefined) return true;
    if (this.claims.length > 0) return false;
    let moved = 0;
    while (this.mergeCursor < ov.length && moved < budget) {
      const i = this.mergeCursor++;
      const o = ov[i];
      if (o === undefined) continue;
      this.mergeGroup(i, o, false);
      moved += o.size;
      ov[i] = undefined;
    }
    if (this.mergeCursor >= ov.length) {
      this.overlay = undefined;
      return true;
    }
    return false;
  }

  /**
   * Folds key group `i`'s overlay `o` into its map. With `keepBase` (a capture may still read
   * the map) the map is not changed: the overlay, completed with the untouched entries, replaces
   * it; otherwise whichever is cheaper.
   */
  private mergeGroup(i: number, o: GroupMap, keepBase: boolean): void {
    const base = this.maps[i];
    // Deletions from the map are recorded as removals (see `removals`); setting the overlay's
    // entries into it only appends keys or changes values, and a replaced map is another object.
    if (base === undefined || base.size === 0) {
      if (this.tombstones[i]! > 0) for (const [k, v] of o) if (v === TOMBSTONE) o.delete(k);
      this.maps[i] = o;
    } else if (keepBase || o.size * 2 >= base.size) {
      // Most keys were written during the snapshot: carry the few untouched ones over to the
      // overlay and let it become the group's map, instead of copying the many the other way.
      for (const [k, v] of base) if (!o.has(k)) o.set(k, v);
      if (this.tombstones[i]! > 0) for (const [k, v] of o) if (v === TOMBSTONE) o.delete(k);
      this.maps[i] = o;
    } else {
      if (this.tombstones[i]! > 0) this.removals[i]!++;
      for (const [k, v] of o) {
        if (v === TOMBSTONE) base.delete(k);
        else base.set(k, v);
      }
    }
    this.tombstones[i] = 0;
  }

  /** Before a new capture: every overlay group folded into the maps, without changing a map a capture needs. */
  private foldOverlay(): void {
    const ov = this.overlay!;
    for (let i = 0; i < ov.length; i++) {
      const o = ov[i];
      if (o === undefined) continue;
      this.mergeGroup(i, o, this.needs[i]! > 0);
      ov[i] = undefined;
    }
    this.overlay = undefined;
  }

  /** Every live (key, value) of one key group, through the overlay. */
  *groupEntries(kgIndex: number): IterableIterator<[unknown, unknown]> {
    this.decodeGroup(kgIndex);
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
