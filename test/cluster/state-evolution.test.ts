// State schema evolution across a savepoint (issue 4): a descriptor's version and migration,
// descriptors with their own serializer (keyed and operator state, written to files), and the
// errors that stop a start at once, without restarts, when restored state cannot be read.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FileSink,
  ListStateDescriptor,
  MapStateDescriptor,
  StateMigrationError,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type FunctionInitializationContext,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type ListState,
  type MapState,
  type ProcessFunction,
  type RuntimeContext,
  type StateSerializer,
  type ValueState,
} from '../../src/index.js';
import type { JobMaster } from '../../src/cluster/job-master.js';
import { decodeMetadata } from '../../src/storage/metadata.js';
import { committedLines as visibleLines } from '../connectors/helpers.js';

const RECORDS = 30_000;
const KEYS = 37;

function tmp(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `weir-evo-${prefix}-`));
}

/** JSON text as bytes: a serializer of the user's own, with a version-free id. */
function jsonSerializer<T>(counter?: { serialized: number }): StateSerializer<T> {
  return {
    id: 'json-v1',
    serialize: (v) => {
      if (counter !== undefined) counter.serialized++;
      return new TextEncoder().encode(JSON.stringify(v));
    },
    deserialize: (b) => JSON.parse(new TextDecoder().decode(b)) as T,
  };
}

interface Version {
  /** Schema of 'count': 1 stores a number, 2 stores { n }. */
  countVersion: 1 | 2;
  migrate?: boolean;
  /** Whether 'last' (map state) and 'lines' (operator state) name their serializer. */
  serializer?: boolean;
  /** 'count' declared as map state (a change of kind). */
  countAsMap?: boolean;
}

class Counter implements KeyedProcessFunction<number, number, string> {
  private count!: ValueState<unknown>;
  private last!: MapState<string, { n: number }>;
  constructor(private readonly v: Version) {}
  open(ctx: RuntimeContext): void {
    if (this.v.countAsMap === true) ctx.getMapState(new MapStateDescriptor<string, number>('count'));
    this.count = ctx.getState(
      new ValueStateDescriptor<unknown>('count', {
        version: this.v.countVersion,
        ...(this.v.migrate === true ? { migrate: (old: unknown) => ({ n: old as number }) } : {}),
      }),
    );
    this.last = ctx.getMapState(
      new MapStateDescriptor<string, { n: number }>('last', {
        ...(this.v.serializer !== false ? { serializer: jsonSerializer<{ n: number }>() } : {}),
      }),
    );
  }
  processElement(n: number, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    if (n % 50 === 0) {
      const until = performance.now() + 0.3;
      while (performance.now() < until);
    }
    const stored = this.count.value();
    const before =
      this.v.countVersion === 1
        ? ((stored as number | undefined) ?? 0)
        : ((stored as { n: number } | undefined)?.n ?? 0);
    const c = before + 1;
    this.count.update(this.v.countVersion === 1 ? c : { n: c });
    const prev = this.last.get('n')?.n ?? 0;
    if (prev !== c - 1) throw new Error(`map state lost its value: ${prev} before ${c}`);
    this.last.put('n', { n: c });
    out.collect(`${ctx.getCurrentKey()},${c}`);
  }
}

/** Counts lines in operator list state written by its own serializer. */
class LineCount implements ProcessFunction<string, string> {
  private lines = 0;
  private state!: ListState<{ lines: number }>;
  constructor(private readonly v: Version) {}
  initializeState(ctx: FunctionInitializationContext): void {
    this.state = ctx.operatorStateStore.getListState(
      new ListStateDescriptor<{ lines: number }>('lines', {
        ...(this.v.serializer !== false ? { serializer: jsonSerializer<{ lines: number }>() } : {}),
      }),
    );
    for (const s of this.state.get()) this.lines += s.lines;
  }
  snapshotState(): void {
    this.state.update([{ lines: this.lines }]);
  }
  processElement(line: string, _ctx: unknown, out: Collector<string>): void {
    this.lines++;
    out.collect(line);
  }
}

async function run(
  v: Version,
  o: {
    parallelism: number;
    out: string;
    restoreFrom?: string;
    onStart?: (m: JobMaster) => void;
    log?: string[];
  },
): Promise<string | undefined> {
  const env = new StreamExecutionEnvironment({ parallelism: o.parallelism, execution: { batchSize: 128 } });
  env.setRestartStrategy({ type: 'fixed-delay', attempts: 3, delayMs: 10 });
  env
    .fromSequence(1, RECORDS)
    .setParallelism(1)
    .uid('numbers')
    .keyBy((n) => n % KEYS)
    .process(new Counter(v))
    .uid('count')
    .process(new LineCount(v))
    .uid('lines')
    .sinkTo(new FileSink<string>(o.out))
    .uid('sink');
  const result = await env.execute('evolution', {
    restoreFrom: o.restoreFrom,
    savepointDir: tmp('sp'),
    onStart: o.onStart,
    log: (l) => o.log?.push(l),
  });
  return result.savepointPath;
}

