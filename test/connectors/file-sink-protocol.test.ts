// The file sink's protocol without I/O: names, state entries, and what each subtask commits and
// deletes at its start. The race-freedom of the start rule is checked over random directories.
import { describe, expect, it } from 'vitest';
import {
  decodeRestoredState,
  heldName,
  inProgressName,
  holdsHistoryOf,
  LEGACY_LINEAGE,
  parsePartName,
  pendingName,
  planStart,
  sealName,
  snapshotEntries,
  startHistory,
  STATE_VERSION,
  supersededName,
  uncommittedNames,
  visibleName,
  type PartFile,
  type PartOwner,
  type RestoredSinkState,
} from '../../src/connectors/file-sink-protocol.js';
import { Rng } from '../state/gen.js';

const A = 'aaaaaaaa';
const B = 'bbbbbbbb';
const OTHER = 'cccccccc';
const W = '12345678';

const owner = (subtask: number, lineage = A, epoch = 0, writer = W): PartOwner => ({
  lineage,
  epoch,
  subtask,
  writer,
});

const restoredAt = (checkpointId: number, epoch: number, over: Partial<RestoredSinkState> = {}) => ({
  checkpointId,
  epoch,
  lineages: [A, B],
  pending: [],
  seals: [],
  ...over,
});

describe('holdsHistoryOf', () => {
  it("takes a directory for the snapshot's output when it holds a file of its lineages up to it", () => {
    const restored = { checkpointId: 5, epoch: 1, lineages: [A], pending: [], seals: [] };
    const at = (epoch: number, id: number): string => visibleName(owner(0, A, epoch), 0, id);
    expect(holdsHistoryOf(restored, [at(1, 5)])).toBe(true);
    expect(holdsHistoryOf(restored, [at(0, 9)])).toBe(true);
    expect(holdsHistoryOf(restored, [at(1, 6), at(2, 1)])).toBe(false); // only newer output
    expect(holdsHistoryOf(restored, [inProgressName(owner(0, A, 0), 0)])).toBe(false);
    expect(holdsHistoryOf(restored, [visibleName(owner(0, 'abcdef01', 0), 0, 1)])).toBe(false);
    // Every job of the first version shares the lineage 'v1': its files count (a refusal, where a
    // history that began in v1 would otherwise lose a copy's newer output).
    const legacy = { ...restored, lineages: [A, LEGACY_LINEAGE] };
    expect(holdsHistoryOf(legacy, ['part-1-0-deadbeef-0'])).toBe(true);
  });
});

describe('file sink names', () => {
  it('round-trips every kind of name and hides all but visible ones from readers', () => {
    const o = owner(3, A, 2);
    expect(inProgressName(o, 7)).toBe(`.part-${A}-2-3-${W}-7.inprogress`);
    expect(pendingName(o, 7, 41)).toBe(`.part-${A}-2-41-3-${W}-7.pending`);
    expect(visibleName(o, 7, 41)).toBe(`part-${A}-2-41-3-${W}-7`);
    expect(parsePartName(inProgressName(o, 7))).toEqual({ kind: 'in-progress', lineage: A, subtask: 3 });
    for (const [name, kind] of [
      [pendingName(o, 7, 41), 'pending'],
      [visibleName(o, 7, 41), 'visible'],
    ] as const)
      expect(parsePartName(name)).toEqual({ kind, lineage: A, epoch: 2, checkpointId: 41, subtask: 3 });
    const held = heldName(visibleName(o, 7, 41), 44);
    expect(held).toBe(`.part-${A}-2-41-3-${W}-7.savepoint-44`);
    expect(supersededName(held)).toBe(`${held}.superseded`);
    const fields = { lineage: A, epoch: 2, checkpointId: 41, subtask: 3 };
    expect(parsePartName(held)).toEqual({ kind: 'held', ...fields, savepointId: 44, superseded: false });
    expect(parsePartName(supersededName(held))).toEqual({
      kind: 'held',
      ...fields,
      savepointId: 44,
      superseded: true,
    });
    expect(inProgressName(o, 0).startsWith('.')).toBe(true);
    expect(pendingName(o, 0, 1).startsWith('.')).toBe(true);
    expect(held.startsWith('.')).toBe(true);
    expect(visibleName(o, 0, 1)).toMatch(/^[^._]/);
  });

  it("names a held file's uncommitted forms: held and superseded; a pending one only itself", () => {
    const final = visibleName(owner(0), 0, 3);
    const pending = {
      kind: 'pending' as const,
      temp: pendingName(owner(0), 0, 3),
      final,
      checkpointId: 3,
      subtask: 0,
    };
    expect(uncommittedNames(pending)).toEqual([pending.temp]);
    const held = { ...pending, temp: heldName(final, 5) };
    expect(uncommittedNames(held)).toEqual([held.temp, supersededName(held.temp)]);
  });

  it('reads the names of the first version of the sink', () => {
    expect(parsePartName('.part-2-0a1b2c3d-5.inprogress')).toEqual({
      kind: 'in-progress',
      lineage: LEGACY_LINEAGE,
      subtask: 2,
    });
    expect(parsePartName('part-9-2-0a1b2c3d-5')).toEqual({
      kind: 'visible',
      lineage: LEGACY_LINEAGE,
      epoch: 0,
      checkpointId: 9,
      subtask: 2,
    });
  });

  it('does not claim names of other schemes', () => {
    for (const name of [
      'part-0-0', // the plain sink's names
      'part-0',
      '_SUCCESS',
      '.hidden',
      'data.csv',
      `part-${A}-0-1-0-${W}-0.csv`,
      `.part-${A}-0-0-${W}-0.inprogress.bak`,
      `part-${A}-01-1-0-${W}-0`,
      `part-${A.toUpperCase()}-0-1-0-${W}-0`,
      `.part-${A}-0-1-0-${W}-0.pending.tmp`,
      `.part-${A}-0-1-0-${W}-0.savepoint-`,
      `.part-${A}-0-1-0-${W}-0.savepoint-7.superseded.superseded`,
    ])
      expect(parsePartName(name), name).toBeUndefined();
  });
});

