import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import {
  DiscardingSink,
  FileSink,
  FileSource,
  GraphValidationError,
  OutputTag,
  StreamExecutionEnvironment,
  type EnvironmentOptions,
} from '../../src/index.js';
import type { JobGraph } from '../../src/graph/job-graph.js';

/** The shape of a job graph that chaining decides: chains, their parallelism, and their inputs. */
function shape(g: JobGraph): Array<{ chain: string[]; p: number; inputs: string[] }> {
  return g.vertices.map((v) => ({
    chain: v.operators.map((o) => o.name),
    p: v.parallelism,
    inputs: v.inputs.map((e) => `${e.from.name} -${e.partitioner}->`),
  }));
}

function env(options: EnvironmentOptions = {}): StreamExecutionEnvironment {
  return new StreamExecutionEnvironment(options);
}

function graphError(build: () => unknown): GraphValidationError {
  try {
    build();
  } catch (e) {
    expect(e).toBeInstanceOf(GraphValidationError);
    expect((e as Error).name).toBe('GraphValidationError');
    return e as GraphValidationError;
  }
  throw new Error('expected a GraphValidationError');
}

describe('chaining', () => {
  it('chains forward edges between operators of equal parallelism', () => {
    const e = env({ parallelism: 2 });
    e.fromSequence(1, 10)
      .map((n) => n + 1)
      .filter((n) => n > 2)
      .flatMap((n) => [n])
      .sinkTo(new DiscardingSink());
    const g = e.getJobGraph();
    expect(shape(g)).toEqual([
      { chain: ['Sequence Source', 'Map', 'Filter', 'FlatMap', 'Sink'], p: 2, inputs: [] },
    ]);
    expect(g.vertices[0]!.name).toBe('Sequence Source -> Map -> Filter -> FlatMap -> Sink');
    const [src, map] = g.vertices[0]!.operators;
    expect(src!.chainedOutputs).toEqual([{ to: map, tag: undefined }]);
    expect(src!.networkOutputs).toEqual([]);
  });

  it('chains a side output read at the same parallelism and sends one read elsewhere over the network, under its tag', () => {
    const e = env({ parallelism: 2 });
    const tag = new OutputTag<number>('odd');
    const main = e
      .fromSequence(1, 10)
      .process<number>({ processElement: (n, ctx, out) => (n % 2 ? ctx.output(tag, n) : out.collect(n)) });
    main.sinkTo(new DiscardingSink()).name('Main');
    main.getSideOutput(tag).sinkTo(new DiscardingSink()).name('Odd');
    main
      .getSideOutput(tag)
      .rebalance()
      .map((n) => n)
      .setParallelism(1)
      .name('Far');
    const g = e.getJobGraph();
    expect(shape(g)).toEqual([
      { chain: ['Sequence Source', 'Process', 'Main', 'Odd'], p: 2, inputs: [] },
      { chain: ['Far'], p: 1, inputs: ['Process -rebalance->'] },
    ]);
    const process = g.vertices[0]!.operators[1]!;
    expect(process.chainedOutputs.map((c) => [c.to.name, c.tag])).toEqual([
      ['Main', undefined],
      ['Odd', 'odd'],
    ]);
    expect(process.networkOutputs.map((n) => [n.to.name, n.tag, n.inputIndex])).toEqual([['Far', 'odd', 0]]);
  });

  it('never chains a two-input operator, even behind a forward edge', () => {
    const e = env({ parallelism: 2 });
    const a = e.fromSequence(1, 10);
    a.connect(a.map((n) => -n))
      .map({ map1: (n) => n, map2: (n) => n })
      .sinkTo(new DiscardingSink());
    expect(shape(e.getJobGraph())).toEqual([
      { chain: ['Sequence Source', 'Map'], p: 2, inputs: [] },
      { chain: ['CoMap', 'Sink'], p: 2, inputs: ['Sequence Source -forward->', 'Map -forward->'] },
    ]);
  });

  it('chains an explicit forward() between equal parallelism', () => {
    const e = env({ parallelism: 3 });
    e.fromSequence(1, 10)
      .forward()
      .map((n) => n)
      .sinkTo(new DiscardingSink());
    expect(shape(e.getJobGraph())).toEqual([{ chain: ['Sequence Source', 'Map', 'Sink'], p: 3, inputs: [] }]);
  });

  it('breaks the chain at keyBy, rebalance and broadcast', () => {
    const e = env({ parallelism: 2 });
    const src = e.fromSequence(1, 10);
    src
      .keyBy((n) => n % 3)
      .sum()
      .name('Sum')
      .sinkTo(new DiscardingSink())
      .name('keyed sink');
    src
      .rebalance()
      .map((n) => n)
      .name('Rebalanced')
      .sinkTo(new DiscardingSink())
      .name('rebalanced sink');
    src
      .broadcast()
      .map((n) => n)
      .name('Broadcast')
      .sinkTo(new DiscardingSink())
      .name('broadcast sink');
    const g = e.getJobGraph();
    expect(shape(g)).toEqual([
      { chain: ['Sequence Source'], p: 2, inputs: [] },
      { chain: ['Sum', 'keyed sink'], p: 2, inputs: ['Sequence Source -hash->'] },
      { chain: ['Rebalanced', 'rebalanced sink'], p: 2, inputs: ['Sequence Source -rebalance->'] },
      { chain: ['Broadcast', 'broadcast sink'], p: 2, inputs: ['Sequence Source -broadcast->'] },
    ]);
    const hash = g.vertices[1]!.inputs[0]!;
    expect(hash.keySelector?.(7)).toBe(1);
    expect(g.vertices[1]!.operators[0]!.keyed).toBe(true);
    expect(g.vertices[2]!.inputs[0]!.keySelector).toBeUndefined();
    expect(g.vertices[0]!.operators[0]!.networkOutputs.map((o) => o.partitioner)).toEqual([
      'hash',
      'rebalance',
      'broadcast',
    ]);
  });

  it('rebalances between different parallelism instead of chaining', () => {
    const e = env({ parallelism: 2 });
    e.fromSequence(1, 10)
      .map((n) => n)
      .setParallelism(3)
      .filter(() => true)
      .setParallelism(3)
      .sinkTo(new DiscardingSink())
      .setParallelism(1);
    expect(shape(e.getJobGraph())).toEqual([
      { chain: ['Sequence Source'], p: 2, inputs: [] },
      { chain: ['Map', 'Filter'], p: 3, inputs: ['Sequence Source -rebalance->'] },
      { chain: ['Sink'], p: 1, inputs: ['Filter -rebalance->'] },
    ]);
  });

  it("gives an operator the environment's parallelism, not its input's", () => {
    const e = env({ parallelism: 2 });
    e.fromSequence(1, 10)
      .setParallelism(3)
      .map((n) => n)
      .sinkTo(new DiscardingSink());
    expect(shape(e.getJobGraph())).toEqual([
      { chain: ['Sequence Source'], p: 3, inputs: [] },
      { chain: ['Map', 'Sink'], p: 2, inputs: ['Sequence Source -rebalance->'] },
    ]);
  });

  it('caps a non-parallel source at 1 and rebalances out of it', () => {
    const e = env({ parallelism: 4 });
    e.fromElements('a', 'b')
      .map((s) => s)
      .sinkTo(new DiscardingSink());
    expect(shape(e.getJobGraph())).toEqual([
      { chain: ['Collection Source'], p: 1, inputs: [] },
      { chain: ['Map', 'Sink'], p: 4, inputs: ['Collection Source -rebalance->'] },
    ]);
  });

  it('does not chain an operator with two inputs', () => {
    const e = env();
    const a = e.fromSequence(1, 2);
    const b = e.fromSequence(3, 4);
    a.union(b)
      .map((n) => n)
      .sinkTo(new DiscardingSink());
    expect(shape(e.getJobGraph())).toEqual([
      { chain: ['Sequence Source'], p: 1, inputs: [] },
      { chain: ['Sequence Source'], p: 1, inputs: [] },
      { chain: ['Map', 'Sink'], p: 1, inputs: ['Sequence Source -forward->', 'Sequence Source -forward->'] },
    ]);
  });

  it('chains several forward outputs of one operator into its chain', () => {
    const e = env();
    const m = e.fromSequence(1, 2).map((n) => n);
    m.filter(() => true).sinkTo(new DiscardingSink());
    m.flatMap((n) => [n]).sinkTo(new DiscardingSink());
    const g = e.getJobGraph();
    expect(shape(g)).toEqual([
      { chain: ['Sequence Source', 'Map', 'Filter', 'Sink', 'FlatMap', 'Sink'], p: 1, inputs: [] },
    ]);
    expect(g.vertices[0]!.operators[1]!.chainedOutputs.map((o) => o.to.name)).toEqual(['Filter', 'FlatMap']);
  });

  it('puts every operator in its own task when chaining is disabled', () => {
    const e = env({ parallelism: 2 }).disableOperatorChaining();
    e.fromSequence(1, 10)
      .map((n) => n)
      .sinkTo(new DiscardingSink());
    expect(shape(e.getJobGraph())).toEqual([
      { chain: ['Sequence Source'], p: 2, inputs: [] },
      { chain: ['Map'], p: 2, inputs: ['Sequence Source -forward->'] },
      { chain: ['Sink'], p: 2, inputs: ['Map -forward->'] },
    ]);
  });

  it('lists vertices after the vertices that feed them', () => {
    const e = env({ parallelism: 2 });
    const a = e.fromSequence(1, 10);
    const keyed = a.keyBy((n) => n).sum();
    const b = e.fromSequence(1, 10).setParallelism(1);
    keyed
      .union(b)
      .rebalance()
      .map((n) => n)
      .sinkTo(new DiscardingSink());
    const g = e.getJobGraph();
    const position = new Map(g.vertices.map((v, i) => [v, i]));
    for (const v of g.vertices)
      for (const edge of v.inputs) expect(position.get(edge.from.vertex)!).toBeLessThan(position.get(v)!);
  });
});

