// What every `weir <command>` provides: how it is listed, its options table (which its help is
// generated from) and how it runs.
import type { CliIO, ExitCode } from './errors.js';
import type { OptionTable } from './options.js';

export interface Command {
  readonly name: string;
  /** Operands in usage lines, e.g. `<job.ts|job.js>`. */
  readonly operands: string;
  /** What follows the options in usage lines, e.g. `[-- job args…]`. */
  readonly trailer?: string;
  /** One line for `weir --help`. */
  readonly summary: string;
  /** Lines for the top of `weir <command> --help`. */
  readonly description: readonly string[];
  readonly options: OptionTable;
  /** Lines for after the options in `weir <command> --help`. */
  readonly notes?: readonly string[];
  /**
   * Commands reached as `weir <command> <subcommand> …` (e.g. `weir savepoint inspect`): listed
   * in `weir --help`, with a help of their own. `run` dispatches to them (see `subcommandOf`).
   */
  readonly subcommands?: readonly Command[];
  /** `args` are the arguments after the command's name. Throws CliError for what the user must fix. */
  run(args: readonly string[], io: CliIO): Promise<ExitCode>;
}

/** The subcommand `args` start with, if `command` has one of that name. */
export function subcommandOf(command: Command, args: readonly string[]): Command | undefined {
  const first = args[0];
  return first === undefined ? undefined : command.subcommands?.find((c) => c.name === first);
}
