// Table-driven parsing of one command's arguments. Each command declares its options as data,
// so adding a flag is one table row and the help text is generated from the same rows: the
// two can never disagree.
import { UsageError } from './errors.js';

/** An option that takes a value: `-p 4`, `--parallelism 4`, `--parallelism=4`. */
export interface ValueOption<T> {
  readonly short?: string;
  /** Placeholder for the value in help and messages, e.g. `N`. */
  readonly value: string;
  readonly help: string;
  /** Converts the raw text; throws InvalidValue when it is unacceptable. */
  readonly parse: (raw: string) => T;
}

/** An option that takes no value: `--drain`. */
export interface SwitchOption {
  readonly short?: string;
  readonly value?: undefined;
  readonly help: string;
}

export type OptionSpec = ValueOption<unknown> | SwitchOption;
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** Values given on the command line, by long name; absent when not given. */
export type OptionValues<T extends OptionTable> = {
  -readonly [K in keyof T]?: T[K] extends ValueOption<infer V> ? V : true;
};

export interface ParsedArgs<T extends OptionTable> {
  readonly options: OptionValues<T>;
  /** Arguments that are not options, before `--`. */
  readonly operands: readonly string[];
  /** Everything after the first `--`, untouched. */
  readonly rest: readonly string[];
}

/** Thrown by a value parser; `expected` completes "invalid value 'x' for '-p': expected …". */
export class InvalidValue extends Error {
  override readonly name = 'InvalidValue';
  constructor(readonly expected: string) {
    super(`expected ${expected}`);
  }
}

/** Whether `args` ask for help before any `--`; help wins over every other mistake on the line. */
export function wantsHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '-h' || a === '--help') return true;
  }
  return false;
}

/** @param command how the command is named in messages, e.g. `weir run`. */
export function parseArgs<T extends OptionTable>(
  args: readonly string[],
  table: T,
  command: string,
): ParsedArgs<T> {
  const byLong = new Map<string, [string, OptionSpec]>();
  const byShort = new Map<string, [string, OptionSpec]>();
  for (const [name, spec] of Object.entries(table)) {
    byLong.set(name, [name, spec]);
    if (spec.short !== undefined) byShort.set(spec.short, [name, spec]);
  }

  const values = new Map<string, unknown>();
  const spelledAs = new Map<string, string>();
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      return { options: Object.fromEntries(values) as OptionValues<T>, operands, rest: args.slice(i + 1) };
    }
    // A lone `-` conventionally means stdin; let the command reject it as an operand.
    if (!arg.startsWith('-') || arg === '-') {
      operands.push(arg);
      continue;
    }

    let flag = arg;
    let inline: string | undefined;
    let found: [string, OptionSpec] | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      if (eq !== -1) {
        flag = arg.slice(0, eq);
        inline = arg.slice(eq + 1);
      }
      found = byLong.get(flag.slice(2));
    } else {
      found = byShort.get(arg.slice(1));
    }
    if (found === undefined) throw unknownOption(arg, byShort, byLong, command);

    const [name, spec] = found;
    if (values.has(name)) {
      const earlier = spelledAs.get(name)!;
      const same = earlier === flag ? `'${flag}'` : `'${earlier}' and '${flag}'`;
      throw new UsageError(`option ${same} given twice for '${command}'; give it once`);
    }
    if (spec.value === undefined) {
      if (inline !== undefined) {
        throw new UsageError(`option '${flag}' takes no value; write '${flag}' alone`);
      }
      values.set(name, true);
    } else {
      let raw = inline;
      if (raw === undefined) {
        const next = args[i + 1];
        // `-p --max-parallelism 8` is a forgotten value, not the value '--max-parallelism'.
        if (next === undefined || next.startsWith('--')) {
          throw new UsageError(`option '${flag}' needs a value (${spec.value}); see '${command} --help'`);
        }
        raw = next;
        i++;
      }
      try {
        values.set(name, spec.parse(raw));
      } catch (e) {
        if (!(e instanceof InvalidValue)) throw e;
        throw new UsageError(`invalid value '${raw}' for '${flag}': expected ${e.expected}`);
      }
    }
    spelledAs.set(name, flag);
  }
  return { options: Object.fromEntries(values) as OptionValues<T>, operands, rest: [] };
}

/** Options of one meaning that two commands spell differently: the other command's spelling is a likely slip. */
const SAME_MEANING: ReadonlyArray<readonly [string, string]> = [['target-dir', 'savepoint-dir']];

function unknownOption(
  arg: string,
  byShort: ReadonlyMap<string, unknown>,
  byLong: ReadonlyMap<string, unknown>,
  command: string,
): UsageError {
  // `-p4` and `-p=4` are common habits from other tools; point at the spelling weir accepts.
  const short = arg.slice(1, 2);
  if (!arg.startsWith('--') && arg.length > 2 && byShort.has(short)) {
    const value = arg.slice(2).replace(/^=/, '');
    return new UsageError(`unknown option '${arg}' for '${command}'; write '-${short} ${value}'`);
  }
  const name = arg.slice(2).split('=')[0]!;
  for (const pair of SAME_MEANING) {
    const other = pair[0] === name ? pair[1] : pair[1] === name ? pair[0] : undefined;
    if (other !== undefined && byLong.has(other))
      return new UsageError(`unknown option '--${name}' for '${command}'; it is '--${other}' here`);
  }
  return new UsageError(`unknown option '${arg}' for '${command}'; see '${command} --help'`);
}

/** A value parser for integers in `[min, max]`. */
export function integerIn(min: number, max: number): (raw: string) => number {
  return (raw) => {
    // Number('') is 0 and Number('1e3') is 1000: accept digits only, so what was typed is what is used.
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidValue(`an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** Help lines for a table: `  -p, --parallelism N   help`, aligned. */
export function formatOptions(table: OptionTable): string[] {
  const rows = Object.entries(table).map(([name, spec]) => {
    const short = spec.short === undefined ? '    ' : `-${spec.short}, `;
    const value = spec.value === undefined ? '' : ` ${spec.value}`;
    return [`${short}--${name}${value}`, spec.help] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length));
  return rows.map(([left, help]) => `  ${left.padEnd(width)}   ${help}`);
}
