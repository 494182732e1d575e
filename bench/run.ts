// `npm run bench`: runs every case (or those matching --only), prints a table of engine figures
// beside plain-loop baselines measured in the same process, and optionally writes them as JSON.
//
//   npm run bench -- [--runs N] [--only NAME] [--events N] [--json [FILE|-]]
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { CASES } from './cases/index.js';
import { savepointFigures } from './cases/savepoint-figures.js';
import { snapshotFigures } from './cases/snapshot-figures.js';
import {
  BenchFailure,
  measure,
  median,
  pairRatios,
  runsFor,
  toFigure,
  DEFAULT_RUNS,
  type BenchCase,
  type Figure,
  type Measurement,
} from './lib/harness.js';
import { parseCount, UsageError } from './lib/args.js';

interface Options {
  /** undefined: each case's default. */
  runs: number | undefined;
  only: string | undefined;
  events: number | undefined;
  /** undefined: no JSON; '-': JSON to stdout (and the table to stderr). */
  json: string | undefined;
}

const USAGE = `usage: npm run bench -- [--runs N] [--only NAME] [--events N] [--json [FILE|-]]
  --runs N      runs per figure (default 5, 21 for the keyed-count-chk cases, whose ratio is a
                cost of a few per cent); each figure is the median, shown with its min–max
  --only NAME   run only the cases whose name contains NAME ('snapshot': only the snapshot figures,
                'savepoint': only the savepoint figures)
  --events N    events (words, …) per run, for every case (default: each case's own; 2e6, 500k, 5M work)
  --json FILE   also write [{ name, value, unit, baseline, ratio }] to FILE; '-' or no FILE: to stdout,
                and the table to stderr`;

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { runs: undefined, only: undefined, events: undefined, json: undefined };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const inline = arg.startsWith('--') && eq > 0 ? arg.slice(eq + 1) : undefined;
    const value = (): string | undefined => (inline !== undefined ? inline : argv[++i]);
    switch (flag) {
      case '--runs':
        o.runs = parseCount('--runs', value());
        break;
      case '--events':
        o.events = parseCount('--events', value());
        break;
      case '--only': {
        const v = value();
        if (v === undefined || v === '' || v.startsWith('--'))
          throw new UsageError('--only needs a case name (or part of one)');
        o.only = v;
        break;
      }
      case '--json': {
        if (inline !== undefined) o.json = inline === '' ? '-' : inline;
        else {
          const next = argv[i + 1];
          if (next === undefined || (next.startsWith('--') && next.length > 2)) o.json = '-';
          else o.json = argv[++i]!;
        }
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

function formatRate(x: number): string {
  if (x >= 1e6) return `${(x / 1e6).toFixed(x >= 1e7 ? 1 : 2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(x >= 1e4 ? 0 : 1)} k`;
  return x.toFixed(0);
}

/** "1.23 M events/s (1.10–1.31 M)" */
function formatFigure(xs: readonly number[], unit: string): string {
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  const lo = formatRate(min);
  const hi = formatRate(max);
  // "1.10–1.31 M", but "926 k–3.00 M" when the two differ in scale.
  const sameScale = lo.slice(-2) === hi.slice(-2) && / [kM]$/.test(hi);
  const spread = xs.length > 1 ? `  (${sameScale ? lo.slice(0, -2) : lo}–${hi})` : '';
  return `${formatRate(median(xs))} ${unit}${spread}`;
}

function formatCount(n: number): string {
  if (n >= 1e6 && n % 1e4 === 0) return `${n / 1e6} M`;
  if (n >= 1e3 && n % 10 === 0) return `${n / 1e3} k`;
  return String(n);
}

function runsOf(o: Options, c?: BenchCase): number {
  return runsFor(c, o.runs);
}

function header(o: Options, cases: readonly BenchCase[]): string {
  const more = o.runs === undefined ? cases.filter((c) => runsOf(o, c) !== DEFAULT_RUNS) : [];
  const runs = runsOf(o);
  const cpus = os.cpus();
  const model = cpus[0]?.model.trim().replace(/\s+/g, ' ') ?? 'unknown CPU';
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return [
    `weir bench — node ${process.version} (V8 ${process.versions.v8}), ${os.platform()} ${os.arch()}`,
    `CPU: ${model} × ${cpus.length}; load average ${load} (1/5/15 min)`,
    // bin/weir-env sets it for `weir run` and for `npm run bench`; run otherwise, say so.
    `GLIBC_TUNABLES=${process.env['GLIBC_TUNABLES'] ?? '(unset)'}`,
    runs === 1
      ? 'each figure: one run, after one warm-up (use --runs N for a median)'
      : `each figure: median of ${runs} runs (min–max)${more.map((c) => `, of ${runsOf(o, c)} for ${c.name}`).join('')}, after one warm-up; engine and baseline runs in back-to-back pairs, alternating which goes first`,
  ].join('\n');
}

function table(ms: readonly Measurement[]): string {
  const rows: string[][] = [['case', 'per run', 'engine', 'baseline (plain JS loop unless noted)', 'ratio']];
  for (const m of ms) {
    const f = toFigure(m);
    const pairs = pairRatios(m);
    const spread =
      pairs.length > 1 ? `  (${Math.min(...pairs).toFixed(2)}–${Math.max(...pairs).toFixed(2)})` : '';
    rows.push([
      m.name,
      `${formatCount(m.items)} ${m.itemName}`,
      formatFigure(m.engine, m.unit),
      formatFigure(m.baseline, m.unit),
      `${f.ratio.toFixed(2)}${spread}`,
    ]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  const line = (r: string[]): string =>
    r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join('   ');
  const out = [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('   ')];
  for (const r of rows.slice(1)) out.push(line(r));
  return out.join('\n');
}

function footnote(runs: number): string {
  return runs === 1
    ? 'ratio = engine / baseline (higher is better)'
    : 'ratio = the median of the run pairs’ ratios, engine / baseline (higher is better); in brackets, their spread';
}

async function main(): Promise<number> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`bench: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  const cases = CASES.filter((c) => o.only === undefined || c.name.includes(o.only));
  const withSnapshots = o.only === undefined || 'snapshot'.includes(o.only);
  const withSavepoints = o.only === undefined || 'savepoint'.includes(o.only);
  if (cases.length === 0 && !withSnapshots && !withSavepoints) {
    process.stderr.write(
      `bench: no case matches --only '${o.only}'; cases: ${[...CASES.map((c) => c.name), 'snapshot', 'savepoint'].join(', ')}\n`,
    );
    return 2;
  }

  const toStdout = o.json === '-';
  const print = (text: string): void => {
    (toStdout ? process.stderr : process.stdout).write(text + '\n');
  };
  const tty = process.stderr.isTTY === true;
  const progress = (msg: string): void => {
    if (tty) process.stderr.write(`\r\x1b[K${msg}…`);
  };
  const clearProgress = (): void => {
    if (tty) process.stderr.write('\r\x1b[K');
  };

  print(header(o, cases));
  print('');
  const measurements: Measurement[] = [];
  const failures: string[] = [];
  for (const c of cases) {
    try {
      measurements.push(await measure(c, o.events ?? c.defaultItems, runsOf(o, c), progress));
    } catch (e) {
      clearProgress();
      const message =
        e instanceof BenchFailure
          ? e.message
          : `${c.name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
      failures.push(message);
      process.stderr.write(`bench: FAILED ${message}\n`);
    }
  }
  clearProgress();

  if (measurements.length > 0) {
    print(table(measurements));
    print('');
    print(footnote(runsOf(o)));
    for (const c of cases)
      if (c.baselineLabel !== undefined && measurements.some((m) => m.name === c.name))
        print(`${c.name}: baseline = ${c.baselineLabel}`);
  }
  const figures: Figure[] = measurements.map(toFigure);
  if (withSnapshots) {
    try {
      const snap = await snapshotFigures(runsOf(o), progress);
      clearProgress();
      print('');
      print(snap.text);
      figures.push(...snap.figures);
    } catch (e) {
      clearProgress();
      const message = `snapshot figures: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
      failures.push(message);
      process.stderr.write(`bench: FAILED ${message}\n`);
    }
  }
  if (withSavepoints) {
    try {
      const sp = await savepointFigures(runsOf(o), progress);
      clearProgress();
      print('');
      print(sp.text);
      figures.push(...sp.figures);
    } catch (e) {
      clearProgress();
      const message = `savepoint figures: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
      failures.push(message);
      process.stderr.write(`bench: FAILED ${message}\n`);
    }
  }
  if (o.json !== undefined) {
    const json = JSON.stringify(figures, null, 2) + '\n';
    if (toStdout) process.stdout.write(json);
    else writeFileSync(o.json, json);
  }
  if (failures.length > 0) {
    process.stderr.write(
      `bench: ${failures.length} case${failures.length === 1 ? '' : 's'} failed; no figure is given for ${failures.length === 1 ? 'it' : 'them'}\n`,
    );
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exitCode = 1;
  },
);
