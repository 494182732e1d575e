// Keyed processing on generated data, after Flink's fraud-detection walkthrough: a small
// transaction (< 1.00) followed, on the same account, by a large one (> 500.00) raises an alert.
//
//   weir run examples/fraud-detection.ts -p 2 -- --transactions 100000 --accounts 500
//
// Transactions are generated deterministically from their sequence number by one source subtask,
// so each account's transactions arrive in order and every run, at any parallelism of the
// detector, raises the same alerts.
import {
  defineJob,
  parseJobArgs,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type RuntimeContext,
  type ValueState,
} from 'weir';

interface Transaction {
  readonly id: number;
  readonly accountId: number;
  readonly amount: number;
}

const SMALL = 1.0;
const LARGE = 500.0;

/** A cheap deterministic mix of the sequence number, standing in for real traffic. */
function transaction(id: number, accounts: number): Transaction {
  let h = Math.imul(id ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  const u = (h >>> 0) / 0x1_0000_0000;
  const bucket = u * 100;
  // 3 % tiny amounts, 2 % large ones, the rest ordinary.
  const amount = bucket < 3 ? bucket / 4 : bucket < 5 ? 500 + bucket * 100 : 10 + bucket * 2;
  return { id, accountId: (h >>> 8) % accounts, amount: Math.round(amount * 100) / 100 };
}

class FraudDetector implements KeyedProcessFunction<number, Transaction, string> {
  private lastWasSmall!: ValueState<boolean>;

  open(ctx: RuntimeContext): void {
    this.lastWasSmall = ctx.getState(new ValueStateDescriptor<boolean>('last-was-small'));
  }

  processElement(tx: Transaction, _ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    if (this.lastWasSmall.value() === true && tx.amount > LARGE) {
      out.collect(`alert: account ${tx.accountId}, transaction ${tx.id}, amount ${tx.amount.toFixed(2)}`);
    }
    this.lastWasSmall.update(tx.amount < SMALL ? true : undefined);
  }
}

export default defineJob({
  name: 'fraud-detection',
  build(env, args) {
    const a = parseJobArgs(args, ['transactions', 'accounts']);
    const count = a.integer('transactions', 100_000);
    const accounts = Math.max(1, a.integer('accounts', 500));
    env
      .fromSequence(1, Math.max(1, count))
      .uid('transactions')
      .setParallelism(1)
      .map((id) => transaction(id, accounts))
      .name('generate')
      .uid('generate')
      .setParallelism(1)
      .keyBy((tx) => tx.accountId)
      .process(new FraudDetector())
      .name('detect')
      .uid('detect')
      .print()
      .uid('alerts');
  },
});
