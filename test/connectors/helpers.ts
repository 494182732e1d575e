// Shared by the file connector tests: temporary directories, a fake runtime context for driving a
// reader or writer without a job, and draining a reader the way a source task does; and, for any
// test of a job writing through FileSink, its committed output.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  FileSink,
  type RuntimeContext,
  type SinkWriter,
  type SourceOutput,
  type SourceReader,
  type SourceReaderContext,
} from '../../src/index.js';
import { OperatorStateStore } from '../../src/state/operator-state-store.js';
import type { OperatorStateSnapshot } from '../../src/state/snapshot.js';

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `weir-${prefix}-`));
}

export function writeFiles(root: string, files: Record<string, string | Buffer>): void {
  for (const [rel, content] of Object.entries(files)) {
    const full = path.join(root, rel);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, content);
  }
}

/**
 * The lines FileSink has committed in `dir` (files whose names do not begin with `.` or `_`),
 * sorted, so outputs of runs at different parallelism compare as they are.
 */
export function committedLines(dir: string): string[] {
  const out: string[] = [];
  for (const f of fs.readdirSync(dir)) {
    if (f.startsWith('.') || f.startsWith('_')) continue;
    for (const l of fs.readFileSync(path.join(dir, f), 'utf8').split('\n')) if (l !== '') out.push(l);
  }
  return out.sort();
}

/** The lines of a file's content as the file source defines them, computed the simple way. */
export function linesOf(content: string): string[] {
  if (content === '') return [];
  const lines = content.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
}

function noKeyedState(): never {
  throw new Error('no keyed state in this test');
}

export function fakeContext(
  subtaskIndex: number,
  parallelism: number,
  batchSize = 1024,
): SourceReaderContext {
  const ctx: RuntimeContext & { batchSize: number } = {
    jobName: 'test',
    jobId: 'test-job-id',
    operatorId: 'test-operator',
    operatorName: 'test',
    uid: undefined,
    subtaskIndex,
    parallelism,
    maxParallelism: 128,
    batchSize,
    getState: noKeyedState,
    getListState: noKeyedState,
    getMapState: noKeyedState,
    getReducingState: noKeyedState,
    getAggregatingState: noKeyedState,
  };
  return ctx;
}

/**
 * Polls like a source task, collecting into `into`, until end of input or until at least
 * `limit` records were emitted. Returns true at end of input.
 */
export async function drain<T>(reader: SourceReader<T>, into: T[], limit = Infinity): Promise<boolean> {
  const out: SourceOutput<T> = { collect: (r) => into.push(r) };
  const before = into.length;
  for (;;) {
    const status = reader.pollNext(out);
    if (status === 'end-of-input') return true;
    if (into.length - before >= limit) return false;
    if (status === 'nothing-available') await reader.isAvailable!();
  }
}

/** Open file descriptors of this process (Linux only). */
export function openFdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/**
 * A FileSink writer of `dir` as subtask 0 of 1, initialized the way a task does it: restored from
 * `restored`, or fresh; with the store its state goes to.
 */
export async function sinkWriter(
  dir: string,
  restored?: OperatorStateSnapshot,
  attemptStartTime?: number,
): Promise<{ writer: SinkWriter<string>; store: OperatorStateStore }> {
  const writer = await new FileSink<string>(dir).createWriter(fakeContext(0, 1));
  const store = new OperatorStateStore();
  if (restored !== undefined) store.restore(restored);
  await writer.initializeState!({
    isRestored: restored !== undefined,
    operatorStateStore: store,
    subtaskIndex: 0,
    parallelism: 1,
    ...(attemptStartTime === undefined ? {} : { attemptStartTime }),
  });
  return { writer, store };
}
