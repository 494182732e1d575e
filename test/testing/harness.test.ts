import { describe, expect, it } from 'vitest';
import {
  CollectSink,
  InvalidKeyError,
  ListStateDescriptor,
  MapStateDescriptor,
  OperatorFailure,
  StateAccessError,
  StateMigrationError,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type CheckpointedFunction,
  type Collector,
  type FunctionInitializationContext,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type ListState,
  type MapState,
  type ProcessContext,
  type ProcessFunction,
  type RuntimeContext,
  type ValueState,
} from '../../src/index.js';
import {
  HarnessLifecycleError,
  KeyedOperatorTestHarness,
  KeyNotOwnedError,
  OperatorTestHarness,
  stateForSubtask,
  type HarnessOptions,
  type OperatorSubtaskState,
} from '../../src/testing/index.js';
import { keyGroupOf } from '../../src/state/key-group.js';
import { Tally, tallySerializer as tally } from '../state/tally.js';

class Counter implements KeyedProcessFunction<string, string, string> {
  count!: ValueState<number>;
  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }
  processElement(word: string, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    if (word === 'boom') throw new Error('boom!');
    const n = this.count.value()! + 1;
    this.count.update(n);
    out.collect(`${ctx.getCurrentKey()},${n}`);
  }
}

const byWord = (w: string): string => w;

function counter(options: HarnessOptions = {}): KeyedOperatorTestHarness<string, string, string> {
  return KeyedOperatorTestHarness.forProcessFunction(new Counter(), byWord, options);
}

function words(n: number, vocabulary: number): string[] {
  let x = 7;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return `w${x % vocabulary}`;
  });
}

function counts(input: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const w of input) m.set(w, (m.get(w) ?? 0) + 1);
  return m;
}

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

