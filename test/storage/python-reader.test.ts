// docs/examples/read_savepoint.py — a reader written from docs/savepoint-format.md alone, in
// another language — reads the pinned fixture of every format version exactly as weir does: the
// same entries per state, the same values, the same key groups; and it notices damage. Also a
// savepoint whose values are numbers (written as float64 columns since format version 3).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, type TestContext } from 'vitest';
import { keyGroupOf, ValueStateDescriptor } from '../../src/index.js';
import { restoreGraph, writeSnapshot } from '../../bench/lib/keyed-snapshot.js';
import { HeapKeyedStateBackend } from '../../src/state/keyed-state-backend.js';
import { KeyGroupRange, subtaskForKeyGroup } from '../../src/state/key-group.js';
import { FsCheckpointStorage } from '../../src/storage/fs-checkpoint-storage.js';
import type { SnapshotMetadata } from '../../src/storage/metadata.js';
import { decodeSavepoint, expectedState, FIXTURE_EVENTS } from '../fixtures/savepoint-v1-job.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const READER = join(ROOT, 'docs/examples/read_savepoint.py');

const python = spawnSync('python3', ['--version'], { encoding: 'utf8' });
const hasPython = python.error === undefined && python.status === 0;

/** Skips without python3, except under CI (where .ci/run installs it): there a skip would hide a failure. */
function needPython(ctx: TestContext): void {
  if (hasPython) return;
  if (process.env.CI !== undefined && process.env.CI !== '')
    throw new Error('python3 is missing under CI: .ci/run should have installed it');
  ctx.skip('install python3 to run this test');
}

function read(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('python3', [READER, ...args], { encoding: 'utf8', timeout: 30_000 });
  if (r.error !== undefined) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** uid → state name → entries, from the reader's summary lines. */
function parseSummary(stdout: string): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  let current: Map<string, number> | undefined;
  for (const line of stdout.split('\n')) {
    const op = /^operator (\S+) \(/.exec(line);
    if (op !== null) out.set(op[1]!, (current = new Map()));
    const st = /^ {2}(keyed|operator) +(\S+) +(\S+) +(\d+) entries$/.exec(line);
    if (st !== null) current!.set(st[2]!, Number(st[4]));
  }
  return out;
}

describe.each([1, 2, 3])('docs/examples/read_savepoint.py on the format version %i fixture', (version) => {
  const FIXTURE = join(ROOT, `test/fixtures/savepoint-v${version}/savepoint`);

  function copyOfFixture(): string {
    const copy = join(mkdtempSync(join(tmpdir(), 'weir-pyreader-')), 'savepoint');
    cpSync(FIXTURE, copy, { recursive: true });
    return copy;
  }

  it('verifies every checksum and counts the entries of every state as weir decodes them', async (ctx) => {
    needPython(ctx);
    const copy = copyOfFixture();
    const r = read(copy);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok: the _metadata checksum and 4 data files verified$/m);
    expect(r.stdout).toMatch(new RegExp(`^savepoint 1 of job .*, format version ${version}$`, 'm'));

    const { states } = await decodeSavepoint(copy);
    const weir = new Map(
      [...states].map(([uid, byName]) => [uid, new Map([...byName].map(([n, s]) => [n, s.entries.length]))]),
    );
    expect(parseSummary(r.stdout)).toEqual(weir);
    expect(weir.get('count')).toEqual(
      new Map([
        ['stats', 20],
        ['kinds', 20],
      ]),
    );
    // Given the _metadata file instead of the folder, the same.
    expect(parseSummary(read(join(copy, '_metadata')).stdout)).toEqual(weir);
  });

  it('dumps a keyed state: every key with its value, in the key group weir puts it in', (ctx) => {
    needPython(ctx);
    const r = read(copyOfFixture(), '--dump', 'count', 'stats');
    expect(r.status).toBe(0);
    const dump = r.stdout.slice(r.stdout.indexOf('count stats:\n'));
    const lines = dump.split('\n').filter((l) => l.startsWith('  ['));
    const want = expectedState(FIXTURE_EVENTS);
    expect(lines).toHaveLength(want.size);
    for (const [key, { stats }] of want) {
      const value = `{"count": ${stats.count}, "sum": ${stats.sum}n, "last": Date(${stats.last.toISOString()})}`;
      expect(lines).toContain(`  [group ${keyGroupOf(key, 128)}] "${key}" => ${value}`);
    }
    const kinds = read(copyOfFixture(), '--dump', 'count', 'kinds');
    expect(kinds.stdout).toContain(
      `"k00" => Map{${[...want.get('k00')!.kinds].map(([k, n]) => `"${k}" => ${n}`).join(', ')}}`,
    );
  });

  it('finds one key by its key group, reading only that section', (ctx) => {
    needPython(ctx);
    const copy = copyOfFixture();
    // Damage every other section of the keyed files: a lookup that read one of them would notice.
    const group = keyGroupOf('k07', 128);
    const metadata = JSON.parse(readFileSync(join(copy, '_metadata'), 'utf8')) as SnapshotMetadata;
    let damaged = 0;
    for (const s of metadata.operators.find((op) => op.uid === 'count')!.subtasks) {
      const file = join(copy, s.keyed!.path);
      const bytes = readFileSync(file);
      for (const [id, offset] of s.keyed!.sections)
        if (id !== group) {
          bytes[offset]! ^= 0xff;
          damaged++;
        }
      writeFileSync(file, bytes);
    }
    expect(damaged).toBeGreaterThan(10);
    expect(read(copy).status).toBe(1); // a full read notices
    const r = read(copy, '--dump', 'count', 'stats', '--key', 'k07');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`key "k07" is in key group ${group} of 128`);
    expect(r.stdout).toContain(
      '"k07" => {"count": 25, "sum": 6175n, "last": Date(2024-01-01T00:08:07.000Z)}',
    );
  });

  it('reports a damaged data file or _metadata, naming it, with exit status 1', (ctx) => {
    needPython(ctx);
    const copy = copyOfFixture();
    const file = join(copy, 'op-a3a69cc2-0-keyed.state');
    const bytes = readFileSync(file);
    bytes[20]! ^= 0xff;
    writeFileSync(file, bytes);
    const r = read(copy);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/damaged: op-a3a69cc2-0-keyed\.state: .*checksum mismatch/);

    const other = copyOfFixture();
    const meta = join(other, '_metadata');
    writeFileSync(meta, readFileSync(meta, 'utf8').replace('"id": 1,', '"id": 2,'));
    const m = read(other);
    expect(m.status).toBe(1);
    expect(m.stderr).toMatch(/_metadata: checksum mismatch/);
  });
});

