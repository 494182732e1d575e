// `npm run bench:nexmark`: runs Nexmark queries on weir with exactly-once checkpoints, beside the
// generator alone (the same source into a discarding sink: the ceiling), and reports events per
// second per core, the ratio to the generator, and the checkpoints seen.
//
//   npm run bench:nexmark -- [--events N] [--queries q0,q5] [--checkpoint-interval 10s]
//                            [--runs 3] [--parallelism 1] [--rate N] [--json FILE|-]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { DiscardingSink, StreamExecutionEnvironment, parseDuration } from '../../src/index.js';
import { collectGarbage, median } from '../lib/harness.js';
import { DEFAULT_GENERATOR_CONFIG } from './generator.js';
import { QUERIES, TARGETS } from './queries/index.js';
import type { NexmarkQuery } from './queries/query.js';
import { DEFAULT_OUT_OF_ORDERNESS_MS, nexmarkEvents } from './source.js';
import { parseCount, UsageError } from '../lib/args.js';

interface Options {
  events: number;
  queries: string[];
  checkpointIntervalMs: number;
  runs: number;
  parallelism: number;
  rate: number;
  outOfOrdernessMs: number;
  warmupEvents: number;
  json: string | undefined;
}

const USAGE = `usage: npm run bench:nexmark -- [options]
  --events N               events per run (default 10M; 1e6, 500k, 2M work)
  --queries q0,q5          queries to run (default all: ${QUERIES.map((q) => q.name).join(',')})
  --checkpoint-interval D  exactly-once checkpoints every D (default 10s; 0 = none)
  --runs N                 timed runs per query, and as many of the generator alone (default 3)
  --parallelism N          parallelism of every operator (default 1; weir runs in one thread)
  --rate N                 events per second of event time (default ${DEFAULT_GENERATOR_CONFIG.eventsPerSecond}, Flink Nexmark's)
  --warmup N               events of the untimed warm-up run of each query (default 500k; 0 = none)
  --json FILE              also write the figures as JSON to FILE ('-': stdout, the table to stderr)`;

function parseArgs(argv: readonly string[]): Options {
  const o: Options = {
    events: 10_000_000,
    queries: QUERIES.map((q) => q.name),
    checkpointIntervalMs: 10_000,
    runs: 3,
    parallelism: 1,
    rate: DEFAULT_GENERATOR_CONFIG.eventsPerSecond,
    outOfOrdernessMs: DEFAULT_OUT_OF_ORDERNESS_MS,
    warmupEvents: 500_000,
    json: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string | undefined => (arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : argv[++i]);
    switch (flag) {
      case '--events':
        o.events = parseCount(flag, value());
        break;
      case '--runs':
        o.runs = parseCount(flag, value());
        break;
      case '--parallelism':
      case '-p':
        o.parallelism = parseCount(flag, value());
        break;
      case '--rate':
        o.rate = parseCount(flag, value());
        break;
      case '--warmup':
        o.warmupEvents = parseCount(flag, value(), true);
        break;
      case '--checkpoint-interval': {
        const v = value();
        const ms = v === undefined ? undefined : parseDuration(v);
        if (ms === undefined)
          throw new UsageError(`${flag} needs a duration, e.g. 10s, 500ms or 0, got '${v}'`);
        o.checkpointIntervalMs = ms;
        break;
      }
      case '--queries': {
        const v = value();
        if (v === undefined || v === '') throw new UsageError(`${flag} needs a list, e.g. q0,q5`);
        const names = v.split(',').map((s) => s.trim().toLowerCase());
        for (const n of names)
          if (!QUERIES.some((q) => q.name === n))
            throw new UsageError(`unknown query '${n}'; queries: ${QUERIES.map((q) => q.name).join(', ')}`);
        o.queries = names;
        break;
      }
      case '--json': {
        const v = value();
        if (v === undefined || v === '') throw new UsageError(`${flag} needs a file name (or '-')`);
        o.json = v;
        break;
      }
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        throw new UsageError(`unknown argument '${arg}'`);
    }
  }
  return o;
}

/** What the job master reported about one checkpoint (its `checkpoints()` view, in part). */
interface CheckpointSeen {
  status: string;
  durationMs: number | null;
  sizeBytes: number | null;
}

