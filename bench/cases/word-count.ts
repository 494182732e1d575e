// word-count: an in-memory text (seeded, Zipf-like over a 10k-word vocabulary, ~10 words a line):
// fromCollection(lines) → flatMap(split on /\s+/, dropping empty tokens) → keyBy(word)
// → count in keyed ValueState, emitting `${word},${n}` → discarding sink.
// Baseline: the same splitting, Map counting and string building in a loop.
import {
  DiscardingSink,
  StreamExecutionEnvironment,
  ValueStateDescriptor,
  type Collector,
  type KeyedProcessContext,
  type KeyedProcessFunction,
  type RuntimeContext,
  type ValueState,
} from '../../src/index.js';
import type { BenchCase, PreparedCase, RunResult } from '../lib/harness.js';
import { generateText } from '../lib/text.js';

const WHITESPACE = /\s+/;
/** The baseline hands its output strings on in batches of this size, as the engine's channels do. */
const OUT_BATCH = 1024;

/** Counts words; emits `${word},${n}` and adds n to a shared total (the checksum). */
class CountWords implements KeyedProcessFunction<string, string, string> {
  private count!: ValueState<number>;

  constructor(private readonly total: { sum: number }) {}

  open(ctx: RuntimeContext): void {
    this.count = ctx.getState(new ValueStateDescriptor<number>('count', { defaultValue: 0 }));
  }

  processElement(word: string, _ctx: KeyedProcessContext<string>, out: Collector<string>): void {
    const n = this.count.value()! + 1;
    this.count.update(n);
    this.total.sum += n;
    out.collect(`${word},${n}`);
  }
}

function splitWords(line: string, out: Collector<string>): void {
  const tokens = line.split(WHITESPACE);
  for (let i = 0; i < tokens.length; i++) {
    const w = tokens[i]!;
    if (w.length > 0) out.collect(w);
  }
}

async function engine(lines: string[]): Promise<RunResult> {
  const total = { sum: 0 };
  const sink = new DiscardingSink<string>();
  const env = new StreamExecutionEnvironment({ jobName: 'bench word-count' });
  env
    .fromCollection(lines)
    .uid('lines')
    .flatMap(splitWords)
    .uid('split')
    .keyBy((word) => word)
    .process(new CountWords(total))
    .uid('count')
    .sinkTo(sink)
    .uid('sink');
  await env.execute();
  return { outputs: sink.count, checksum: total.sum };
}

function baseline(lines: string[]): RunResult {
  const counts = new Map<string, number>();
  const batch = new Array<string>(OUT_BATCH);
  let b = 0;
  let outputs = 0;
  let sum = 0;
  for (let l = 0; l < lines.length; l++) {
    const tokens = lines[l]!.split(WHITESPACE);
    for (let i = 0; i < tokens.length; i++) {
      const w = tokens[i]!;
      if (w.length === 0) continue;
      const n = (counts.get(w) ?? 0) + 1;
      counts.set(w, n);
      sum += n;
      batch[b++] = `${w},${n}`;
      if (b === OUT_BATCH) {
        outputs += b;
        b = 0;
      }
    }
  }
  outputs += b;
  // Read the batch, so that building the strings is observable work.
  if (outputs > 0 && batch[0] === undefined) throw new Error('word-count baseline: no output was built');
  return { outputs, checksum: sum };
}

export const wordCount: BenchCase = {
  name: 'word-count',
  unit: 'words/s',
  itemName: 'words',
  defaultItems: 1_500_000,
  description:
    'in-memory text, 10k-word Zipf vocabulary: fromCollection → flatMap split → keyBy → count in ValueState emitting "word,n" → discarding sink; ' +
    'baseline splits, counts in a Map and builds the same strings',
  prepare(words: number): PreparedCase {
    const text = generateText(words);
    let checksum = 0;
    for (const c of text.counts.values()) checksum += (c * (c + 1)) / 2;
    const expected = { outputs: text.words, checksum };
    return {
      items: text.words,
      expected,
      engine: () => engine(text.lines),
      baseline: () => baseline(text.lines),
    };
  },
};
