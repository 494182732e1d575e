// The asynchronous part of one task's snapshot (ARCHITECTURE.md §4 step 4–5): writes each
// operator's captured keyed state and operator state to state files of the snapshot's folder,
// waits for the operators' own pre-commit work, and describes the result for `_metadata`.
import type { OperatorSnapshotParts } from '../runtime/stream-operator.js';
import type { KeyGroupRange } from '../state/key-group.js';
import type { CheckpointStorage, SnapshotLocation } from '../storage/checkpoint-storage.js';
import type { StateFileInfo } from '../storage/state-file.js';
import { STATE_FILE_KEYED, STATE_FILE_OPERATOR, STATE_FILE_TIMERS } from '../storage/state-file.js';
import { writeTimers } from './timer-serialization.js';
import type { StateHandle, SubtaskStateEntry } from '../storage/metadata.js';
import { writeKeyedState, writeOperatorState } from './state-serialization.js';
import { DEFAULT_FORMAT } from '../state/state-schema.js';
import type { KeyedStateCapture } from '../state/keyed-state-backend.js';
import { adoptCapture, releaseCapture } from '../state/state-table.js';

/** What one operator subtask wrote for a snapshot. */
export interface OperatorSubtaskHandles {
  readonly operatorId: string;
  readonly subtaskIndex: number;
  readonly keyGroups: readonly [number, number] | null;
  readonly keyed: StateHandle | null;
  readonly operator: StateHandle | null;
  readonly timers: StateHandle | null;
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
 * Ends a keyed capture this writer adopted: first for each state table (so it knows which
 * capture ends), then through the capture, whose `release()` is then a no-op for the tables.
 */
function releaseKeyed(capture: KeyedStateCapture, released: Set<KeyedStateCapture>): void {
  if (released.has(capture)) return;
  released.add(capture);
  for (const st of capture.states) releaseCapture(st.maps);
  capture.release();
}

/**
 * Writes the parts of one task's snapshot. Always releases the keyed captures, also on failure,
 * so the backend's copy-on-write overlay can be merged back. Call it right after the captures
 * were taken (before anything awaits): it adopts them, and hands each key group back to its
 * state table as soon as it is encoded, and the whole capture once the encoding is done, before
 * the file is made durable.
 */
export async function writeTaskSnapshot(
  storage: CheckpointStorage | undefined,
  location: SnapshotLocation | undefined,
  subtaskIndex: number,
  ranges: ReadonlyArray<KeyGroupRange | undefined>,
  parts: readonly OperatorSnapshotParts[],
): Promise<OperatorSubtaskHandles[]> {
  const out: OperatorSubtaskHandles[] = [];
  const released = new Set<KeyedStateCapture>();
  for (const p of parts) if (p.keyed !== undefined) for (const st of p.keyed.states) adoptCapture(st.maps);
  // Handled now, awaited below: a pre-commit failing while state is being written is not "unhandled".
  for (const p of parts) p.pending?.catch(() => undefined);
  try {
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      const range = ranges[i];
      const states: SubtaskStateEntry[] = [];
      let keyed: StateHandle | null = null;
      let operator: StateHandle | null = null;
      let timers: StateHandle | null = null;
      let bytes = 0;
      const prefix = `op-${part.operatorId.slice(0, 8)}-${subtaskIndex}`;
      if (storage !== undefined && location !== undefined) {
        if (part.keyed !== undefined && part.keyed.states.length > 0) {
          // Storage creates the file while the writer takes the first megabytes into its buffers.
          const file = storage.createStateFile(location, `${prefix}-keyed.state`, STATE_FILE_KEYED);
          try {
            const counts = await writeKeyedState(part.keyed, file);
            // Every byte is encoded now: the maps may change again while the file is written and
            // made durable (the copy-on-write window ends with the encoding, not the fsync).
            releaseKeyed(part.keyed, released);
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
        if (part.keyed !== undefined) releaseKeyed(part.keyed, released);
        if (part.timers !== undefined) {
          const file = storage.createStateFile(location, `${prefix}-timers.state`, STATE_FILE_TIMERS);
          try {
            await writeTimers(part.timers, file);
            part.timers.release();
            const info = await file.close();
            timers = toHandle(info);
            bytes += info.size;
          } catch (e) {
            await file.abort().catch(() => undefined);
            throw e;
          }
        }
        if (part.operator.states.length > 0) {
          const file = storage.createStateFile(location, `${prefix}-operator.state`, STATE_FILE_OPERATOR);
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
        timers,
        states,
        bytes,
      });
    }
  } finally {
    for (const p of parts) {
      if (p.keyed !== undefined) releaseKeyed(p.keyed, released);
      p.timers?.release();
    }
  }
  return out;
}
