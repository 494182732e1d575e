import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTimersSection, writeTimers } from '../../src/checkpoint/timer-serialization.js';
import { TimerService, type RestoredTimers } from '../../src/runtime/timer-service.js';
import { KeyGroupRange, keyGroupOf } from '../../src/state/key-group.js';
import { toStateKey } from '../../src/state/state-key.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import { STATE_FILE_TIMERS, StateFileReader } from '../../src/storage/state-file.js';

const M = 32;

describe('timers in a snapshot file', () => {
  it('round-trip per key group, and a rescaled subtask reads only its own key groups', async () => {
    const s = new TimerService(KeyGroupRange.forSubtask(0, 1, M));
    const keys: unknown[] = ['a', 7, ['tuple', 2], 'b'];
    const registered: string[] = [];
    for (const [i, key] of keys.entries()) {
      const kg = keyGroupOf(key, M);
      for (const t of [100 * i, 100 * i + 5]) {
        s.register(i % 2 === 0 ? 'event' : 'processing', kg, toStateKey(key), t);
        registered.push(`${i % 2 === 0 ? 'event' : 'processing'}:${JSON.stringify(key)}@${t}`);
      }
    }
    const storage = new FsCheckpointStorage(mkdtempSync(join(tmpdir(), 'weir-timers-')));
    const loc = storage.checkpointLocation('job', 1);
    const file = storage.createStateFile(loc, 'timers.state', STATE_FILE_TIMERS);
    const capture = s.capture();
    s.register('event', 0, 'after-capture', 1); // not in the snapshot
    expect(await writeTimers(capture, file)).toBe(8);
    capture.release();
    const info = await file.close();

    const got: string[] = [];
    for (let sub = 0; sub < 3; sub++) {
      const range = KeyGroupRange.forSubtask(sub, 3, M);
      const reader = await StateFileReader.open(storage, loc, info.path, {
        size: info.size,
        crc32: info.crc32,
        kind: STATE_FILE_TIMERS,
      });
      const ids = reader.sections.map((x) => x.id).filter((id) => range.contains(id));
      const restored: RestoredTimers[] = [];
      for (const [id, payload] of await reader.readSections(ids))
        readTimersSection(payload, id, restored, 'test');
      const service = new TimerService(range);
      service.restore(restored);
      for (const domain of ['event', 'processing'] as const)
        service.advance(domain, 1e9, (d, key, _kg, t) => got.push(`${d}:${JSON.stringify(key)}@${t}`));
    }
    // State keys of tuples are their canonical string form; compare through toStateKey.
    expect(got.sort()).toEqual(
      registered
        .map((r) => r.replace(/:(.*)@/, (_m, k: string) => `:${JSON.stringify(toStateKey(JSON.parse(k)))}@`))
        .sort(),
    );
  });

  it('names a damaged payload instead of restoring nonsense', () => {
    expect(() =>
      readTimersSection(new Uint8Array([0x65, 0x77, 0x72, 0x6f, 0x6e, 0x67, 0x01]), 3, [], 'f'),
    ).toThrow(/f: key group 3 has timers of an unknown time domain/);
  });
});
