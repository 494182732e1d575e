// The harnesses for two-input operators: a keyed co-process function, keyed and non-keyed
// broadcast process functions, and a co-process function, driven input by input, with their
// state through a snapshot restored at another parallelism.
import { describe, expect, it } from 'vitest';
import {
  ListStateDescriptor,
  MapStateDescriptor,
  OperatorFailure,
  type Collector,
  type KeyedBroadcastContext,
  type KeyedBroadcastProcessFunction,
  type KeyedReadOnlyBroadcastContext,
  type ListState,
  type RuntimeContext,
} from '../../src/index.js';
import { KeyedOperatorTestHarness, OperatorTestHarness } from '../../src/testing/index.js';
import { MatchPayments, type Order, type Payment } from '../runtime/match-payments.js';

describe('keyed co-process harness', () => {
  const harness = (options = {}) =>
    KeyedOperatorTestHarness.forKeyedCoProcessFunction(
      new MatchPayments(),
      (o: Order) => o.id,
      (p: Payment) => p.orderId,
      options,
    );

  it('keys each input by its own selector; the waiting side survives a restore at p=2', async () => {
    const h = harness();
    await h.open();
    const ids = Array.from({ length: 40 }, (_, i) => i);
    for (const id of ids.slice(0, 20)) h.processElement({ id, amount: 1 });
    for (const id of ids.slice(10, 30)) h.processElement2({ orderId: id, paid: 2 });
    expect([...h.output].sort()).toEqual(
      ids
        .slice(10, 20)
        .map((id) => `${id},1,2`)
        .sort(),
    );
    expect(h.state('order').size).toBe(10); // 0..9 wait for payments
    expect(h.state('payment').size).toBe(10); // 20..29 wait for orders
    const snapshot = h.snapshot(1);
    await h.close();
    const out: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = harness({ parallelism: 2, subtaskIndex: i });
      await r.restore([snapshot]);
      for (const id of ids.slice(0, 10)) if (r.ownsKey(id)) r.processElement2({ orderId: id, paid: 3 });
      for (const id of ids.slice(20, 30)) if (r.ownsKey(id)) r.processElement({ id, amount: 4 });
      out.push(...r.output);
      expect(r.state('order').size + r.state('payment').size).toBe(0);
    }
    expect(out.sort()).toEqual(
      [...ids.slice(0, 10).map((id) => `${id},1,3`), ...ids.slice(20, 30).map((id) => `${id},4,2`)].sort(),
    );
  });

  it('a key selector error of the second input names the operator', async () => {
    const h = KeyedOperatorTestHarness.forKeyedCoProcessFunction(
      new MatchPayments(),
      (o: Order) => o.id,
      (): number => {
        throw new Error('no key');
      },
    );
    await h.open();
    expect(() => h.processElement2({ orderId: 1, paid: 1 })).toThrow(OperatorFailure);
    expect(() => h.processElement2({ orderId: 1, paid: 1 })).toThrow(/KeyedCoProcess/);
  });
});

const LIMITS = new MapStateDescriptor<string, number>('limits');
const SEEN = new ListStateDescriptor<number>('seen');

/** Keeps each user's amounts; a new limit for a category reports every kept amount above it. */
class Limits implements KeyedBroadcastProcessFunction<
  string,
  { user: string; v: number },
  { cat: string; max: number },
  string
> {
  seen!: ListState<number>;
  open(ctx: RuntimeContext): void {
    this.seen = ctx.getListState(SEEN);
  }
  processElement(
    e: { user: string; v: number },
    ctx: KeyedReadOnlyBroadcastContext<string>,
    out: Collector<string>,
  ): void {
    this.seen.add(e.v);
    const max = ctx.getBroadcastState(LIMITS).get('all');
    if (max !== undefined && e.v > max) out.collect(`${e.user} over ${max}: ${e.v}`);
  }
  processBroadcastElement(
    r: { cat: string; max: number },
    ctx: KeyedBroadcastContext<string>,
    out: Collector<string>,
  ): void {
    ctx.getBroadcastState(LIMITS).put(r.cat, r.max);
    ctx.applyToKeyedState(SEEN, (user, state) => {
      for (const v of state.get()) if (v > r.max) out.collect(`${user} was over ${r.max}: ${v}`);
    });
  }
}

