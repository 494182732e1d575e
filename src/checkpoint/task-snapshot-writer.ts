// The asynchronous part of one task's snapshot (ARCHITECTURE.md §4 step 4–5): writes each
// operator's captured keyed state and operator state to state files of the snapshot's folder,
// waits for the operators' own pre-commit work, and describes the result for `_metadata`.
import type { OperatorSnapshotParts } from '../runtime/stream-operator.js';
import type { KeyGroupRange } from '../state/key-group.js';
import type { CheckpointStorage, SnapshotLocation } from '../storage/checkpoint-storage.js';
import type { StateFileInfo } from '../storage/state-file.js';
import { STATE_FILE_KEYED, STATE_FILE_OPERATOR } from '../storage/state-file.js';
import type { StateHandle, SubtaskStateEntry } from '../storage/metadata.js';
import { writeKeyedState, writeOperatorState } from './state-serialization.js';
import { DEFAULT_FORMAT } from '../state/state-schema.js';

/** What one operator subtask wrote for a snapshot. */
export interface OperatorSubtaskHandles {
  readonly operatorId: string;
  readonly subtaskIndex: number;
  readonly keyGroups: readonly [number, number] | null;
  readonly keyed: StateHandle | null;
  readonly operator: StateHandle | null;
  readonly states: SubtaskStateEntry[];
  readonly bytes: number;
}

export function toHandle(info: StateFileInfo): StateHandle {
  return {
    path: info.path,
    size: info.size,
    crc32: info.crc32,
    sections: info.sections.map(
      (s) => [s.id, s.offset, s.length, s.crc32] as [number, number, number, number],
    ),
  };
}

/**
 * Writes the parts of one task's snapshot. Always releases the keyed captures, also on failure,
 * so the backend's copy-on-write overlay can be merged back.
 */
export async function writeTaskSnapshot(
  storage: CheckpointStorage | undefined,
  location: SnapshotLocation | undefined,
  subtaskIndex: number,
  ranges: ReadonlyArray<KeyGroupRange | undefined>,
  parts: readonly OperatorSnapshotParts[],
): Promise<OperatorSubtaskHandles[]> {
  const out: OperatorSubtaskHandles[] = [];
  // Handled now, awaited below: a pre-commit failing while state is being written is not "unhandled".
  for (const p of parts) p.pending?.catch(() => undefined);
  try {
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const range = ranges[i];
      const states: SubtaskStateEntry[] = [];
      let keyed: StateHandle | null = null;
      let operator: StateHandle | null = null;
      let bytes = 0;
      const prefix = `op-${part.operatorId.slice(0, 8)}-${subtaskIndex}`;
      if (storage !== undefined && location !== undefined) {
        if (part.keyed !== undefined && part.keyed.states.length > 0) {
          const file = await storage.createStateFile(location, `${prefix}-keyed.state`, STATE_FILE_KEYED);
          try {
            const counts = await writeKeyedState(part.keyed, file);
            const info = await file.close();
            keyed = toHandle(info);
            bytes += info.size;
            for (const c of counts)
              states.push({
                name: c.name,
                kind: c.kind,
                scope: 'keyed',
                entries: c.entries,
                serializer: c.format.serializer,
                version: c.format.version,
              });
          } catch (e) {
            await file.abort().catch(() => undefined);
            throw e;
          }
        }
        part.keyed?.release();
        if (part.operator.states.length > 0) {
          const file = await storage.createStateFile(
            location,
            `${prefix}-operator.state`,
            STATE_FILE_OPERATOR,
          );
          try {
            await writeOperatorState(part.operator, file);
            const info = await file.close();
            operator = toHandle(info);
            bytes += info.size;
            for (const s of part.operator.states)
              states.push({
                name: s.name,
                kind: s.mode === 'broadcast' ? 'map' : 'list',
                scope: 'operator',
                mode: s.mode,
                entries: s.entries.length,
                serializer: (s.format ?? DEFAULT_FORMAT).serializer,
                version: (s.format ?? DEFAULT_FORMAT).version,
              });
          } catch (e) {
            await file.abort().catch(() => undefined);
            throw e;
          }
        }
      }
      if (part.pending !== undefined) await part.pending;
      out.push({
        operatorId: part.operatorId,
        subtaskIndex,
        keyGroups: range === undefined ? null : [range.start, range.end],
        keyed,
        operator,
        states,
        bytes,
      });
    }
  } finally {
    for (const p of parts) p.keyed?.release();
  }
  return out;
}
