// The records the window tests feed through the keyed harness, and the function most of them use.
import type { ProcessWindowFunction } from '../../src/runtime/operators/window-operator.js';
import { Rng } from '../state/gen.js';

export type Ev = { key: string; t: number; v: number };
export const byKey = (e: Ev): string => e.key;

/** `start,key,count,sum` per firing. */
export const describeWindow: ProcessWindowFunction<Ev, string, string> = {
  process(key, ctx, events, out) {
    out.collect(`${ctx.window.start},${key},${events.length},${events.reduce((s, e) => s + e.v, 0)}`);
  },
};

/** Random events with bounded disorder: timestamps rise by 0..9 and are pulled back by up to `disorder`. */
export function events(seed: number, n: number, keys: number, disorder: number): Ev[] {
  const rng = new Rng(seed);
  const out: Ev[] = [];
  let t = 1_000;
  for (let i = 0; i < n; i++) {
    t += rng.int(0, 9);
    out.push({ key: `k${rng.int(0, keys - 1)}`, t: t - rng.int(0, disorder), v: rng.int(1, 5) });
  }
  return out;
}