async function rejected(action: () => Promise<unknown>): Promise<unknown> {
  try {
    await action();
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

/** Runs `input` through `p` harnesses as a keyBy would route it, and snapshots each. */
async function runParallel(input: readonly string[], p: number): Promise<OperatorSubtaskState[]> {
  const hs = Array.from({ length: p }, (_, i) => counter({ parallelism: p, subtaskIndex: i }));
  for (const h of hs) await h.open();
  for (const w of input) hs[hs[0]!.subtaskFor(w)]!.processElement(w);
  const snaps = hs.map((h) => h.snapshot(1));
  for (const h of hs) await h.close();
  return snaps;
}

describe('KeyedOperatorTestHarness', () => {
  it('drives a keyed process function and shows its output and state', async () => {
    const h = counter();
    expect(h.phase).toBe('created');
    await h.open();
    expect(h.phase).toBe('open');
    h.processElement('a');
    h.processElements(['b', 'a', 'c', 'a']);
    expect(h.output).toEqual(['a,1', 'b,1', 'a,2', 'c,1', 'a,3']);
    expect(h.state<number>('count')).toEqual(
      new Map([
        ['a', 3],
        ['b', 1],
        ['c', 1],
      ]),
    );
    expect(h.stateFor('count', 'a')).toBe(3);
    expect(h.stateFor('count', 'never')).toBeUndefined();
    expect(h.stateNames()).toEqual(['count']);
    expect(h.takeOutput()).toEqual(['a,1', 'b,1', 'a,2', 'c,1', 'a,3']);
    h.processElement('b');
    expect(h.output).toEqual(['b,2']);
    await h.close();
    expect(h.phase).toBe('closed');
    // State stays readable after close, to check what a run left behind.
    expect(h.stateFor('count', 'b')).toBe(2);
  });

  it('reads state as detached copies', async () => {
    const h = KeyedOperatorTestHarness.forProcessFunction<string, string, never>(
      {
        list: undefined as unknown as ListState<{ w: string }>,
        open(ctx) {
          this.list = ctx.getListState(new ListStateDescriptor<{ w: string }>('seen'));
        },
        processElement(w) {
          this.list.add({ w });
        },
      } as KeyedProcessFunction<string, string, never> & { list: ListState<{ w: string }> },
      byWord,
    );
    await h.open();
    h.processElement('x');
    h.stateFor<Array<{ w: string }>>('seen', 'x')![0]!.w = 'changed';
    h.state<Array<{ w: string }>>('seen').get('x')!.push({ w: 'added' });
    expect(h.stateFor('seen', 'x')).toEqual([{ w: 'x' }]);
  });

  it('works on a copy of the function, as each subtask of a job does', async () => {
    const fn = new Counter();
    const a = KeyedOperatorTestHarness.forProcessFunction(fn, byWord);
    const b = KeyedOperatorTestHarness.forProcessFunction(fn, byWord);
    await a.open();
    await b.open();
    expect(fn.count).toBeUndefined();
    a.processElements(['x', 'x']);
    b.processElement('x');
    expect(a.stateFor('count', 'x')).toBe(2);
    expect(b.stateFor('count', 'x')).toBe(1);
  });

  it('reads array keys and map state with decoded user keys', async () => {
    type Visit = { user: string; day: number; page: string };
    class Pages implements KeyedProcessFunction<readonly [string, number], Visit, never> {
      pages!: MapState<readonly [string, bigint], number>;
      open(ctx: RuntimeContext): void {
        this.pages = ctx.getMapState(new MapStateDescriptor<readonly [string, bigint], number>('pages'));
      }
      processElement(v: Visit): void {
        const k = [v.page, BigInt(v.page.length)] as const;
        this.pages.put(k, (this.pages.get(k) ?? 0) + 1);
      }
    }
    const h = KeyedOperatorTestHarness.forProcessFunction(
      new Pages(),
      (v: Visit) => [v.user, v.day] as const,
    );
    await h.open();
    h.processElements([
      { user: 'u1', day: 3, page: '/a' },
      { user: 'u1', day: 3, page: '/a' },
      { user: 'u1', day: 3, page: '/bb' },
      { user: 'u2', day: 3, page: '/a' },
    ]);
    expect(h.stateFor('pages', ['u1', 3])).toEqual(
      new Map([
        [['/a', 2n], 2],
        [['/bb', 3n], 1],
      ]),
    );
    expect(h.state('pages')).toEqual(
      new Map([
        [
          ['u1', 3],
          new Map([
            [['/a', 2n], 2],
            [['/bb', 3n], 1],
          ]),
        ],
        [['u2', 3], new Map([[['/a', 2n], 1]])],
      ]),
    );
  });

  it('rejects a record of a key group the subtask does not own', async () => {
    const h = counter({ parallelism: 2, subtaskIndex: 0 });
    await h.open();
    const foreign = words(100, 100).find((w) => !h.ownsKey(w))!;
    const own = words(100, 100).find((w) => h.ownsKey(w))!;
    expect(h.subtaskFor(foreign)).toBe(1);
    expect(h.subtaskFor(own)).toBe(0);
    expect(String(h.keyGroupRange)).toBe('[0, 63]');
    h.processElement(own);
    const err = thrown(() => h.processElements([own, foreign, own]));
    expect(err).toBeInstanceOf(KeyNotOwnedError);
    const e = err as KeyNotOwnedError;
    const kg = keyGroupOf(foreign, 128);
    expect([e.key, e.keyGroup, e.owningSubtask, e.harnessSubtask]).toEqual([foreign, kg, 1, 0]);
    expect(e.message).toBe(
      `the record's key "${foreign}" is in key group ${kg}, which subtask index 1 owns; this harness is subtask index 0 ` +
        '(key groups [0, 63]) and would never receive it in a job. Send it to a harness with subtaskIndex: 1, or use parallelism 1',
    );
    // The records before the foreign one were processed; the foreign one left no trace.
    expect(h.output).toEqual([`${own},1`, `${own},2`]);
    expect(h.state('count')).toEqual(new Map([[own, 2]]));
  });

  it('restores a snapshot at parallelism 1 -> 2 and 1 -> 3, each subtask with exactly its keys', async () => {
    const input = words(500, 40);
    const [snap] = await runParallel(input, 1);
    const expected = counts(input);
    for (const p of [2, 3]) {
      const union = new Map<string, number>();
      for (let i = 0; i < p; i++) {
        const h = counter({ parallelism: p, subtaskIndex: i });
        await h.restore([snap!]);
        const mine = h.state<number>('count');
        for (const [w, n] of mine) {
          expect(h.ownsKey(w), `${w} restored into subtask ${i} of ${p}`).toBe(true);
          expect(union.has(w)).toBe(false);
          union.set(w, n);
        }
        await h.close();
      }
      expect(union).toEqual(expected);
    }
  });

  it('restores the snapshots of parallelism 2 at parallelism 1, merging every key', async () => {
    const input = words(500, 40);
    const snaps = await runParallel(input, 2);
    const h = counter();
    await h.restore(snaps);
    expect(h.state('count')).toEqual(counts(input));
    const again = counter({ parallelism: 2, subtaskIndex: 1 });
    await again.restore(snaps);
    expect(again.state('count')).toEqual(
      new Map([...counts(input)].filter(([w]) => again.subtaskFor(w) === 1)),
    );
  });

  it('keeps counting after a restore at 1 -> 2 and 2 -> 1', async () => {
    // Fails because of the HeapKeyedStateBackend bug shown in test/state/keyed-state-backend.test.ts:
    // state restored in initializeState gets an undefined handle when the function asks for it
    // in open, so the first record after any restore throws "Cannot read properties of undefined".
    const first = words(300, 30);
    const second = words(200, 30).reverse();
    const [one] = await runParallel(first, 1);
    const running = counts(first);
    const two = [0, 1].map((i) => counter({ parallelism: 2, subtaskIndex: i }));
    for (const h of two) await h.restore([one!]);
    const expectedOutput: string[][] = [[], []];
    for (const w of second) {
      const i = two[0]!.subtaskFor(w);
      running.set(w, (running.get(w) ?? 0) + 1);
      expectedOutput[i]!.push(`${w},${running.get(w)}`);
      two[i]!.processElement(w);
    }
    expect(two.map((h) => h.output)).toEqual(expectedOutput);
    const back = counter();
    await back.restore(two.map((h) => h.snapshot(2)));
    expect(back.state('count')).toEqual(running);
    back.processElement('w1');
    expect(back.output).toEqual([`w1,${running.get('w1')! + 1}`]);
  });

  it('routes and counts like a job at the same parallelism', async () => {
    // The harness stands in for a subtask of a job; if its key routing or state scoping drifted
    // from the runtime's, tests passing here would prove nothing about jobs.
    class WhereCounted extends Counter {
      override processElement(w: string, ctx: KeyedProcessContext<string>, out: Collector<string>): void {
        super.processElement(w, ctx, { collect: (line) => out.collect(`${ctx.subtaskIndex}:${line}`) });
      }
    }
    const input = words(400, 50);
    const env = new StreamExecutionEnvironment({ parallelism: 3 });
    const sink = new CollectSink<string>();
    env.fromCollection(input).keyBy(byWord).process(new WhereCounted()).sinkTo(sink);
    await env.execute();

    const hs = [0, 1, 2].map((i) =>
      KeyedOperatorTestHarness.forProcessFunction(new WhereCounted(), byWord, {
        parallelism: 3,
        subtaskIndex: i,
      }),
    );
    for (const h of hs) await h.open();
    for (const w of input) hs[hs[0]!.subtaskFor(w)]!.processElement(w);
    expect(hs.flatMap((h) => h.output).sort()).toEqual([...sink.results].sort());
  });

  it('refuses a snapshot of another max parallelism, naming the operator', async () => {
    const [snap] = await runParallel(['a'], 1);
    const h = counter({ maxParallelism: 256, name: 'Counter' });
    const err = await rejected(() => h.restore([snap!]));
    expect(err).toBeInstanceOf(OperatorFailure);
    expect((err as OperatorFailure).phase).toBe('initializeState');
    expect((err as OperatorFailure).cause).toBeInstanceOf(StateAccessError);
    expect((err as Error).message).toMatch(
      /^operator 'Counter', subtask 1\/1, failed in initializeState: StateAccessError: state was written with max parallelism 128 but the job now has 256/,
    );
    expect(h.phase).toBe('failed');
  });

  it('lets a restored state without entries be declared with another kind, but not one with entries', async () => {
    class AsValue implements KeyedProcessFunction<string, string, string> {
      private x!: ValueState<number>;
      constructor(private readonly write: boolean) {}
      open(ctx: RuntimeContext): void {
        this.x = ctx.getState(new ValueStateDescriptor<number>('x'));
      }
      processElement(w: string, _ctx: unknown, out: Collector<string>): void {
        if (this.write) this.x.update(1);
        out.collect(w);
      }
    }
    class AsMap implements KeyedProcessFunction<string, string, string> {
      open(ctx: RuntimeContext): void {
        ctx.getMapState(new MapStateDescriptor<string, number>('x'));
      }
      processElement(w: string, _ctx: unknown, out: Collector<string>): void {
        out.collect(w);
      }
    }
    for (const write of [false, true]) {
      const v1 = KeyedOperatorTestHarness.forProcessFunction(new AsValue(write), byWord);
      await v1.open();
      v1.processElements(['a', 'b']);
      const snap = v1.snapshot(1);
      const v2 = KeyedOperatorTestHarness.forProcessFunction(new AsMap(), byWord, { name: 'M' });
      if (!write) {
        await v2.restore([snap]);
        expect(v2.stateNames()).toEqual(['x']);
        continue;
      }
      const err = await rejected(() => v2.restore([snap]));
      expect((err as OperatorFailure).cause).toBeInstanceOf(StateMigrationError);
      expect((err as Error).message).toMatch(
        /state 'x' of .* is value state in the snapshot, but the job declares it as map state/,
      );
    }
  });

  it('restores a state of a later schema version as it is, at any parallelism (no second migration)', async () => {
    class CounterV2 implements KeyedProcessFunction<string, string, string> {
      private count!: ValueState<{ n: number }>;
      open(ctx: RuntimeContext): void {
        this.count = ctx.getState(
          new ValueStateDescriptor<{ n: number }>('count', {
            version: 2,
            migrate: (old) => ({ n: old as number }),
          }),
        );
      }
      processElement(w: string, _ctx: unknown, out: Collector<string>): void {
        this.count.update({ n: (this.count.value()?.n ?? 0) + 1 });
        out.collect(w);
      }
    }
    const h = KeyedOperatorTestHarness.forProcessFunction(new CounterV2(), byWord);
    await h.open();
    h.processElements(['a', 'a', 'b']);
    const snap = h.snapshot(1);
    for (const p of [1, 2]) {
      const counts = new Map<string, unknown>();
      for (let i = 0; i < p; i++) {
        const r = KeyedOperatorTestHarness.forProcessFunction(new CounterV2(), byWord, {
          parallelism: p,
          subtaskIndex: i,
        });
        await r.restore([snap]);
        for (const [k, v] of r.state('count')) counts.set(k as string, v);
      }
      expect(counts).toEqual(
        new Map([
          ['a', { n: 2 }],
          ['b', { n: 1 }],
        ]),
      );
    }
    // Snapshots that disagree on the format cannot be one run's.
    const older = {
      ...snap,
      keyed: {
        ...snap.keyed!,
        states: snap.keyed!.states.map((st) => ({ ...st, format: { serializer: 'weir-cbor', version: 1 } })),
      },
    };
    expect(() => stateForSubtask([snap, older], 1, 0)).toThrow(
      /state 'count' is stored as 'weir-cbor' version 2 in one snapshot and as 'weir-cbor' version 1 in another/,
    );
  });

  it('keeps class instances of a state with its own serializer across snapshot and restore, at any parallelism', async () => {
    class Counter implements KeyedProcessFunction<string, string, string> {
      private t!: ValueState<Tally>;
      open(ctx: RuntimeContext): void {
        this.t = ctx.getState(new ValueStateDescriptor<Tally>('t', { serializer: tally }));
      }
      processElement(w: string, _ctx: unknown, out: Collector<string>): void {
        this.t.update((this.t.value() ?? new Tally()).inc());
        out.collect(`${w},${this.t.value()!.n}`);
      }
    }
    const h = KeyedOperatorTestHarness.forProcessFunction(new Counter(), byWord);
    await h.open();
    h.processElements(['a', 'b', 'a']);
    const snap = h.snapshot(1);
    // How to copy its values travels with the snapshot, out of sight: it compares as plain data.
    expect(Object.keys(snap.keyed!.states[0]!)).toEqual(['name', 'kind', 'format', 'keyGroups']);
    for (const p of [1, 2]) {
      const out: string[] = [];
      for (let i = 0; i < p; i++) {
        const r = KeyedOperatorTestHarness.forProcessFunction(new Counter(), byWord, {
          parallelism: p,
          subtaskIndex: i,
        });
        await r.restore([snap]);
        for (const w of ['a', 'b']) if (r.ownsKey(w)) r.processElement(w);
        out.push(...r.output);
      }
      expect(out.sort()).toEqual(['a,3', 'b,2']);
    }
  });

  it('drives a rolling reduce', async () => {
    type Sale = { shop: string; amount: number };
    const h = KeyedOperatorTestHarness.forReduce<Sale, string>(
      (a, b) => ({ shop: a.shop, amount: a.amount + b.amount }),
      (s) => s.shop,
    );
    await h.open();
    h.processElements([
      { shop: 'x', amount: 1 },
      { shop: 'y', amount: 10 },
      { shop: 'x', amount: 2 },
    ]);
    expect(h.output).toEqual([
      { shop: 'x', amount: 1 },
      { shop: 'y', amount: 10 },
      { shop: 'x', amount: 3 },
    ]);
    expect(h.stateFor('_reduce', 'x')).toEqual({ shop: 'x', amount: 3 });
    expect(h.name).toBe('Reduce');
    const snap = h.snapshot(1);
    expect(snap.keyed?.states.map((s) => [s.name, s.kind])).toEqual([['_reduce', 'value']]);
  });

  it('attributes a function error to the operator, with the original as cause', async () => {
    const h = counter({ name: 'Word counter', uid: 'counter', parallelism: 4, subtaskIndex: 2 });
    await h.open();
    const boomOwner = h.subtaskFor('boom');
    const h2 = counter({ name: 'Word counter', uid: 'counter', parallelism: 4, subtaskIndex: boomOwner });
    await h2.open();
    const err = thrown(() => h2.processElement('boom'));
    expect(err).toBeInstanceOf(OperatorFailure);
    const f = err as OperatorFailure;
    expect(f.message).toBe(
      `operator 'Word counter' (uid 'counter'), subtask ${boomOwner + 1}/4, failed in processElement: boom!`,
    );
    expect([f.operatorName, f.uid, f.subtaskIndex, f.parallelism, f.phase]).toEqual([
      'Word counter',
      'counter',
      boomOwner,
      4,
      'processElement',
    ]);
    expect((f.cause as Error).message).toBe('boom!');

    const plain = counter();
    await plain.open();
    expect((thrown(() => plain.processElement('boom')) as Error).message).toBe(
      "operator 'KeyedProcess', subtask 1/1, failed in processElement: boom!",
    );
  });

  it('attributes key selector errors and invalid keys to the operator', async () => {
    const h = KeyedOperatorTestHarness.forProcessFunction(new Counter(), (w: string) => {
      if (w === 'bad') throw new TypeError('no key for bad');
      return (w === 'object' ? { w } : w) as string;
    });
    await h.open();
    const e1 = thrown(() => h.processElement('bad')) as OperatorFailure;
    expect(e1).toBeInstanceOf(OperatorFailure);
    expect(e1.message).toBe(
      "operator 'KeyedProcess', subtask 1/1, failed in its key selector: TypeError: no key for bad",
    );
    const e2 = thrown(() => h.processElement('object')) as OperatorFailure;
    expect(e2.phase).toBe('its key selector');
    expect(e2.cause).toBeInstanceOf(InvalidKeyError);
    expect(e2.message).toMatch(/got an object \(Object\)/);
  });

  it('attributes open and close errors, and still closes after a failed open', async () => {
    const closed: string[] = [];
    const failing: KeyedProcessFunction<string, string, string> = {
      open() {
        throw new Error('cannot open');
      },
      close() {
        closed.push('closed');
      },
      processElement() {},
    };
    const h = KeyedOperatorTestHarness.forProcessFunction(failing, byWord, { name: 'Opener' });
    const err = await rejected(() => h.open());
    expect((err as Error).message).toBe("operator 'Opener', subtask 1/1, failed in open: cannot open");
    expect(h.phase).toBe('failed');
    expect(thrown(() => h.processElement('a'))).toBeInstanceOf(HarnessLifecycleError);
    await h.close();
    expect(closed).toEqual(['closed']);

    const badClose = KeyedOperatorTestHarness.forProcessFunction(
      { processElement() {}, close: () => Promise.reject(new RangeError('disk gone')) },
      byWord,
    );
    await badClose.open();
    expect(((await rejected(() => badClose.close())) as OperatorFailure).message).toBe(
      "operator 'KeyedProcess', subtask 1/1, failed in close: RangeError: disk gone",
    );
  });

  it('has no current key outside processElement', async () => {
    // In a job keyed state has no key in close(); the harness must not leave the last one set.
    class ReadsInClose extends Counter {
      close(): void {
        this.count.value();
      }
    }
    const h = KeyedOperatorTestHarness.forProcessFunction(new ReadsInClose(), byWord);
    await h.open();
    h.processElement('a');
    const err = (await rejected(() => h.close())) as OperatorFailure;
    expect(err.phase).toBe('close');
    expect(err.cause).toBeInstanceOf(StateAccessError);
  });

  it('enforces the lifecycle a job follows', async () => {
    const h = counter({ name: 'C' });
    expect(thrown(() => h.processElement('a'))).toBeInstanceOf(HarnessLifecycleError);
    expect((thrown(() => h.processElement('a')) as Error).message).toBe(
      "processElement() is not allowed in phase 'created' of operator 'C': call open() or restore() first",
    );
    expect(thrown(() => h.snapshot(1))).toBeInstanceOf(HarnessLifecycleError);
    await h.open();
    expect(((await rejected(() => h.open())) as Error).message).toMatch(
      /open\(\) is not allowed in phase 'open'/,
    );
    expect(await rejected(() => h.restore([]))).toBeInstanceOf(HarnessLifecycleError);
    await h.endInput();
    expect(h.phase).toBe('finished');
    expect((thrown(() => h.processElements(['a'])) as Error).message).toMatch(/endInput\(\) was called/);
    // A task drops its processing-time timers at the end of its input: none fire after it.
    expect((thrown(() => h.setProcessingTime(10)) as Error).message).toMatch(
      /setProcessingTime\(\) is not allowed in phase 'finished'/,
    );
    expect(h.snapshot(3).keyed?.maxParallelism).toBe(128);
    await h.close();
    await h.close();
    expect((thrown(() => h.processElement('a')) as Error).message).toMatch(/the harness is closed/);
    // A harness that was never opened closes without calling the function.
    await counter().close();
  });

  it('validates where it runs like a job does', () => {
    expect(() => counter({ parallelism: 2, subtaskIndex: 2 })).toThrow('subtask index 2 is outside [0, 2)');
    expect(() => counter({ parallelism: 200 })).toThrow(/max parallelism 128\], got 200/);
    expect(() => counter({ maxParallelism: 0 })).toThrow(RangeError);
    expect(() => KeyedOperatorTestHarness.forProcessFunction(new Counter(), undefined as never)).toThrow(
      /key selector/,
    );
  });

  it('names the keyed states it has when asked for an unknown one', async () => {
    const h = counter();
    await h.open();
    expect(() => h.state('cnt')).toThrow(StateAccessError);
    expect(() => h.stateFor('cnt', 'a')).toThrow(
      "operator 'KeyedProcess' has no keyed state named 'cnt' (yet); it has 'count'",
    );
  });
});

/** Buffers records in split operator state and emits them at end of input; counts in union state. */
class Buffer implements ProcessFunction<number, string>, CheckpointedFunction {
  pending: number[] = [];
  seen = 0;
  private state!: ListState<number>;
  private seenState!: ListState<number>;
  initializeState(ctx: FunctionInitializationContext): void {
    this.state = ctx.operatorStateStore.getListState(new ListStateDescriptor<number>('pending'));
    this.seenState = ctx.operatorStateStore.getUnionListState(new ListStateDescriptor<number>('seen'));
    this.pending = [...this.state.get()];
  }
  snapshotState(): void {
    this.state.update(this.pending);
    this.seenState.update([this.seen]);
  }
  processElement(n: number, ctx: ProcessContext): void {
    this.seen++;
    this.pending.push(n * 10 + ctx.subtaskIndex);
  }
  endInput(out: Collector<string>): void {
    out.collect(this.pending.join(' '));
  }
}

describe('OperatorTestHarness', () => {
  it('drives map, filter and flatMap functions', async () => {
    const m = OperatorTestHarness.forMap((s: string) => s.length);
    const f = OperatorTestHarness.forFilter((n: number) => n % 2 === 0);
    const fm = OperatorTestHarness.forFlatMap((s: string, out: Collector<string>) => {
      for (const c of s) out.collect(c);
    });
    const fmReturning = OperatorTestHarness.forFlatMap({ flatMap: (s: string) => s.split(',') });
    for (const h of [m, f, fm, fmReturning]) await h.open();
    m.processElements(['a', 'abc']);
    f.processElements([1, 2, 3, 4]);
    fm.processElement('hé');
    fmReturning.processElement('x,y');
    expect(m.output).toEqual([1, 3]);
    expect(f.output).toEqual([2, 4]);
    expect(fm.output).toEqual(['h', 'é']);
    expect(fmReturning.output).toEqual(['x', 'y']);
    expect([m.name, f.name, fm.name]).toEqual(['Map', 'Filter', 'FlatMap']);
  });

  it('gives the function the runtime context of its subtask', async () => {
    let seen: unknown;
    const h = OperatorTestHarness.forMap(
      {
        open(ctx: RuntimeContext) {
          seen = [
            ctx.jobName,
            ctx.operatorName,
            ctx.uid,
            ctx.subtaskIndex,
            ctx.parallelism,
            ctx.maxParallelism,
          ];
        },
        map: (n: number) => n,
      },
      { name: 'Id', uid: 'id', parallelism: 3, subtaskIndex: 2, maxParallelism: 64, jobName: 'my job' },
    );
    await h.open();
    expect(seen).toEqual(['my job', 'Id', 'id', 2, 3, 64]);
  });

  it('refuses keyed state in a function on a non-keyed stream', async () => {
    const h = OperatorTestHarness.forMap({
      open(ctx: RuntimeContext) {
        ctx.getState(new ValueStateDescriptor<number>('x'));
      },
      map: (n: number) => n,
    });
    const err = (await rejected(() => h.open())) as OperatorFailure;
    expect(err.phase).toBe('open');
    expect(err.cause).toBeInstanceOf(StateAccessError);
    expect(err.message).toMatch(/asked for keyed state 'x' but its input is not keyed/);
  });

  it('snapshots operator state and restores it split or unioned at another parallelism', async () => {
    const olds = [0, 1].map((i) =>
      OperatorTestHarness.forProcessFunction(new Buffer(), { parallelism: 2, subtaskIndex: i }),
    );
    for (const h of olds) await h.open();
    olds[0]!.processElements([1, 2, 3]);
    olds[1]!.processElements([4, 5]);
    const snaps = olds.map((h) => h.snapshot(7));
    expect(olds[0]!.operatorState('pending')).toEqual([10, 20, 30]);
    expect(olds[1]!.operatorState('seen')).toEqual([2]);

    const news = [0, 1, 2].map((i) =>
      OperatorTestHarness.forProcessFunction(new Buffer(), { parallelism: 3, subtaskIndex: i }),
    );
    for (const h of news) await h.restore(snaps);
    const parts = news.map((h) => h.operatorState<number>('pending'));
    expect(parts.flat()).toEqual([10, 20, 30, 41, 51]);
    expect(parts.map((p) => p.length)).toEqual([1, 2, 2]);
    for (const h of news) expect(h.operatorState('seen')).toEqual([3, 2]);
    for (const h of news) await h.endInput();
    expect(news.map((h) => h.output)).toEqual([['10'], ['20 30'], ['41 51']]);

    // stateForSubtask is what restore() gives each subtask.
    expect(stateForSubtask(snaps, 3, 1).operator?.states.find((s) => s.name === 'pending')?.entries).toEqual([
      20, 30,
    ]);
  });

  it('opens from the exact state of one subtask, and tells the function it was restored', async () => {
    const inits: Array<[boolean, number, number]> = [];
    class Logged extends Buffer {
      override initializeState(ctx: FunctionInitializationContext): void {
        inits.push([ctx.isRestored, ctx.subtaskIndex, ctx.parallelism]);
        super.initializeState(ctx);
      }
    }
    const fresh = new Logged();
    const h = OperatorTestHarness.forProcessFunction(fresh, { parallelism: 2, subtaskIndex: 1 });
    await h.open();
    h.processElement(1);
    const snap = h.snapshot(1);
    const restored = OperatorTestHarness.forProcessFunction(new Logged());
    await restored.open(snap);
    await restored.endInput();
    expect(restored.output).toEqual(['11']);
    expect(inits).toEqual([
      [false, 1, 2],
      [true, 0, 1],
    ]);
    // The harness opened a copy, as a subtask does; the object passed in is untouched.
    expect(fresh.pending).toEqual([]);
  });

  it('forwards checkpoint notifications and snapshot errors', async () => {
    const notified: number[] = [];
    const h = OperatorTestHarness.forProcessFunction<number, number>({
      processElement() {},
      snapshotState() {
        throw new Error('cannot snapshot');
      },
      initializeState() {},
      notifyCheckpointComplete(id) {
        notified.push(id);
      },
    });
    await h.open();
    await h.notifyCheckpointComplete(4);
    expect(notified).toEqual([4]);
    expect((thrown(() => h.snapshot(5)) as Error).message).toBe(
      "operator 'Process', subtask 1/1, failed in snapshotState: cannot snapshot",
    );
  });

  it('names the operator states it has when asked for an unknown one', async () => {
    const h = OperatorTestHarness.forProcessFunction(new Buffer());
    await h.open();
    expect(() => h.operatorState('pend')).toThrow(
      "operator 'Process' has no operator state named 'pend'; it has 'pending', 'seen'",
    );
  });
});

describe('stateForSubtask', () => {
  it('refuses snapshots that disagree on max parallelism', () => {
    const a: OperatorSubtaskState = { keyed: { maxParallelism: 128, states: [] } };
    const b: OperatorSubtaskState = { keyed: { maxParallelism: 64, states: [] } };
    expect(() => stateForSubtask([a, b], 1, 0)).toThrow(
      'the snapshots disagree on max parallelism (128 and 64)',
    );
    expect(() => stateForSubtask([], 1, 0)).toThrow(RangeError);
  });

  it('cuts keyed state to the key groups of the subtask', () => {
    const snap: OperatorSubtaskState = {
      keyed: {
        maxParallelism: 4,
        states: [
          {
            name: 's',
            kind: 'value',
            keyGroups: [0, 1, 2, 3].map((g) => ({
              keyGroup: g,
              entries: [[`k${g}`, g] as [unknown, unknown]],
            })),
          },
        ],
      },
      operator: { states: [] },
    };
    const parts = [0, 1, 2].map((i) =>
      stateForSubtask([snap], 3, i).keyed!.states[0]!.keyGroups.map((g) => g.keyGroup),
    );
    expect(parts).toEqual([[0, 1], [2], [3]]);
  });
});
