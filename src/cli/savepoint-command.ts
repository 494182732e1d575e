// `weir savepoint …`: take a savepoint of a running job (`weir savepoint <job-id>`), or look into
// (`inspect`) or delete (`dispose`) one on disk. Job ids are UUIDs, so neither subcommand's name
// can be taken for a job id or its prefix.
import { subcommandOf, type Command } from './command.js';
import { UsageError, type CliIO, type ExitCode } from './errors.js';
import { savepointDisposeCommand } from './savepoint-dispose.js';
import { savepointInspectCommand } from './savepoint-inspect.js';
import { SAVEPOINT_TRIGGER_OPTIONS, triggerSavepoint } from './savepoint-trigger.js';

const USAGE =
  'weir savepoint <job-id> [--target-dir DIR] | weir savepoint inspect <path> [--json] [--verify] | weir savepoint dispose <path>';

export const savepointCommand: Command = {
  name: 'savepoint',
  operands: '<job-id>',
  summary: 'take a savepoint of a running job, which keeps running; prints its path',
  description: [
    'weir savepoint <job-id> takes a savepoint of a running job: all its state, in a folder of its',
    'own. The job keeps running; the savepoint commits nothing. The folder is the last line on stdout;',
    "start a job from it with 'weir run <job> -s <path>'. weir deletes it only when you dispose of it.",
    "<job-id> may be the start of an id, as 'weir list' shows it. The options below are this form's.",
    '',
    'weir savepoint inspect <path> [--json] [--verify] shows the operators, uids, states, key counts',
    "and sizes in a savepoint or retained checkpoint; --verify also checks every data file's checksums.",
    'weir savepoint dispose <path> deletes a savepoint (or retained checkpoint) folder.',
    "See 'weir savepoint inspect --help' and 'weir savepoint dispose --help'.",
  ],
  notes: [
    'Exit codes: 0 the savepoint completed (its path is the last line on stdout), 1 it failed or the job did not answer, 2 no running job has that id.',
  ],
  options: SAVEPOINT_TRIGGER_OPTIONS,
  subcommands: [savepointInspectCommand, savepointDisposeCommand],
  run,
};

async function run(args: readonly string[], io: CliIO): Promise<ExitCode> {
  const sub = subcommandOf(savepointCommand, args);
  if (sub !== undefined) return sub.run(args.slice(1), io);
  if (args.length === 0) throw new UsageError(`missing job id or subcommand; usage: ${USAGE}`);
  return triggerSavepoint(args, io);
}
