// Help text. Command help is generated from each command's options table, so a new flag shows up
// here by being declared.
import type { Command } from './command.js';
import { formatOptions, type OptionTable } from './options.js';

export interface PlannedCommand {
  readonly usage: string;
  readonly summary: string;
}

/**
 * Commands of ARCHITECTURE.md §9 that this version does not have yet. Listed under their own
 * heading so `weir --help` tells users what is coming without pretending it works; the heading
 * is left out while there are none.
 */
export const PLANNED_COMMANDS: readonly PlannedCommand[] = [];

const TOP_LEVEL_OPTIONS: OptionTable = {
  help: { short: 'h', help: "show this help; 'weir <command> --help' shows a command's options" },
  version: { help: 'print the version of weir' },
};

export function mainHelp(
  commands: readonly Command[],
  version: string,
  planned: readonly PlannedCommand[] = PLANNED_COMMANDS,
): string {
  const available = commands.flatMap((c) => [
    [usageOf(c), c.summary] as const,
    ...(c.subcommands ?? []).map((s) => [`${c.name} ${usageOf(s)}`, s.summary] as const),
  ]);
  const later = planned.map((c) => [c.usage, c.summary] as const);
  const width = Math.max(...[...available, ...later].map(([usage]) => usage.length));
  const row = ([usage, summary]: readonly [string, string]): string =>
    `  ${usage.padEnd(width)}   ${summary}`;
  return lines([
    `weir ${version}: stateful stream processing for TypeScript`,
    '',
    'Usage: weir <command> [options]',
    '',
    'Commands:',
    ...available.map(row),
    '',
    ...(later.length === 0
      ? []
      : ['Coming in later versions (not available in this one):', ...later.map(row), '']),
    'Options:',
    ...formatOptions(TOP_LEVEL_OPTIONS),
    '',
    'A job file default-exports defineJob({ name, build(env, args) { … } }) from weir.',
    'Exit codes: 0 the job finished or stopped, 1 the job failed or was cancelled (or did not answer), 2 usage, configuration or compatibility error, 129 hung up (SIGHUP), 130 interrupted (Ctrl-C) or 143 terminated (SIGTERM) while a job ran.',
  ]);
}

/** `weir <command> --help`, or with `parent` `weir <parent> <command> --help` of a subcommand. */
export function commandHelp(command: Command, parent?: Command): string {
  const trailer = command.trailer === undefined ? '' : ` ${command.trailer}`;
  const prefix = parent === undefined ? '' : `${parent.name} `;
  return lines([
    `Usage: weir ${prefix}${usageOf(command)} [options]${trailer}`,
    ...(command.subcommands ?? []).map((s) => `       weir ${prefix}${command.name} ${usageOf(s)} [options]`),
    '',
    ...command.description,
    '',
    'Options:',
    ...formatOptions(command.options),
    '',
    ...(command.notes ?? []),
    'WEIR_DEBUG=1 adds stack traces to error messages.',
  ]);
}

/** `run <job.ts|job.js>`, or just `list` for a command without operands. */
function usageOf(command: Command): string {
  return command.operands === '' ? command.name : `${command.name} ${command.operands}`;
}

function lines(ls: readonly string[]): string {
  return ls.join('\n') + '\n';
}