describe('operator ids', () => {
  const build = (e: StreamExecutionEnvironment, extra: boolean): void => {
    let s = e.fromSequence(1, 10).uid('numbers');
    if (extra) s = s.filter(() => true);
    const counted = s
      .map((n) => n)
      .keyBy((n) => n % 2)
      .sum()
      .uid('sum');
    counted.map((n) => n * 2).sinkTo(new DiscardingSink());
  };
  const ids = (g: JobGraph): Map<string, string> =>
    new Map(
      g.vertices.flatMap((v) =>
        v.operators.map((o) => [`${o.name}#${o.transformation.index}`, o.operatorId]),
      ),
    );
  const byUid = (g: JobGraph, uid: string): string =>
    g.vertices.flatMap((v) => v.operators).find((o) => o.uid === uid)!.operatorId;

  it('are stable across two identical builds', () => {
    const a = env();
    const b = env();
    build(a, false);
    build(b, false);
    expect(ids(a.getJobGraph())).toEqual(ids(b.getJobGraph()));
    expect(ids(a.getJobGraph())).toEqual(ids(a.getJobGraph()));
  });

  it('come from the uid alone when one is given, wherever the operator is', () => {
    const a = env();
    const b = env({ parallelism: 2 });
    build(a, false);
    build(b, true);
    expect(byUid(b.getJobGraph(), 'sum')).toBe(byUid(a.getJobGraph(), 'sum'));
    expect(byUid(b.getJobGraph(), 'numbers')).toBe(byUid(a.getJobGraph(), 'numbers'));
    expect(byUid(a.getJobGraph(), 'sum')).not.toBe(byUid(a.getJobGraph(), 'numbers'));
    expect(byUid(a.getJobGraph(), 'sum')).toMatch(/^[0-9a-f]{32}$/);
  });

  it('are generated per position without a uid, and differ between positions', () => {
    const a = env();
    const b = env();
    build(a, false);
    build(b, true);
    const all = [...ids(a.getJobGraph()).values()];
    expect(new Set(all).size).toBe(all.length);
    // The map after the sum has no uid: an operator inserted upstream moves it, and its id.
    const lastMap = (g: JobGraph): string =>
      g.vertices.at(-1)!.operators.find((o) => o.name === 'Map')!.operatorId;
    expect(lastMap(b.getJobGraph())).not.toBe(lastMap(a.getJobGraph()));
  });

  it('change with the uid', () => {
    const a = env();
    const b = env();
    a.fromSequence(1, 2).uid('one').sinkTo(new DiscardingSink());
    b.fromSequence(1, 2).uid('two').sinkTo(new DiscardingSink());
    expect(a.getJobGraph().vertices[0]!.operators[0]!.operatorId).not.toBe(
      b.getJobGraph().vertices[0]!.operators[0]!.operatorId,
    );
  });
});

