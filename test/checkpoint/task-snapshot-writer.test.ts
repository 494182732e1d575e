// The asynchronous part of a task's snapshot hands the encoder's buffer to the file writer as a
// view and reuses it; bytes the writer keeps (while the storage is slow, or its buffers are full)
// must be copies, or the next megabyte encoded would overwrite them.
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readKeyedSection } from '../../src/checkpoint/state-serialization.js';
import { writeTaskSnapshot } from '../../src/checkpoint/task-snapshot-writer.js';
import { ValueStateDescriptor } from '../../src/index.js';
import { HeapKeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange } from '../../src/state/key-group.js';
import type { CheckpointStorage, SnapshotLocation } from '../../src/storage/checkpoint-storage.js';
import { DeferredSink } from '../storage/deferred-sink.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import {
  STATE_FILE_KEYED,
  StateFileReader,
  StateFileWriter,
  type ByteSink,
} from '../../src/storage/state-file.js';

const MAX = 32;

describe('writeTaskSnapshot', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'weir-task-snapshot-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('writes every value intact when the storage is slow to create the file', async () => {
    const b = new HeapKeyedStateBackend(KeyGroupRange.forSubtask(0, 1, MAX), MAX);
    const v = b.getState(new ValueStateDescriptor<Uint8Array>('v'));
    const KEYS = 3000;
    // 3000 × 4 KiB = 12 MiB: more than the writer keeps before the file is open, in many chunks.
    const valueOf = (i: number): Uint8Array => {
      const x = new Uint8Array(4096);
      for (let j = 0; j < x.length; j += 512) x[j] = (i + j) & 0xff;
      x[4095] = i % 251;
      return x;
    };
    for (let i = 0; i < KEYS; i++) {
      b.setCurrentKeyComputingGroup(`k${i}`);
      v.update(valueOf(i));
    }
    b.clearCurrentKey();
    const fs = new FsCheckpointStorage(root);
    // The file opens only after the encoder has filled several megabytes: the writer keeps them.
    const slowSink = async (dir: string, name: string): Promise<ByteSink> => {
      await sleep(200);
      mkdirSync(dir, { recursive: true });
      const temp = join(dir, `.${name}.tmp`);
      writeFileSync(temp, '');
      return {
        write: async (chunk) => appendFileSync(temp, chunk),
        commit: async () => renameSync(temp, join(dir, name)),
        abort: async () => rmSync(temp, { force: true }),
      };
    };
    const slow = new Proxy(fs, {
      get(target, prop) {
        if (prop === 'createStateFile')
          return (location: SnapshotLocation, name: string, kind: number) =>
            new StateFileWriter(name, kind, new DeferredSink(slowSink(location.uri, name)));
        const x = Reflect.get(target, prop, target) as unknown;
        return typeof x === 'function' ? (x as (...a: unknown[]) => unknown).bind(target) : x;
      },
    }) as CheckpointStorage;
    const loc = fs.checkpointLocation('job', 1);
    const [handles] = await writeTaskSnapshot(
      slow,
      loc,
      0,
      [b.range],
      [{ operatorId: 'abcdefabcdef', keyed: b.capture(), operator: { states: [] }, pending: undefined }],
    );
    const h = handles!.keyed!;
    expect(h.size).toBeGreaterThan(3000 * 4096);
    const reader = await StateFileReader.open(fs, loc, h.path, {
      size: h.size,
      crc32: h.crc32,
      kind: STATE_FILE_KEYED,
    });
    const into: Parameters<typeof readKeyedSection>[2] = new Map();
    for (const [id, payload] of await reader.readAll())
      readKeyedSection(payload, id, into, 'test', reader.version);
    const seen = new Map<unknown, unknown>();
    for (const g of into.get('v')!.keyGroups) for (const [k, x] of g.entries) seen.set(k, x);
    expect(seen.size).toBe(KEYS);
    for (let i = 0; i < KEYS; i++)
      expect(Buffer.from(seen.get(`k${i}`) as Uint8Array).equals(Buffer.from(valueOf(i)))).toBe(true);
  });
});