describe('file sink state', () => {
  it('is empty (a fresh start for the sink) when the snapshot held none', () => {
    expect(decodeRestoredState([])).toBeUndefined();
  });

  it('decodes what snapshots write, as the union of all subtasks', () => {
    const h0 = { lineage: A, epoch: 3, lineages: [A] };
    const h1 = { lineage: B, epoch: 3, lineages: [B] };
    const p = { temp: pendingName(owner(1, B, 3), 0, 9), final: visibleName(owner(1, B, 3), 0, 9) };
    const entries = [
      ...snapshotEntries([], 9, h0),
      ...snapshotEntries([{ ...p, checkpointId: 9, subtask: 1 }], 9, h1),
    ];
    expect(entries.at(-1)).toMatchObject({ kind: 'checkpoint', version: STATE_VERSION, id: 9 });
    expect(decodeRestoredState(structuredClone(entries))).toEqual({
      checkpointId: 9,
      epoch: 3,
      lineages: [A, B],
      pending: [{ kind: 'pending', ...p, checkpointId: 9, subtask: 1 }],
      seals: [],
    });
  });

  it('reads the state of the first version', () => {
    const pending = {
      kind: 'pending',
      temp: '.part-0-0a1b2c3d-1.inprogress',
      final: 'part-2-0-0a1b2c3d-1',
      checkpointId: 2,
      subtask: 0,
    };
    expect(decodeRestoredState([pending, { kind: 'checkpoint', id: 2 }])).toEqual({
      checkpointId: 2,
      epoch: 0,
      lineages: [LEGACY_LINEAGE],
      pending: [pending],
      seals: [],
    });
  });

  it('rejects a newer version and damaged entries with a clear message', () => {
    expect(() =>
      decodeRestoredState([
        { kind: 'checkpoint', version: STATE_VERSION + 1, id: 1, epoch: 0, lineages: [] },
      ]),
    ).toThrow(/newer weir \(format version 5; this one reads versions up to 4\)/);
    // Checked before the entries: a newer weir's entries need not parse here.
    expect(() =>
      decodeRestoredState([
        { kind: 'pending', temp: '.part-new-scheme', final: 'part-new', checkpointId: 1, subtask: 0 },
        { kind: 'checkpoint', version: STATE_VERSION + 1, id: 1, epoch: 0, lineages: [] },
      ]),
    ).toThrow(/newer weir/);
    const marker = { kind: 'checkpoint', version: 2, id: 1, epoch: 0, lineages: [A] };
    for (const bad of [
      null,
      'x',
      { kind: 'mystery' },
      { ...marker, id: -1 },
      { ...marker, lineages: ['../../etc'] },
      // A size without a checksum, or either not a count.
      ...[{ size: 3 }, { crc32: 3 }, { size: -1, crc32: 3 }, { size: 3, crc32: 2 ** 32 }].map((extra) => ({
        kind: 'pending',
        temp: pendingName(owner(0), 0, 1),
        final: visibleName(owner(0), 0, 1),
        checkpointId: 1,
        subtask: 0,
        ...extra,
      })),
      // Pending entries may only name the sink's own files: state never renames anything else.
      { kind: 'pending', temp: '../../x', final: visibleName(owner(0), 0, 1), checkpointId: 1, subtask: 0 },
      // A held name must be that of its own file, and never the superseded one.
      {
        kind: 'pending',
        temp: heldName(visibleName(owner(0), 1, 1), 2),
        final: visibleName(owner(0), 0, 1),
        checkpointId: 1,
        subtask: 0,
      },
      {
        kind: 'pending',
        temp: supersededName(heldName(visibleName(owner(0), 0, 1), 2)),
        final: visibleName(owner(0), 0, 1),
        checkpointId: 1,
        subtask: 0,
      },
      {
        kind: 'pending',
        temp: pendingName(owner(0), 0, 1),
        final: '/etc/passwd',
        checkpointId: 1,
        subtask: 0,
      },
      {
        kind: 'pending',
        temp: pendingName(owner(0), 0, 1),
        final: visibleName(owner(0), 0, 1),
        checkpointId: 1,
        subtask: 1,
      },
    ])
      expect(() => decodeRestoredState([bad, marker]), JSON.stringify(bad)).toThrow(/cannot read/);
    expect(() =>
      decodeRestoredState([
        {
          kind: 'pending',
          temp: pendingName(owner(0), 0, 1),
          final: visibleName(owner(0), 0, 1),
          checkpointId: 1,
          subtask: 0,
        },
      ]),
    ).toThrow(/no checkpoint entry/);
  });
});