interface RunFigures {
  eventsPerSecond: number;
  seconds: number;
  outputs: number;
  checkpoints: CheckpointSeen[];
}

interface Summary {
  min: number;
  median: number;
  max: number;
}

interface QueryFigures {
  query: string;
  description: string;
  events: number;
  parallelism: number;
  checkpointIntervalMs: number;
  /** Per core: events/s ÷ parallelism ÷ … weir runs a job in one thread, so events/s at p = 1. */
  eventsPerSecondPerCore: number;
  runs: number[];
  generatorEventsPerSecond: number;
  generatorRuns: number[];
  ratio: number;
  target: number | null;
  outputs: number;
  checkpoints: {
    completedPerRun: number[];
    failed: number;
    sizeBytes: Summary | null;
    durationMs: Summary | null;
  };
}

function summary(xs: readonly number[]): Summary | null {
  if (xs.length === 0) return null;
  return { min: Math.min(...xs), median: median(xs), max: Math.max(...xs) };
}

async function runOnce(
  query: NexmarkQuery<unknown> | undefined,
  o: Options,
  events: number,
): Promise<RunFigures> {
  const dir = mkdtempSync(join(os.tmpdir(), 'weir-nexmark-'));
  try {
    collectGarbage();
    const t0 = performance.now();
    const env = new StreamExecutionEnvironment({
      parallelism: o.parallelism,
      jobName: `nexmark ${query?.name ?? 'generator'}`,
    });
    if (o.checkpointIntervalMs > 0) {
      env.enableCheckpointing(o.checkpointIntervalMs, 'exactly-once');
      env.checkpointConfig.setCheckpointStorage(dir);
    }
    const sink = new DiscardingSink<unknown>();
    const stream = nexmarkEvents(env, {
      events,
      eventsPerSecond: o.rate,
      outOfOrdernessMs: o.outOfOrdernessMs,
    });
    if (query === undefined) stream.sinkTo(sink).uid('sink');
    else query.build(stream, sink);
    let seen: () => CheckpointSeen[] = () => [];
    await env.execute(undefined, {
      onStart: (master) => {
        seen = () => master.checkpoints();
      },
    });
    const seconds = (performance.now() - t0) / 1000;
    return { eventsPerSecond: events / seconds, seconds, outputs: sink.count, checkpoints: seen() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function rate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(0)} k`;
  return x.toFixed(0);
}

function bytes(x: number): string {
  if (x >= 1 << 30) return `${(x / (1 << 30)).toFixed(2)} GiB`;
  if (x >= 1 << 20) return `${(x / (1 << 20)).toFixed(1)} MiB`;
  if (x >= 1 << 10) return `${(x / (1 << 10)).toFixed(1)} KiB`;
  return `${x} B`;
}

function checkpointLine(cs: readonly CheckpointSeen[]): string {
  const done = cs.filter((c) => c.status === 'completed');
  const failed = cs.filter((c) => c.status === 'failed').length;
  if (done.length === 0) return failed > 0 ? `0 checkpoints, ${failed} failed` : 'no checkpoints';
  const sizes = done.map((c) => c.sizeBytes ?? 0);
  const ms = done.map((c) => c.durationMs ?? 0);
  return (
    `${done.length} checkpoint${done.length === 1 ? '' : 's'}` +
    ` (${bytes(Math.min(...sizes))}–${bytes(Math.max(...sizes))}, ${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)} ms)` +
    (failed > 0 ? `, ${failed} failed` : '')
  );
}

function table(figures: readonly QueryFigures[]): string {
  const rows: string[][] = [
    [
      'query',
      'events/s per core',
      'generator alone',
      'ratio',
      'target',
      'checkpoints per run',
      'size (median)',
      'duration (median)',
    ],
  ];
  for (const f of figures) {
    rows.push([
      f.query,
      `${rate(f.eventsPerSecondPerCore)} (${rate(Math.min(...f.runs))}–${rate(Math.max(...f.runs))})`,
      rate(f.generatorEventsPerSecond),
      f.ratio.toFixed(2),
      f.target === null ? '—' : `${rate(f.target)}${f.eventsPerSecondPerCore >= f.target ? ' ✓' : ' ✗'}`,
      f.checkpoints.completedPerRun.join('/') +
        (f.checkpoints.failed > 0 ? ` (${f.checkpoints.failed} failed)` : ''),
      f.checkpoints.sizeBytes === null ? '—' : bytes(f.checkpoints.sizeBytes.median),
      f.checkpoints.durationMs === null ? '—' : `${f.checkpoints.durationMs.median.toFixed(0)} ms`,
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string =>
    r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('  ');
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`bench:nexmark: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  const out = o.json === '-' ? process.stderr : process.stdout;
  const print = (s: string): void => void out.write(s + '\n');
  const progress = (s: string): void => void process.stderr.write(s + '\n');
  const cpus = os.cpus();
  print(
    `weir Nexmark — node ${process.version}, ${cpus[0]?.model.trim().replace(/\s+/g, ' ') ?? 'unknown CPU'} × ${cpus.length}, ` +
      `load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
  print(
    `${o.events} events per run, p=${o.parallelism}, checkpoints ${o.checkpointIntervalMs > 0 ? `every ${o.checkpointIntervalMs} ms (exactly-once)` : 'off'}, ` +
      `event rate ${o.rate}/s, watermark ${o.outOfOrdernessMs} ms behind; median of ${o.runs} runs`,
  );
  const figures: QueryFigures[] = [];
  for (const name of o.queries) {
    const query = QUERIES.find((q) => q.name === name)!;
    if (o.warmupEvents > 0) {
      await runOnce(undefined, o, Math.min(o.warmupEvents, o.events));
      await runOnce(query, o, Math.min(o.warmupEvents, o.events));
    }
    const runs: RunFigures[] = [];
    const generator: RunFigures[] = [];
    for (let r = 1; r <= o.runs; r++) {
      const g = await runOnce(undefined, o, o.events);
      generator.push(g);
      progress(
        `${name} run ${r}/${o.runs}: generator alone ${rate(g.eventsPerSecond)} events/s (${g.seconds.toFixed(1)} s)`,
      );
      const q = await runOnce(query, o, o.events);
      runs.push(q);
      progress(
        `${name} run ${r}/${o.runs}: ${rate(q.eventsPerSecond)} events/s (${q.seconds.toFixed(1)} s, ${q.outputs} outputs, ${checkpointLine(q.checkpoints)})`,
      );
    }
    const perCore = runs.map((r) => r.eventsPerSecond / o.parallelism);
    const gen = median(generator.map((g) => g.eventsPerSecond / o.parallelism));
    const done = runs.flatMap((r) => r.checkpoints.filter((c) => c.status === 'completed'));
    const f: QueryFigures = {
      query: name,
      description: query.description,
      events: o.events,
      parallelism: o.parallelism,
      checkpointIntervalMs: o.checkpointIntervalMs,
      eventsPerSecondPerCore: Math.round(median(perCore)),
      runs: perCore.map(Math.round),
      generatorEventsPerSecond: Math.round(gen),
      generatorRuns: generator.map((g) => Math.round(g.eventsPerSecond / o.parallelism)),
      ratio: Math.round((median(perCore) / gen) * 1000) / 1000,
      target: TARGETS[name] ?? null,
      outputs: runs[0]!.outputs,
      checkpoints: {
        completedPerRun: runs.map((r) => r.checkpoints.filter((c) => c.status === 'completed').length),
        failed: runs.reduce((n, r) => n + r.checkpoints.filter((c) => c.status === 'failed').length, 0),
        sizeBytes: summary(done.map((c) => c.sizeBytes ?? 0)),
        durationMs: summary(done.map((c) => c.durationMs ?? 0)),
      },
    };
    figures.push(f);
  }
  print('');
  print(table(figures));
  print('');
  print(
    'events/s per core: all generated events (persons, auctions, bids) over the wall time of the job, median of the runs ' +
      '(weir runs a job in one thread, so at p=1 that is one core); generator alone: the same source into a discarding sink; ' +
      'checkpoints per run include the final one at the end of input; sizes and durations over all completed checkpoints of all runs.',
  );
  if (o.json !== undefined) {
    const json = JSON.stringify(figures, null, 2) + '\n';
    if (o.json === '-') process.stdout.write(json);
    else writeFileSync(o.json, json);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench:nexmark: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