describe('keyed broadcast harness', () => {
  const harness = (options = {}) =>
    KeyedOperatorTestHarness.forKeyedBroadcastProcessFunction(
      new Limits(),
      (e: { user: string }) => e.user,
      [LIMITS],
      options,
    );

  it('the broadcast side reaches every key through applyToKeyedState; every subtask restores the broadcast state', async () => {
    const h = harness();
    await h.open();
    h.processElement({ user: 'ann', v: 5 });
    h.processElement({ user: 'bob', v: 50 });
    h.processElement({ user: 'bob', v: 7 });
    expect(h.output).toEqual([]);
    h.processBroadcastElement({ cat: 'all', max: 6 });
    expect([...h.takeOutput()].sort()).toEqual(['bob was over 6: 50', 'bob was over 6: 7']);
    h.processElement({ user: 'ann', v: 9 });
    expect(h.takeOutput()).toEqual(['ann over 6: 9']);
    const snapshot = h.snapshot(1);
    for (let i = 0; i < 3; i++) {
      const r = harness({ parallelism: 3, subtaskIndex: i });
      await r.restore([snapshot]);
      expect(r.operatorState<[string, number]>('limits')).toEqual([['all', 6]]);
      for (const user of ['ann', 'bob', 'cy']) if (r.ownsKey(user)) r.processElement({ user, v: 8 });
      expect(r.output.length).toBe(['ann', 'bob', 'cy'].filter((u) => r.ownsKey(u)).length);
    }
  });

  it('the broadcast side has no key: keyed state there is an error', async () => {
    const h = KeyedOperatorTestHarness.forKeyedBroadcastProcessFunction(
      {
        seen: undefined as unknown as ListState<number>,
        open(ctx: RuntimeContext) {
          this.seen = ctx.getListState(SEEN);
        },
        processElement() {},
        processBroadcastElement() {
          this.seen.add(1);
        },
      } as KeyedBroadcastProcessFunction<string, string, string, string> & { seen: ListState<number> },
      (s: string) => s,
      [LIMITS],
    );
    await h.open();
    expect(() => h.processBroadcastElement('x')).toThrow(/key/);
  });
});

describe('non-keyed two-input harnesses', () => {
  it('a co-process function sees each input by its method', async () => {
    const h = OperatorTestHarness.forCoProcessFunction<number, string, string>({
      processElement1: (n, ctx, out) => out.collect(`n${n}@${ctx.timestamp()}`),
      processElement2: (s, _ctx, out) => out.collect(`s${s}`),
    });
    await h.open();
    h.processElement(1, 100);
    h.processElement2('a');
    expect(h.output).toEqual(['n1@100', 'sa']);
  });

  it('a broadcast process function: the broadcast state is read-only on the other side', async () => {
    const h = OperatorTestHarness.forBroadcastProcessFunction<string, [string, number], string>(
      {
        processElement(s, ctx, out) {
          out.collect(`${s}=${ctx.getBroadcastState(LIMITS).get(s) ?? '?'}`);
          if (s === 'write')
            (ctx.getBroadcastState(LIMITS) as unknown as { put(k: string, v: number): void }).put(s, 1);
        },
        processBroadcastElement([k, v], ctx) {
          ctx.getBroadcastState(LIMITS).put(k, v);
        },
      },
      [LIMITS],
    );
    await h.open();
    h.processElement('a');
    h.processBroadcastElement(['a', 3]);
    h.processElement('a');
    expect(h.output).toEqual(['a=?', 'a=3']);
    expect(() => h.processElement('write')).toThrow(/read-only outside processBroadcastElement/);
  });
});
