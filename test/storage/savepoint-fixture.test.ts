// The pinned savepoint of format version 1 (test/fixtures/savepoint-v1/, never regenerated) is
// still read by this weir: restored from a copy in another folder (relocation) at parallelism 3
// and 1, the job carries on exactly from the fixture's state, and neither the fixture nor the
// copy changes by a byte.
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CollectSink, KeyGroupRange } from '../../src/index.js';
import { decodeMetadata } from '../../src/storage/metadata.js';
import {
  decodeSavepoint,
  eventAt,
  expectedState,
  FIXTURE_EVENTS,
  JOB_NAME,
  KEYS,
  runUntilThenStop,
  SPLITS,
  type SplitPosition,
  type Update,
} from '../fixtures/savepoint-v1-job.js';

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/savepoint-v1/savepoint');
/** Events fed after the restore: two per key. */
const MORE = 2 * KEYS;

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `weir-fixture-${prefix}-`));
}

/** sha256 per file name. */
function fingerprint(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir).sort())
    out[name] = createHash('sha256')
      .update(readFileSync(join(dir, name)))
      .digest('hex');
  return out;
}

/** A copy of the fixture in a fresh temporary folder, under another name than the original. */
function copyOfFixture(): string {
  const copy = join(tmp('copy'), 'moved-savepoint');
  cpSync(FIXTURE, copy, { recursive: true });
  return copy;
}

describe('the savepoint fixture of format version 1', () => {
  it('is accepted by decodeMetadata and holds exactly the state of its 500 events', async () => {
    const before = fingerprint(FIXTURE);
    const m = decodeMetadata(readFileSync(join(FIXTURE, '_metadata')), join(FIXTURE, '_metadata'));
    expect(m).toMatchObject({ format: 'weir-snapshot', version: 1, kind: 'savepoint', jobName: JOB_NAME });
    expect(m.operators.map((op) => [op.uid, op.parallelism, op.maxParallelism])).toEqual([
      ['events', 2, 128],
      ['count', 2, 128],
      ['sink', 2, 128],
    ]);
    // Written before the optional "serializer" and "version" of state entries existed.
    for (const op of m.operators)
      for (const s of op.subtasks)
        for (const st of s.states) {
          expect(st).not.toHaveProperty('serializer');
          expect(st).not.toHaveProperty('version');
        }

    const { states } = await decodeSavepoint(FIXTURE);
    const want = expectedState(FIXTURE_EVENTS);
    expect(new Map(states.get('count')!.get('stats')!.entries)).toEqual(
      new Map([...want].map(([k, s]) => [k, s.stats])),
    );
    expect(new Map(states.get('count')!.get('kinds')!.entries)).toEqual(
      new Map([...want].map(([k, s]) => [k, s.kinds])),
    );
    const positions = states
      .get('events')!
      .get('positions')!
      .entries.map(([, p]) => p as SplitPosition)
      .sort((a, b) => a.split - b.split);
    expect(positions).toEqual(Array.from({ length: SPLITS }, (_, split) => ({ split, next: 125 })));
    expect(states.get('sink')!.size).toBe(0);
    expect(fingerprint(FIXTURE)).toEqual(before);
  });

  it.each([3, 1])(
    'restored from a moved copy at parallelism %i, carries on from its state exactly',
    async (parallelism) => {
      const fixtureBefore = fingerprint(FIXTURE);
      const copy = copyOfFixture();
      expect(fingerprint(copy)).toEqual(fixtureBefore);

      const sink = new CollectSink<Update>();
      const limit = FIXTURE_EVENTS + MORE;
      const savepoint = await runUntilThenStop(
        { parallelism, limit, sink, restoreFrom: copy, savepointDir: tmp('sp') },
        MORE,
      );

      // The source resumed at its positions: only the new events, each once.
      const updates = [...sink.results].sort((a, b) => a.n - b.n);
      expect(updates.map((u) => u.n)).toEqual(Array.from({ length: MORE }, (_, i) => FIXTURE_EVENTS + i));
      // Each update is the key's state after its event: counts, sums and kinds continue from the fixture's.
      for (const u of updates) {
        const s = expectedState(u.n + 1).get(eventAt(u.n).key)!;
        expect(u).toEqual({
          key: eventAt(u.n).key,
          n: u.n,
          count: s.stats.count,
          sum: s.stats.sum.toString(),
          last: s.stats.last.getTime(),
          kinds: Object.fromEntries([...s.kinds].sort(([a], [b]) => (a < b ? -1 : 1))),
        });
      }
      const k00 = updates.filter((u) => u.key === 'k00').map((u) => u.count);
      expect(k00).toEqual([26, 27]); // 25 in the fixture, then the two new events

      // The new savepoint: written at the new parallelism, holding the state of all events.
      const { metadata, states } = await decodeSavepoint(savepoint);
      const count = metadata.operators.find((op) => op.uid === 'count')!;
      expect(count.parallelism).toBe(parallelism);
      expect(count.subtasks.map((s) => s.keyGroups)).toEqual(
        Array.from({ length: parallelism }, (_, i) => {
          const r = KeyGroupRange.forSubtask(i, parallelism, 128);
          return [r.start, r.end];
        }),
      );
      const want = expectedState(limit);
      expect(new Map(states.get('count')!.get('stats')!.entries)).toEqual(
        new Map([...want].map(([k, s]) => [k, s.stats])),
      );
      expect(new Map(states.get('count')!.get('kinds')!.entries)).toEqual(
        new Map([...want].map(([k, s]) => [k, s.kinds])),
      );
      const positions = states
        .get('events')!
        .get('positions')!
        .entries.map(([, p]) => p as SplitPosition)
        .sort((a, b) => a.split - b.split);
      expect(positions).toEqual(Array.from({ length: SPLITS }, (_, split) => ({ split, next: 135 })));

      // The restore read the copy and wrote nothing into it; the fixture was never touched.
      expect(fingerprint(copy)).toEqual(fixtureBefore);
      expect(fingerprint(FIXTURE)).toEqual(fixtureBefore);
    },
  );
});
