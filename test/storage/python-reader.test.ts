// docs/examples/read_savepoint.py — a reader written from docs/savepoint-format.md alone, in
// another language — reads the pinned fixture of format version 1 exactly as weir does: the same
// entries per state, the same values, the same key groups; and it notices damage.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, type TestContext } from 'vitest';
import { keyGroupOf } from '../../src/index.js';
import type { SnapshotMetadata } from '../../src/storage/metadata.js';
import { decodeSavepoint, expectedState, FIXTURE_EVENTS } from '../fixtures/savepoint-v1-job.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURE = join(ROOT, 'test/fixtures/savepoint-v1/savepoint');
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

function copyOfFixture(): string {
  const copy = join(mkdtempSync(join(tmpdir(), 'weir-pyreader-')), 'savepoint');
  cpSync(FIXTURE, copy, { recursive: true });
  return copy;
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

describe('docs/examples/read_savepoint.py on the format version 1 fixture', () => {
  it('verifies every checksum and counts the entries of every state as weir decodes them', async (ctx) => {
    needPython(ctx);
    const copy = copyOfFixture();
    const r = read(copy);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ok: the _metadata checksum and 4 data files verified$/m);

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
