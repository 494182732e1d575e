// The benchmark harness: what a case is, how its runs are timed and checked, and how figures are
// summarised. Every figure pairs the engine with a plain JavaScript loop doing the same work, run
// alternately in the same process, so their ratio survives a noisy machine.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** What one run produced; compared with what the case expects before its time counts. */
export interface RunResult {
  /** Records that reached the end of the pipeline (the sink, or the loop's output). */
  readonly outputs: number;
  /** A sum over the outputs that only a correct computation produces (e.g. the running counts). */
  readonly checksum: number;
}

/** A case ready to run: its input is built and its expected result known. */
export interface PreparedCase {
  /** Items per run; the figure is items divided by the seconds a run takes. */
  readonly items: number;
  readonly expected: RunResult;
  /** One run of the job on a fresh environment, from building the graph to the end of execute(). */
  engine(): Promise<RunResult>;
  /** One run of the baseline doing the same work: a plain JavaScript loop, unless the case says otherwise. */
  baseline(): RunResult | Promise<RunResult>;
}

export interface BenchCase {
  readonly name: string;
  /** Throughput unit, e.g. 'events/s'; the same for engine and baseline. */
  readonly unit: string;
  /** What `--events` counts for this case (events, words…). */
  readonly itemName: string;
  readonly defaultItems: number;
  /** One line for the README and the table footer. */
  readonly description: string;
  /** What the baseline is when it is not a plain JavaScript loop, e.g. 'the same job without checkpoints'. */
  readonly baselineLabel?: string;
  /**
   * Pairs of runs when `--runs` is not given, if more than the default: a figure that is a cost
   * of a few per cent (the same job with and without checkpoints) drowns in a shared machine's
   * drift (single pairs range ±30 %) unless its median is taken over more pairs.
   */
  readonly defaultRuns?: number;
  /** Builds the input for `items` items (not timed). */
  prepare(items: number): PreparedCase | Promise<PreparedCase>;
}

/** Runs per figure when `--runs` is not given (a case may ask for more: BenchCase.defaultRuns). */
export const DEFAULT_RUNS = 5;

/** The pairs of runs of case `c` (of the snapshot and savepoint figures without one): `--runs`, when given. */
export function runsFor(c: Pick<BenchCase, 'defaultRuns'> | undefined, runs: number | undefined): number {
  return runs ?? Math.max(DEFAULT_RUNS, c?.defaultRuns ?? 0);
}

export class BenchFailure extends Error {
  override readonly name = 'BenchFailure';
}

/** The measured figures of one case: per-run throughputs, in run order. */
export interface Measurement {
  readonly name: string;
  readonly unit: string;
  readonly items: number;
  readonly itemName: string;
  readonly engine: number[];
  readonly baseline: number[];
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** engine[i] / baseline[i]: the ratio of each pair of runs made back to back. */
export function pairRatios(m: Pick<Measurement, 'engine' | 'baseline'>): number[] {
  return m.engine.map((e, i) => e / m.baseline[i]!);
}

/**
 * value and baseline: the medians of their runs. ratio: the median of the pairs' ratios. The
 * machines' speed drifts by up to 2× over seconds (a fixed loop measured there: 205–389 ms), so
 * two medians can come from different phases; the two runs of a pair come from the same one.
 */
export function toFigure(m: Measurement): Figure {
  return {
    name: m.name,
    value: Math.round(median(m.engine)),
    unit: m.unit,
    baseline: Math.round(median(m.baseline)),
    ratio: round(median(pairRatios(m)), 4),
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * A full collection between runs, so that one run's garbage (a previous run's state) is not
 * collected on the next run's time. Node only exposes gc() with --expose-gc; the flag can be set
 * at run time and the function fetched from a fresh context.
 */
export const collectGarbage: () => void = (() => {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as unknown;
    if (typeof gc === 'function') return gc as () => void;
  } catch {
    // fall through: runs are still correct, only noisier
  }
  return () => {};
})();

/**
 * collectGarbage, then a pause: V8 frees the backing stores of dead buffers on a background
 * thread, and a gigabyte of them (the state of a phase just ended) would otherwise be freed
 * during the next timed run, on its cores. For runs that must start as in a fresh process.
 */
export async function settleHeap(): Promise<void> {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

function check(c: BenchCase, what: string, got: RunResult, expected: RunResult): void {
  if (got.outputs !== expected.outputs || got.checksum !== expected.checksum) {
    throw new BenchFailure(
      `${c.name}: the ${what} produced a wrong result: ${got.outputs} outputs with checksum ${got.checksum}, ` +
        `expected ${expected.outputs} outputs with checksum ${expected.checksum}; no figure is reported`,
    );
  }
}

async function timeEngine(c: BenchCase, p: PreparedCase): Promise<number> {
  collectGarbage();
  const t0 = performance.now();
  const r = await p.engine();
  const ms = performance.now() - t0;
  check(c, 'engine', r, p.expected);
  return (p.items * 1000) / ms;
}

async function timeBaseline(c: BenchCase, p: PreparedCase): Promise<number> {
  collectGarbage();
  const t0 = performance.now();
  const r = await p.baseline();
  const ms = performance.now() - t0;
  check(c, 'baseline', r, p.expected);
  return (p.items * 1000) / ms;
}

export type Progress = (message: string) => void;

/**
 * One warm-up pair, then `runs` pairs, in alternating order (engine, baseline; baseline, engine;
 * …) so that a machine speeding up or slowing down over a pair favours neither side.
 */
export async function measure(
  c: BenchCase,
  items: number,
  runs: number,
  progress: Progress,
): Promise<Measurement> {
  progress(`${c.name}: preparing ${items} ${c.itemName}`);
  const p = await c.prepare(items);
  progress(`${c.name}: warm-up`);
  await timeEngine(c, p);
  await timeBaseline(c, p);
  const engine: number[] = [];
  const baseline: number[] = [];
  for (let r = 1; r <= runs; r++) {
    const runEngine = async (): Promise<void> => {
      progress(`${c.name}: run ${r}/${runs} engine`);
      engine.push(await timeEngine(c, p));
    };
    const runBaseline = async (): Promise<void> => {
      progress(`${c.name}: run ${r}/${runs} baseline`);
      baseline.push(await timeBaseline(c, p));
    };
    if (r % 2 === 1) {
      await runEngine();
      await runBaseline();
    } else {
      await runBaseline();
      await runEngine();
    }
  }
  return { name: c.name, unit: c.unit, items: p.items, itemName: c.itemName, engine, baseline };
}