function expected(): string {
  const lines: string[] = [];
  for (let k = 0; k < KEYS; k++) {
    const n = Math.floor(RECORDS / KEYS) + (k !== 0 && k <= RECORDS % KEYS ? 1 : 0);
    for (let c = 1; c <= n; c++) lines.push(`${k},${c}`);
  }
  return lines.sort().join('\n');
}

/** A version-1 savepoint taken by stopping midway, and the output directory it committed to. */
async function v1Savepoint(): Promise<{ path: string; out: string }> {
  const out = tmp('out');
  const path = await run(
    { countVersion: 1 },
    {
      parallelism: 2,
      out,
      onStart: (m) => {
        const poll = setInterval(() => {
          if (m.status().state !== 'running' || m.status().recordsIn < RECORDS / 3) return;
          clearInterval(poll);
          m.stop({});
        }, 5);
      },
    },
  );
  expect(path).toBeDefined();
  return { path: path!, out };
}

describe('state schema evolution across a savepoint', () => {
  it('records serializer and version per state, migrates version 1 to 2, and reads its own serializers at another parallelism', async () => {
    const sp = await v1Savepoint();
    const metadata = decodeMetadata(readFileSync(join(sp.path, '_metadata')), 'test');
    expect(metadata.version).toBe(3); // serializer and version per state came with format 2
    const states = metadata.operators.flatMap((op) => op.subtasks.flatMap((s) => s.states));
    expect(states.find((s) => s.name === 'count')).toMatchObject({ serializer: 'weir-cbor', version: 1 });
    expect(states.find((s) => s.name === 'last')).toMatchObject({ serializer: 'json-v1', version: 1 });
    expect(states.find((s) => s.name === 'lines')).toMatchObject({
      serializer: 'json-v1',
      scope: 'operator',
    });
    const before = visibleLines(sp.out).length;
    expect(before).toBeGreaterThan(0);
    expect(before).toBeLessThan(RECORDS);
    await run({ countVersion: 2, migrate: true }, { parallelism: 3, out: sp.out, restoreFrom: sp.path });
    expect(visibleLines(sp.out).join('\n')).toBe(expected());
  });

  it.each([
    [
      'a newer schema version without a migration',
      { countVersion: 2 } as Version,
      /state 'count' of operator 'KeyedProcess' \(uid 'count'\) has schema version 1 in the snapshot but its descriptor declares version 2 and no migration/,
    ],
    [
      'a descriptor that lost its serializer',
      { countVersion: 1, serializer: false } as Version,
      /state '(last|lines)' of operator '\w+' \(uid '(count|lines)'\) was written by serializer 'json-v1', but its descriptor names none/,
    ],
    [
      'a state that changed kind',
      { countVersion: 1, countAsMap: true } as Version,
      /state 'count' of operator 'KeyedProcess' \(uid 'count'\) is value state in the snapshot, but the job declares it as map state; a state cannot change kind across a restore: give the map state another name/,
    ],
  ])('%s fails the start at once with StateMigrationError, without restarts', async (_what, v, message) => {
    const sp = await v1Savepoint();
    const log: string[] = [];
    const failed = run(v, { parallelism: 2, out: sp.out, restoreFrom: sp.path, log });
    await expect(failed).rejects.toThrow(StateMigrationError);
    await expect(failed).rejects.toThrow(message);
    expect(log.filter((l) => /restart/.test(l))).toEqual([]);
  });

  it('refuses state of a newer schema version than the job declares', async () => {
    const sp = await v1Savepoint();
    const out2 = tmp('v2');
    // A version-2 job resumed from it and stopped again writes version 2 of 'count'.
    const v2Savepoint = await run(
      { countVersion: 2, migrate: true },
      {
        parallelism: 2,
        out: out2,
        restoreFrom: sp.path,
        onStart: (m) => {
          const poll = setInterval(() => {
            if (m.status().state !== 'running' || m.status().recordsIn < 1000) return;
            clearInterval(poll);
            m.stop({});
          }, 5);
        },
      },
    );
    expect(v2Savepoint).toBeDefined();
    await expect(
      run({ countVersion: 1 }, { parallelism: 2, out: out2, restoreFrom: v2Savepoint }),
    ).rejects.toThrow(
      /state 'count' .* has schema version 2 in the snapshot, newer than the version 1 its descriptor declares/,
    );
  });
});
