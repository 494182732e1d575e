// Timers in a snapshot: the timers data file (kind 3, ARCHITECTURE.md §8), one section per
// non-empty key group (id = key group) like keyed state, so a rescaled subtask reads only the
// timers of the key groups it owns. The payload is a CBOR sequence: for each time domain with
// timers in the group, its name ('event' or 'processing'), the number of keys, then per key the
// key (as given to keyBy) and the sorted array of its timer timestamps.
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { RestoredTimers, TimerCapture } from '../runtime/timer-service.js';
import { fromStateKey, toStateKey } from '../state/state-key.js';
import { ValueDecoder, ValueEncoder } from '../state/value-codec.js';
import type { StateFileWriter } from '../storage/state-file.js';
import { StateFormatError } from './state-serialization.js';

const CHUNK_BYTES = 1 << 20;
const KEYS_PER_TURN = 20_000;

/** Writes the captured timers key group by key group; returns the number of timers written. */
export async function writeTimers(capture: TimerCapture, file: StateFileWriter): Promise<number> {
  const enc = new ValueEncoder(CHUNK_BYTES + (CHUNK_BYTES >> 2));
  let timers = 0;
  let sinceTurn = 0;
  const flush = async (): Promise<void> => {
    if (enc.length === 0) return;
    const pending = file.write(enc.takeChunk());
    if (pending !== undefined) await pending;
  };
  for (let i = 0; i < capture.range.size; i++) {
    let opened = false;
    for (const d of capture.domains) {
      const m = d.maps[i];
      if (m === undefined || m.size === 0) continue;
      if (!opened) {
        file.beginSection(capture.range.start + i);
        opened = true;
      }
      enc.encode(d.domain);
      enc.encode(m.size);
      for (const [k, ts] of m) {
        enc.encode(fromStateKey(k));
        enc.encode(ts);
        timers += (ts as readonly number[]).length;
        if (enc.length >= CHUNK_BYTES) await flush();
        if (++sinceTurn >= KEYS_PER_TURN) {
          sinceTurn = 0;
          await yieldToLoop();
        }
      }
    }
    if (opened) {
      await flush();
      file.endSection();
    }
  }
  return timers;
}

/** Decodes the timers section of key group `keyGroup` into `into`. */
export function readTimersSection(
  payload: Uint8Array,
  keyGroup: number,
  into: RestoredTimers[],
  where: string,
): void {
  const dec = new ValueDecoder(payload);
  while (!dec.done) {
    const domain = dec.decode();
    const count = dec.decode();
    if (domain !== 'event' && domain !== 'processing')
      throw new StateFormatError(`${where}: key group ${keyGroup} has timers of an unknown time domain`);
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0)
      throw new StateFormatError(`${where}: key group ${keyGroup} has a bad timer key count`);
    for (let i = 0; i < count; i++) {
      const stateKey = toStateKey(dec.decode());
      const timestamps = dec.decode();
      if (!Array.isArray(timestamps) || !timestamps.every((t) => typeof t === 'number' && Number.isFinite(t)))
        throw new StateFormatError(
          `${where}: key group ${keyGroup} has timers that are not a list of timestamps`,
        );
      into.push({ domain, keyGroup, stateKey, timestamps: timestamps as number[] });
    }
  }
}
