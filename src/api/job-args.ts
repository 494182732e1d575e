// Parsing of a job's own arguments (`-- --input x --output y`), with errors `weir run` reports
// as usage errors (exit code 2).

export class JobArgumentError extends Error {
  override readonly name: string = 'JobArgumentError';
}

/**
 * The job's arguments ask for its help (`-- --help` or `-h`, when it takes no `--help` of its
 * own): `weir run` prints `message` on standard output and exits 0 without running the job.
 */
export class JobHelpRequested extends JobArgumentError {
  override readonly name = 'JobHelpRequested';
}

/**
 * @example
 * const a = parseJobArgs(args, ['input', 'output']);
 * const input = a.required('input');
 */
export function parseJobArgs(args: readonly string[], known: readonly string[]): JobArgs {
  const values = new Map<string, string>();
  if (!known.includes('help') && asksForHelp(args))
    throw new JobHelpRequested(`this job takes ${known.map((k) => `--${k} <value>`).join(' ')}`);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('--'))
      throw new JobArgumentError(`unexpected job argument '${arg}'; job arguments are --name value pairs`);
    const eq = arg.indexOf('=');
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    if (!known.includes(name)) {
      throw new JobArgumentError(
        `unknown job argument '--${name}'; this job takes ${known.map((k) => `--${k}`).join(', ')}`,
      );
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = args[i + 1];
      if (value === undefined || value.startsWith('--'))
        throw new JobArgumentError(`job argument '--${name}' needs a value`);
      i++;
    }
    // The last of two would win silently, and a job pointed at another input or output than the
    // user believes is worse than a refusal.
    if (values.has(name)) throw new JobArgumentError(`job argument '--${name}' given twice; give it once`);
    values.set(name, value);
  }
  return new JobArgs(values);
}

/**
 * Whether `--help` or `-h` stands where a name goes, before any other mistake is reported (a user
 * asking for help has likely made one): `--sep -h` gives --sep the value -h, as the parse does.
 */
function asksForHelp(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--help' || arg === '-h') return true;
    const next = args[i + 1];
    if (arg.startsWith('--') && !arg.includes('=') && next !== undefined && !next.startsWith('--')) i++;
  }
  return false;
}

export class JobArgs {
  constructor(private readonly values: ReadonlyMap<string, string>) {}

  required(name: string): string {
    const v = this.values.get(name);
    if (v === undefined || v === '')
      throw new JobArgumentError(
        `missing job argument '--${name}'; pass it after '--', e.g. -- --${name} <value>`,
      );
    return v;
  }

  optional(name: string, fallback: string): string {
    return this.values.get(name) ?? fallback;
  }

  /** A non-negative integer argument. */
  integer(name: string, fallback: number): number {
    const v = this.values.get(name);
    if (v === undefined) return fallback;
    if (!/^\d+$/.test(v))
      throw new JobArgumentError(`job argument '--${name}' must be a non-negative integer, got '${v}'`);
    return Number(v);
  }
}
