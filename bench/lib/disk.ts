// Disk baselines for the snapshot and savepoint figures: the machine's own sequential write
// (with fsync) and read of as many bytes as the engine wrote or read, measured in the same run.
import { execSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { median, type Figure } from './harness.js';

/** Best effort: empties the page cache so reads come from the disk (needs root); false if it could not. */
export function dropCaches(): boolean {
  try {
    execSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    return false;
  }
}

export function diskWrite(path: string, bytes: number): number {
  const chunk = Buffer.alloc(1 << 20, 7);
  const t0 = performance.now();
  const fd = openSync(path, 'w');
  for (let done = 0; done < bytes; done += chunk.length)
    writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - done));
  fsyncSync(fd);
  closeSync(fd);
  return bytes / ((performance.now() - t0) / 1000);
}

export function diskRead(path: string, bytes: number): number {
  const chunk = Buffer.allocUnsafe(1 << 20);
  const t0 = performance.now();
  const fd = openSync(path, 'r');
  let done = 0;
  for (;;) {
    const n = readSync(fd, chunk, 0, chunk.length, done);
    if (n === 0) break;
    done += n;
  }
  closeSync(fd);
  if (done !== bytes) throw new Error(`bench: read ${done} of ${bytes} bytes`);
  return bytes / ((performance.now() - t0) / 1000);
}

/** Reads the whole file into one newly allocated buffer, as a restore must (its bytes become the state). */
export function freshRead(path: string, bytes: number): number {
  const t0 = performance.now();
  const out = Buffer.allocUnsafe(bytes);
  const fd = openSync(path, 'r');
  let done = 0;
  while (done < bytes) {
    const n = readSync(fd, out, done, Math.min(1 << 26, bytes - done), done);
    if (n === 0) break;
    done += n;
  }
  closeSync(fd);
  if (done !== bytes) throw new Error(`bench: read ${done} of ${bytes} bytes`);
  return bytes / ((performance.now() - t0) / 1000);
}

/**
 * A figure of `runs` throughputs (bytes/s) each measured back to back with its baseline: value and
 * baseline are the medians in MiB/s, the ratio the median of the runs' own ratios, as for the
 * engine-against-loop cases, so a run and its baseline share the machine's phase (the disk's own
 * read has swung 0.5–2.9 GiB/s between runs minutes apart).
 */
export function pairedFigure(name: string, values: readonly number[], baselines: readonly number[]): Figure {
  if (values.length !== baselines.length) throw new Error('bench: a figure needs one baseline per run');
  const mib = (x: number): number => Math.round(x / (1 << 20));
  const ratios = values.map((v, i) => v / baselines[i]!);
  return figure(name, mib(median(values)), 'MiB/s', mib(median(baselines)), median(ratios));
}

/** A figure with its ratio (value / baseline unless given), rounded to 4 decimals. */
export function figure(
  name: string,
  value: number,
  unit: string,
  baseline: number,
  ratio = value / baseline,
): Figure {
  return { name, value, unit, baseline, ratio: Math.round(ratio * 10000) / 10000 };
}