describe('file sink history', () => {
  it('starts a lineage at epoch 0 on a fresh start and continues the restored one after', () => {
    expect(startHistory(undefined, OTHER)).toEqual({ lineage: OTHER, epoch: 0, lineages: [OTHER] });
    expect(startHistory(restoredAt(5, 2), OTHER)).toEqual({ lineage: A, epoch: 3, lineages: [A, B] });
    // The attempt's start time when it is larger: a later attempt restoring the same point gets a
    // larger epoch; along a history the epoch still grows when the clock went back.
    expect(startHistory(restoredAt(5, 2), OTHER, 1_700_000_000_000).epoch).toBe(1_700_000_000_000);
    expect(startHistory(restoredAt(5, 1_700_000_000_000), OTHER, 1_600_000_000_000).epoch).toBe(
      1_700_000_000_001,
    );
    expect(startHistory(restoredAt(5, 0, { lineages: [LEGACY_LINEAGE] }), OTHER)).toEqual({
      lineage: OTHER,
      epoch: 1,
      lineages: [OTHER, LEGACY_LINEAGE],
    });
  });
});

describe('file sink start plan', () => {
  const dir = [
    inProgressName(owner(0, OTHER), 0), // another run's, maybe being written now
    inProgressName(owner(0, A, 1), 3),
    '.part-0-0a1b2c3d-1.inprogress',
    pendingName(owner(0, A, 1), 0, 4), // in the restored state (below)
    pendingName(owner(0, A, 1), 1, 6), // of a checkpoint after the restored one
    pendingName(owner(0, OTHER), 0, 6), // another run's, maybe of a retained checkpoint
    visibleName(owner(0, A, 0), 0, 9), // epoch 0: before the restored (1, 5) although 9 > 5
    visibleName(owner(0, B, 1), 0, 5),
    visibleName(owner(0, B, 1), 0, 6),
    visibleName(owner(0, A, 2), 0, 1), // a later epoch: after, although 1 < 5
    visibleName(owner(0, OTHER, 7), 0, 99), // another run's output
    'part-0-0',
    '_SUCCESS',
    '.hidden',
  ];
  const held = [
    heldName(visibleName(owner(0, A, 1), 0, 4), 5), // of a savepoint at (1, 5): before, kept as is
    heldName(visibleName(owner(0, A, 1), 1, 6), 7), // after (1, 5): superseded
    heldName(visibleName(owner(0, OTHER, 3), 0, 9), 9), // another run's savepoint
    heldName(visibleName(owner(0, B, 2), 0, 1), 2), // a later epoch: superseded
    supersededName(heldName(visibleName(owner(0, A, 2), 0, 2), 3)), // superseded already
    heldName(visibleName(owner(0, A, 1), 2, 4), 7), // (1, 4), but held by savepoint (1, 7)
  ];
  const listed = {
    kind: 'pending' as const,
    temp: pendingName(owner(0, A, 1), 0, 4),
    final: visibleName(owner(0, A, 1), 0, 4),
    checkpointId: 4,
    subtask: 0,
  };

  it("deletes nothing on a fresh start (in-progress files may be other jobs', being written)", () => {
    expect(planStart(0, 1, undefined, [...dir, ...held])).toEqual({
      commit: [],
      remove: [],
      supersede: [],
      discard: [],
    });
  });

  it('marks the held files of later savepoints superseded when no output is deleted (a failover)', () => {
    const newer = [visibleName(owner(0, B, 1), 0, 6), visibleName(owner(0, A, 2), 0, 1)];
    const failover = dir.filter((n) => !newer.includes(n)); // no output after (1, 5)
    const plan = planStart(0, 1, restoredAt(5, 1), [...failover, ...held]);
    // By the savepoint's point, not the file's: (1, 4) held by savepoint 7 is after (1, 5) too.
    expect(plan.supersede).toEqual([held[1], held[3], held[5]]);
    for (const h of held) expect(plan.remove).not.toContain(h);
    // Another subtask's held files are its own to mark.
    expect(planStart(1, 2, restoredAt(5, 1), [...failover, ...held]).supersede).toEqual([]);
  });

  it('discards the held files of savepoints whose history it deletes, of every subtask (a fallback)', () => {
    // Subtask 1 of 2 deletes its output (1, 6); the held files are subtask 0's.
    const newer = visibleName(owner(1, B, 1), 0, 6);
    const plan = planStart(1, 2, restoredAt(5, 1), [newer, ...held]);
    expect(plan.remove).toEqual([newer]);
    expect(plan.supersede).toEqual([]);
    // Savepoints (1, 7) and (2, 2), (2, 3) come at or after (1, 6): both names of each held file.
    expect(plan.discard).toEqual([
      held[1],
      supersededName(held[1]!),
      held[3],
      supersededName(held[3]!),
      held[4],
      held[5],
      supersededName(held[5]!),
    ]);
    // Seals too: a later savepoint's (1, 7) goes, the restored point's own and an earlier one stay.
    const seals = [sealName(owner(0, A, 1), 7), sealName(owner(0, A, 1), 5), sealName(owner(0, A, 1), 2)];
    const withSeals = planStart(1, 2, restoredAt(5, 1, { seals: [seals[1]!] }), [newer, ...seals]);
    expect(withSeals.discard).toEqual([seals[0]]);
    expect(planStart(1, 2, restoredAt(5, 1), [...held, ...seals]).discard).toEqual([]);
  });

  it('keeps a later savepoint whose history ends before every file it deletes, marking its files superseded', () => {
    // Output (1, 8) goes; savepoint (1, 7) never held it: its history is whole.
    const newer = visibleName(owner(0, A, 1), 3, 8);
    const plan = planStart(0, 1, restoredAt(5, 1), [newer, held[1]!, sealName(owner(0, A, 1), 7)]);
    expect(plan.remove).toEqual([newer]);
    expect(plan.discard).toEqual([]);
    expect(plan.supersede).toEqual([held[1]]);
  });

  it('commits the held files a restored savepoint lists, from either name, and supersedes none of them', () => {
    const spEntry = { ...listed, temp: heldName(listed.final, 5) };
    for (const names of [[spEntry.temp], [supersededName(spEntry.temp)]]) {
      const plan = planStart(0, 1, restoredAt(5, 1, { pending: [spEntry] }), [...dir, ...names]);
      expect(plan.commit).toEqual([spEntry]);
      expect(plan.supersede).toEqual([]);
      expect(plan.remove).not.toContain(names[0]);
      // The file's pending name (a link to the same file), not listed by the savepoint, goes.
      expect(plan.remove).toContain(listed.temp);
    }
  });

  it('commits the restored pending files and deletes what of its lineages came after', () => {
    const plan = planStart(0, 1, restoredAt(5, 1, { pending: [listed] }), dir);
    expect(plan.commit).toEqual([listed]);
    // Not another lineage's in-progress file (dir[0]), nor a first version's (dir[2]), which
    // only a history begun by the first version deletes.
    expect(plan.remove).toEqual([
      dir[1],
      pendingName(owner(0, A, 1), 1, 6),
      visibleName(owner(0, B, 1), 0, 6),
      visibleName(owner(0, A, 2), 0, 1),
    ]);
  });

  it('deletes in-progress files of the first version in a history the first version began', () => {
    const plan = planStart(0, 1, restoredAt(5, 1, { lineages: [A, LEGACY_LINEAGE] }), dir);
    expect(plan.remove).toContain(dir[2]);
    expect(plan.remove).not.toContain(dir[0]);
  });

  it('gives every old subtask index to exactly one new subtask, and files of the new attempt only to their own', () => {
    const rng = new Rng(7);
    for (let round = 0; round < 300; round++) {
      const p = rng.int(1, 6);
      const restored = rng.bool(0.2)
        ? undefined
        : restoredAt(rng.int(1, 9), rng.int(0, 2), { lineages: [A, LEGACY_LINEAGE] });
      const names: string[] = [];
      const pending: RestoredSinkState['pending'][number][] = [];
      for (let k = 0; k < 40; k++) {
        const o = owner(rng.int(0, 9), rng.pick([A, OTHER]), rng.int(0, 3), rng.pick([W, '87654321']));
        const ckpt = rng.int(1, 12);
        const kind = rng.int(0, 4);
        if (kind === 0) names.push(inProgressName(o, k));
        else if (kind === 1) names.push(visibleName(o, k, ckpt));
        else if (kind === 4) {
          const name = heldName(visibleName(o, k, ckpt), ckpt + rng.int(0, 2));
          names.push(rng.bool(0.3) ? supersededName(name) : name);
          if (restored !== undefined && rng.bool(0.5))
            pending.push({
              kind: 'pending',
              temp: name,
              final: visibleName(o, k, ckpt),
              checkpointId: ckpt,
              subtask: o.subtask,
            });
        } else {
          names.push(pendingName(o, k, ckpt));
          if (kind === 3 && restored !== undefined)
            pending.push({
              kind: 'pending',
              temp: pendingName(o, k, ckpt),
              final: visibleName(o, k, ckpt),
              checkpointId: ckpt,
              subtask: o.subtask,
            });
        }
      }
      const r = restored === undefined ? undefined : { ...restored, pending };
      const touchedBy = new Map<string, number>();
      for (let i = 0; i < p; i++) {
        const plan = planStart(i, p, r, names);
        // Held files of later savepoints are deleted by every subtask that deletes output; names
        // are deleted idempotently (checked below).
        const own = plan.remove.filter((n) => parsePartName(n)?.kind !== 'held');
        for (const name of [...own, ...plan.supersede, ...plan.commit.flatMap((c) => [c.temp, c.final])]) {
          expect(touchedBy.get(name), `${name} touched by ${touchedBy.get(name)} and ${i}`).toBeUndefined();
          touchedBy.set(name, i);
          const f = parsePartName(name)!;
          expect(f.subtask % p).toBe(i);
        }
        // Nothing listed as pending by the restored state is deleted or superseded by anyone, and
        // no held file is deleted.
        for (const c of pending)
          for (const n of uncommittedNames(c)) expect([...plan.remove, ...plan.supersede]).not.toContain(n);
        // A savepoint's held files and seal are discarded only by a start that deletes output at
        // or before its point, or commits a superseded file; only they are discarded.
        const deleted = plan.remove.map((n) => parsePartName(n)!).filter((f) => f.kind === 'visible');
        const revives = plan.commit.some(
          (c) => !names.includes(c.final) && names.includes(supersededName(c.temp)),
        );
        const historyLost = (f: PartFile | undefined): boolean =>
          f !== undefined &&
          f.kind !== 'in-progress' &&
          (revives ||
            deleted.some(
              (d) =>
                d.kind !== 'in-progress' &&
                (d.epoch < f.epoch || (d.epoch === f.epoch && d.checkpointId <= f.savepointId!)),
            ));
        for (const name of plan.remove) expect(parsePartName(name)!.kind).not.toBe('held');
        for (const name of plan.discard) {
          const f = parsePartName(name);
          if (f?.kind !== 'held' && f?.kind !== 'seal') throw new Error(`discards ${name}`);
          expect(f.savepointId! > r!.checkpointId || f.epoch > r!.epoch).toBe(true);
          expect(historyLost(f)).toBe(true);
        }
        for (const name of plan.supersede) expect(historyLost(parsePartName(name)!)).toBe(false);
      }
      // Every restored pending file is committed by exactly one subtask.
      const committed = Array.from({ length: p }, (_, i) => planStart(i, p, r, names).commit).flat();
      expect(committed.map((c) => c.temp).sort()).toEqual(pending.map((c) => c.temp).sort());
    }
  });
});
