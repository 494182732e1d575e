// Makes the pinned savepoint fixture of the format version this weir writes
// (test/fixtures/savepoint-v<N>/): runs the fixture job (test/fixtures/savepoint-v1-job.ts, the
// same job for every version) at parallelism 2 until all of its 500 events are processed, stops
// it with a savepoint, checks the savepoint's state against what the job must hold, and copies
// the savepoint folder to a fixed name.
//
//   npx tsx scripts/make-savepoint-fixture.ts [OUT]   (default test/fixtures/savepoint-v<N>/savepoint)
//
// A fixture is made once, by the weir that introduced its version, and checked in forever: this
// refuses to write into an existing folder. Run it again only into another folder (to look at a
// fresh one); a new format version gets a new fixture, never a regenerated old one.
import { copyFile, mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { CollectSink } from '../src/index.js';
import { METADATA_VERSION } from '../src/storage/metadata.js';
import {
  decodeSavepoint,
  expectedState,
  FIXTURE_EVENTS,
  runUntilThenStop,
  SPLITS,
  type SplitPosition,
  type Update,
} from '../test/fixtures/savepoint-v1-job.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Throws unless the savepoint in `folder` holds exactly the state of events 0..FIXTURE_EVENTS-1. */
async function check(folder: string): Promise<void> {
  const { metadata, states } = await decodeSavepoint(folder);
  if (metadata.kind !== 'savepoint' || metadata.version !== METADATA_VERSION)
    throw new Error(`not a version ${METADATA_VERSION} savepoint`);
  const want = expectedState(FIXTURE_EVENTS);
  const count = states.get('count');
  const stats = new Map(count?.get('stats')?.entries);
  const kinds = new Map(count?.get('kinds')?.entries);
  if (stats.size !== want.size || kinds.size !== want.size)
    throw new Error(`expected ${want.size} keys, found ${stats.size} (stats) and ${kinds.size} (kinds)`);
  for (const [key, w] of want) {
    if (!isDeepStrictEqual(stats.get(key), w.stats)) throw new Error(`stats of ${key} differ`);
    if (!isDeepStrictEqual(kinds.get(key), w.kinds)) throw new Error(`kinds of ${key} differ`);
  }
  const positions = (states.get('events')?.get('positions')?.entries ?? [])
    .map(([, p]) => p as SplitPosition)
    .sort((a, b) => a.split - b.split);
  const wantPositions = Array.from({ length: SPLITS }, (_, split) => ({
    split,
    next: Math.ceil((FIXTURE_EVENTS - split) / SPLITS),
  }));
  if (!isDeepStrictEqual(positions, wantPositions))
    throw new Error(`source positions ${JSON.stringify(positions)} are not ${JSON.stringify(wantPositions)}`);
}

async function main(): Promise<void> {
  const out = resolve(
    process.argv[2] ?? join(root, `test/fixtures/savepoint-v${METADATA_VERSION}/savepoint`),
  );
  if (await exists(out)) {
    throw new Error(
      `${out} exists: the pinned fixture is never regenerated or edited (a new format version gets a new fixture); give another folder to make a fresh one`,
    );
  }
  const work = await mkdtemp(join(tmpdir(), 'weir-fixture-'));
  try {
    const sink = new CollectSink<Update>();
    const savepoint = await runUntilThenStop(
      { parallelism: 2, limit: FIXTURE_EVENTS, sink, savepointDir: work },
      FIXTURE_EVENTS,
    );
    if (sink.results.length !== FIXTURE_EVENTS)
      throw new Error(`the sink received ${sink.results.length} updates, not ${FIXTURE_EVENTS}`);
    await check(savepoint);
    await mkdir(out, { recursive: true });
    // `_metadata` and the data files; a name beginning with '.' (a temporary file) is not part of it.
    for (const name of (await readdir(savepoint)).sort())
      if (!name.startsWith('.')) await copyFile(join(savepoint, name), join(out, name));
    await check(out);
    console.log(`wrote ${out} (from ${savepoint})`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