describe('graph validation', () => {
  it('refuses two operators with one uid, naming both', () => {
    const e = env();
    e.fromSequence(1, 2)
      .uid('dup')
      .map((n) => n)
      .name('Doubler')
      .uid('dup')
      .sinkTo(new DiscardingSink());
    const err = graphError(() => e.getJobGraph());
    expect(err.message).toBe(
      "operators 'Sequence Source' and 'Doubler' both have the uid 'dup'; each operator's uid must be unique in a job",
    );
  });

  it('refuses a parallelism above the max parallelism', () => {
    const e = env({ maxParallelism: 4 });
    e.fromSequence(1, 2)
      .map((n) => n)
      .name('Wide')
      .setParallelism(5)
      .sinkTo(new DiscardingSink());
    const err = graphError(() => e.getJobGraph());
    expect(err.message).toMatch(
      /^operator 'Wide': parallelism must be an integer in \[1, max parallelism 4\], got 5/,
    );
    expect(err.message).toMatch(/raise the max parallelism or lower the parallelism$/);

    const perOperator = env();
    perOperator
      .fromSequence(1, 2)
      .map((n) => n)
      .name('Narrow')
      .setParallelism(3)
      .setMaxParallelism(2)
      .sinkTo(new DiscardingSink());
    expect(graphError(() => perOperator.getJobGraph()).message).toMatch(
      /operator 'Narrow'.*max parallelism 2\], got 3/,
    );

    const tooMany = env().setMaxParallelism(40_000);
    tooMany.fromSequence(1, 2).sinkTo(new DiscardingSink());
    expect(graphError(() => tooMany.getJobGraph()).message).toMatch(
      /max parallelism must be an integer in \[1, 32768\], got 40000$/,
    );
  });

  it('refuses a parallel setting on a non-parallel source', () => {
    const e = env();
    e.fromElements(1, 2, 3).setParallelism(2).sinkTo(new DiscardingSink());
    expect(graphError(() => e.getJobGraph()).message).toBe(
      "operator 'Collection Source' cannot run with parallelism 2: this source supports at most 1",
    );
  });

  it('refuses forward() across different parallelism', () => {
    const e = env({ parallelism: 2 });
    e.fromSequence(1, 2)
      .forward()
      .map((n) => n)
      .setParallelism(3)
      .sinkTo(new DiscardingSink());
    expect(graphError(() => e.getJobGraph()).message).toBe(
      "forward() from 'Sequence Source' (parallelism 2) to 'Map' (parallelism 3) needs equal parallelism; use rebalance() or make them equal",
    );
  });

  it('refuses an empty job', () => {
    expect(graphError(() => env().getJobGraph('nothing')).message).toBe(
      "job 'nothing' has no source; build(env) must create at least one stream, e.g. env.fromSequence(1, 10)",
    );
  });

  it('refuses nonsense settings where they are made', () => {
    expect(graphError(() => env().fromSequence(1, 2).setParallelism(0)).message).toMatch(/positive integer/);
    expect(graphError(() => env().fromSequence(1, 2).uid('')).message).toMatch(/non-empty string/);
    expect(
      graphError(() =>
        env()
          .fromSequence(1, 2)
          .keyBy(undefined as never),
      ).message,
    ).toMatch(/key selector function/);
    expect(graphError(() => env().fromSequence(1, 2).rebalance().uid('x')).message).toMatch(
      /call it on the operator before/,
    );
  });

  it('accepts a graph at the edge of the limits', () => {
    const e = env({ maxParallelism: 4, parallelism: 4 });
    e.fromSequence(1, 2).sinkTo(new DiscardingSink());
    expect(e.getJobGraph().vertices[0]!.parallelism).toBe(4);
  });
});

