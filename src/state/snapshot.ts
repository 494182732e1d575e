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

export interface KeyedStateSnapshot {
  maxParallelism: number;
  states: Array<{
    name: string;
    kind: StateKind;
    /** How the values are stored (default: weir-cbor, version 1): see state-schema.ts. */
    format?: StoredFormat;
    /** Only non-empty key groups; the keys are state keys (see state-key.ts). */
    keyGroups: Array<{ keyGroup: number; entries: KeyGroupEntries }>;
  }>;
}

/** How operator list state is redistributed when parallelism changes (ARCHITECTURE.md §6). */
export type OperatorStateMode = 'split' | 'union' | 'broadcast';

export interface OperatorStateSnapshot {
  states: Array<{ name: string; mode: OperatorStateMode; entries: unknown[]; format?: StoredFormat }>;
}
