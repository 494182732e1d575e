// In-memory snapshot shapes: what a backend hands over at a snapshot and takes back at a restore.
// Checkpoint storage serializes these; the operator harness passes them around as they are.
import type { StateKind } from './descriptors.js';
import type { StoredFormat } from './state-schema.js';

export interface KeyedStateSnapshot {
  maxParallelism: number;
  states: Array<{
    name: string;
    kind: StateKind;
    /** How the values are stored (default: weir-cbor, version 1): see state-schema.ts. */
    format?: StoredFormat;
    /** Only non-empty key groups; entries are [state key, value] with the key as stored. */
    keyGroups: Array<{ keyGroup: number; entries: Array<[unknown, unknown]> }>;
  }>;
}

/** How operator list state is redistributed when parallelism changes (ARCHITECTURE.md §6). */
export type OperatorStateMode = 'split' | 'union' | 'broadcast';

export interface OperatorStateSnapshot {
  states: Array<{ name: string; mode: OperatorStateMode; entries: unknown[]; format?: StoredFormat }>;
}