describe('warnings', () => {
  it('warns about a keyed operator without a uid, by name', () => {
    const e = env();
    e.fromSequence(1, 10)
      .keyBy((n) => n % 2)
      .sum()
      .name('Totals')
      .sinkTo(new DiscardingSink())
      .uid('sink');
    const g = e.getJobGraph();
    expect(g.warnings).toEqual([
      'operator \'Totals\' keeps keyed state but has no uid; give it one with .uid("…") so its state can be restored after the job changes',
    ]);
  });

  it('does not warn when the keyed operator has a uid, nor about stateless operators', () => {
    const e = env();
    e.fromSequence(1, 10)
      .map((n) => n)
      .keyBy((n) => n % 2)
      .sum()
      .uid('totals')
      .sinkTo(new DiscardingSink());
    expect(e.getJobGraph().warnings).toEqual([]);
  });

  it('warns about an operator with operator state and an exactly-once sink without uids', () => {
    const e = env();
    e.fromSequence(1, 10)
      .map({ map: (n: number) => n, snapshotState: () => undefined, initializeState: () => undefined })
      .name('Buffer')
      .sinkTo(new FileSink<number>('/tmp/never-written'))
      .name('Out');
    expect(e.getJobGraph().warnings).toEqual([
      'operator \'Buffer\' keeps operator state but has no uid; give it one with .uid("…") so its state can be restored after the job changes',
      'sink \'Out\' keeps transactions in its state but has no uid; give it one with .uid("…") so its state can be restored after the job changes',
    ]);
  });

  it('warns about a source without a uid (its read position), but not about records given in the job', () => {
    const e = env();
    e.fromSource(new FileSource(tmpdir()), 'lines')
      .map((l: string) => l)
      .sinkTo(new DiscardingSink());
    e.fromElements('a')
      .union(e.fromSequence(1, 2).map(String), e.fromCollection(['b']))
      .sinkTo(new DiscardingSink());
    expect(e.getJobGraph().warnings).toEqual([
      'source \'lines\' keeps its read position in its state but has no uid; give it one with .uid("…") so its state can be restored after the job changes',
    ]);
  });
});
