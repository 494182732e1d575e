// Entry point of the `weir` command (bin/weir.mjs): picks the command, and turns every outcome into
// the exit code and the one-line error promised by ARCHITECTURE.md §9.
import { cancelCommand } from './cancel-command.js';
import { checkpointsCommand } from './checkpoints-command.js';
import { subcommandOf, type Command } from './command.js';
import { ExitCode, reportError, UsageError, type CliIO } from './errors.js';
import { commandHelp, mainHelp, PLANNED_COMMANDS } from './help.js';
import { listCommand } from './list-command.js';
import { wantsHelp } from './options.js';
import { runCommand } from './run-command.js';
import { savepointCommand } from './savepoint-command.js';
import { stopCommand } from './stop-command.js';
import { weirVersion } from './version.js';

const COMMANDS: readonly Command[] = [
  runCommand,
  listCommand,
  checkpointsCommand,
  savepointCommand,
  stopCommand,
  cancelCommand,
];

const processIO: CliIO = {
  out: (text) => void process.stdout.write(text),
  err: (line) => void process.stderr.write(line + '\n'),
  env: process.env,
};

/** Runs `weir <argv…>` and returns the process exit code. */
export async function main(argv: readonly string[], io: CliIO = processIO): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (e) {
    return reportError(e, io);
  }
}

async function dispatch(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help') {
    io.out(mainHelp(COMMANDS, weirVersion()));
    return ExitCode.ok;
  }
  if (first === '--version') {
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}' after --version`);
    io.out(weirVersion() + '\n');
    return ExitCode.ok;
  }
  if (first === 'help') {
    const topic = rest[0];
    io.out(
      topic === undefined ? mainHelp(COMMANDS, weirVersion()) : helpOf(findCommand(topic), rest.slice(1)),
    );
    return ExitCode.ok;
  }
  if (first.startsWith('-')) throw new UsageError(`unknown option '${first}'; see 'weir --help'`);

  const command = findCommand(first);
  if (wantsHelp(rest)) {
    io.out(helpOf(command, rest));
    return ExitCode.ok;
  }
  return command.run(rest, io);
}

/** The help of `command`, or of its subcommand when `args` begin with one's name. */
function helpOf(command: Command, args: readonly string[]): string {
  const sub = subcommandOf(command, args);
  return sub === undefined ? commandHelp(command) : commandHelp(sub, command);
}

function findCommand(name: string): Command {
  const command = COMMANDS.find((c) => c.name === name);
  if (command !== undefined) return command;
  if (PLANNED_COMMANDS.some((c) => c.usage.split(' ')[0] === name)) {
    const available = COMMANDS.map((c) => `'weir ${c.name}'`).join(', ');
    throw new UsageError(
      `'weir ${name}' is not available in weir ${weirVersion()} yet; this version has ${available}`,
    );
  }
  throw new UsageError(`unknown command '${name}'; see 'weir --help'`);
}