describe('docs/examples/read_savepoint.py on number values (float64 columns)', () => {
  it('reads every key and value as weir wrote them', async (ctx) => {
    needPython(ctx);
    const folder = mkdtempSync(join(tmpdir(), 'weir-pyreader-numbers-'));
    const storage = new FsCheckpointStorage(folder);
    const location = storage.savepointLocation(folder, 'numbers');
    const { graph, node } = restoreGraph(2);
    const values = [0, -0, 1.5, -7, 2 ** 53, 1e-7, 123456789.25, Infinity, NaN];
    const want = new Map<string, number>();
    const backends = [0, 1].map((i) => new HeapKeyedStateBackend(KeyGroupRange.forSubtask(i, 2, 128), 128));
    const states = backends.map((b) => b.getState(new ValueStateDescriptor<number>('total')));
    for (let i = 0; i < 200; i++) {
      const key = `n${i}`;
      const kg = keyGroupOf(key, 128);
      const s = subtaskForKeyGroup(kg, 2, 128);
      backends[s]!.setCurrentKey(key, kg);
      const v = values[i % values.length]! * (i + 1);
      states[s]!.update(v);
      want.set(key, v);
    }
    await writeSnapshot(storage, location, backends, {
      graph,
      node,
      jobId: 'numbers',
      id: 1,
      kind: 'savepoint',
    });
    // The values are one float64 column per key group (tag 86 after the layout 1).
    const keyed = readFileSync(join(location.uri, 'op-' + node.operatorId.slice(0, 8) + '-0-keyed.state'));
    expect(keyed.readUInt16BE(8)).toBe(2);
    expect(keyed.includes(Buffer.from([0x01, 0xd8, 86]))).toBe(true);

    const r = read(location.uri, '--dump', 'state', 'total');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ {2}keyed +total +value +200 entries$/m);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('  ['));
    expect(lines).toHaveLength(want.size);
    const show = (v: number): string => (Object.is(v, -0) ? '0' : String(v));
    for (const [key, v] of want)
      expect(lines).toContain(`  [group ${keyGroupOf(key, 128)}] "${key}" => ${show(v)}`);
  });
});
