// The pinned savepoints of every format version (test/fixtures/savepoint-v<N>/, each written by
// the weir that introduced its version, never regenerated) are still read by this weir: restored
// from a copy in another folder (relocation) at parallelism 3 and 1, the job carries on exactly
// from the fixture's state, and neither the fixture nor the copy changes by a byte.
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

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures');
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

/** The keyed files' data file version in each format version. */
const KEYED_FILE_VERSION: Record<number, number> = { 1: 1, 2: 1, 3: 2 };

describe.each([1, 2, 3])('the savepoint fixture of format version %i', (version) => {
  const FIXTURE = join(FIXTURES, `savepoint-v${version}`, 'savepoint');

  /** A copy of the fixture in a fresh temporary folder, under another name than the original. */
  function copyOfFixture(): string {
    const copy = join(tmp('copy'), 'moved-savepoint');
    cpSync(FIXTURE, copy, { recursive: true });
    return copy;
  }

  it('is accepted by decodeMetadata and holds exactly the state of its 500 events', async () => {
    const before = fingerprint(FIXTURE);
    const m = decodeMetadata(readFileSync(join(FIXTURE, '_metadata')), join(FIXTURE, '_metadata'));
    expect(m).toMatchObject({ format: 'weir-snapshot', version, kind: 'savepoint', jobName: JOB_NAME });
    expect(m.operators.map((op) => [op.uid, op.parallelism, op.maxParallelism])).toEqual([
      ['events', 2, 128],
      ['count', 2, 128],
      ['sink', 2, 128],
    ]);
    // Version 1 was written before the optional "serializer" and "version" of state entries existed.
    for (const op of m.operators)
      for (const s of op.subtasks)
        for (const st of s.states) {
          if (version === 1) {
            expect(st).not.toHaveProperty('serializer');
            expect(st).not.toHaveProperty('version');
          } else expect(st).toMatchObject({ serializer: 'weir-cbor', version: 1 });
        }
    const keyed = m.operators.flatMap((op) =>
      op.subtasks.flatMap((s) => (s.keyed === null ? [] : [s.keyed.path])),
    );
    expect(keyed).toHaveLength(2);
    for (const path of keyed)
      expect(readFileSync(join(FIXTURE, path)).readUInt16BE(8)).toBe(KEYED_FILE_VERSION[version]);

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
