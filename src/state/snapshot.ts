// In-memory snapshot shapes: what a backend hands over at a snapshot and takes back at a restore.
// Checkpoint storage serializes these; the operator harness passes them around as they are.
import type { StateKind } from './descriptors.js';
import type { StoredFormat } from './state-schema.js';

/**
 * One key group's entries of one state: [state key, value] pairs, or (what a restore decodes) a
 * Map from state key to value, which the backend restoring it without a copy adopts as the key
 * group's own map instead of inserting every entry again.
 */
export type KeyGroupEntries = Array<[unknown, unknown]> | Map<unknown, unknown>;

/**
 * One key group of restored keyed state, still the bytes its snapshot file holds (checked against
 * their checksum when read). A restore hands these over instead of decoded maps, so a job runs as
 * soon as its state is read; the group is decoded when a record, a timer or a snapshot first
 * needs it, or in the background (see HeapKeyedStateBackend.mergeStep).
 */
export interface EncodedKeyGroup {
  readonly keyGroup: number;
  /**
   * The map of state `name` in this key group (undefined: no entries). The first call decodes the
   * group, every state in it at once; later calls return the same maps. Throws when the bytes do
   * not decode (the message names the file and the key group).
   */
  mapOf(name: string): Map<unknown, unknown> | undefined;
}

export interface KeyedStateSnapshot {
  maxParallelism: number;
  /**
   * Key groups not decoded yet, each holding entries of any of `states` (whose own `keyGroups`
   * then hold none of those groups). Only a restore that adopts the snapshot (no copy) keeps
   * them encoded.
   */
  encoded?: EncodedKeyGroup[];
  states: Array<{
    name: string;
    kind: StateKind;
    /** How the values are stored (default: weir-cbor, version 1): see state-schema.ts. */
    format?: StoredFormat;
    /** Only non-empty key groups; the keys are state keys (see state-key.ts). */
    keyGroups: Array<{ keyGroup: number; entries: KeyGroupEntries }>;
    /**
     * In a snapshot taken in memory (never one read from a file): how to copy a stored value of
     * this state, through its serializer when it has one, for a restore that copies.
     */
    copyValue?: (stored: unknown) => unknown;
  }>;
}

/** How operator list state is redistributed when parallelism changes (ARCHITECTURE.md §6). */
export type OperatorStateMode = 'split' | 'union' | 'broadcast';

export interface OperatorStateSnapshot {
  states: Array<{ name: string; mode: OperatorStateMode; entries: unknown[]; format?: StoredFormat }>;
}
