// A keyed co-process function for tests: orders and payments arrive in any order, and an order
// is complete when its payment has arrived, whichever came first.
import type {
  Collector,
  KeyedCoProcessFunction,
  KeyedProcessContext,
  RuntimeContext,
  ValueState,
} from '../../src/index.js';
import { ValueStateDescriptor } from '../../src/index.js';

// Orders and payments arrive in any order; an order is complete when its payment has arrived,
// whichever came first. Keyed state per order id holds whichever side is waiting.
export type Order = { id: number; amount: number };
export type Payment = { orderId: number; paid: number };

export class MatchPayments implements KeyedCoProcessFunction<number, Order, Payment, string> {
  order!: ValueState<Order>;
  payment!: ValueState<Payment>;
  open(ctx: RuntimeContext): void {
    this.order = ctx.getState(new ValueStateDescriptor<Order>('order'));
    this.payment = ctx.getState(new ValueStateDescriptor<Payment>('payment'));
  }
  processElement1(o: Order, _ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    const p = this.payment.value();
    if (p === undefined) this.order.update(o);
    else {
      this.payment.clear();
      out.collect(`${o.id},${o.amount},${p.paid}`);
    }
  }
  processElement2(p: Payment, ctx: KeyedProcessContext<number>, out: Collector<string>): void {
    const o = this.order.value();
    if (o === undefined) this.payment.update(p);
    else {
      this.order.clear();
      out.collect(`${ctx.getCurrentKey()},${o.amount},${p.paid}`);
    }
  }
}
