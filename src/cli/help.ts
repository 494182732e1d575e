// Help text. Command help is generated from each command's options table, so a new flag shows up
// here by being declared.
import type { Command } from './command.js';
import { formatOptions, type OptionTable } from './options.js';

/**
 * Commands of ARCHITECTURE.md §9 that this version does not have yet. Listed under their own
 * heading so `weir --help` tells users what is coming without pretending it works.
 */
export const PLANNED_COMMANDS: readonly { readonly usage: string; readonly summary: string }[] = [
  { usage: 'savepoint <job-id>', summary: 'take a savepoint of a running job' },
  { usage: 'savepoint inspect <path>', summary: 'show the operators, states and sizes in a savepoint' },
  { usage: 'savepoint dispose <path>', summary: 'delete a savepoint' },
];

const TOP_LEVEL_OPTIONS: OptionTable = {
  help: { short: 'h', help: "show this help; 'weir <command> --help' shows a command's options" },
  version: { help: 'print the version of weir' },
};

export function mainHelp(commands: readonly Command[], version: string): string {
  const rows = [
    ...commands.map((c) => [usageOf(c), c.summary] as const),
    ...PLANNED_COMMANDS.map((c) => [c.usage, c.summary] as const),
  ];
  const width = Math.max(...rows.map(([usage]) => usage.length));
  const row = ([usage, summary]: readonly [string, string]): string =>
    `  ${usage.padEnd(width)}   ${summary}`;
  return lines([
    `weir ${version}: stateful stream processing for TypeScript`,
    '',
    'Usage: weir <command> [options]',
    '',
    'Commands:',
    ...rows.slice(0, commands.length).map(row),
    '',
    'Coming in later versions (not available in this one):',
    ...rows.slice(commands.length).map(row),
    '',
    'Options:',
    ...formatOptions(TOP_LEVEL_OPTIONS),
    '',
    'A job file default-exports defineJob({ name, build(env, args) { … } }) from weir.',
    'Exit codes: 0 the job finished, 1 the job failed (or did not answer), 2 usage or configuration error.',
  ]);
}

export function commandHelp(command: Command): string {
  const trailer = command.trailer === undefined ? '' : ` ${command.trailer}`;
  return lines([
    `Usage: weir ${usageOf(command)} [options]${trailer}`,
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
