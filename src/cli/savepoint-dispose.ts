// `weir savepoint dispose <path>`: deletes a savepoint (or a retained checkpoint, which is the
// user's once retained) folder — `_metadata` first, so a half-deleted folder never looks like a
// snapshot. Only a folder whose `_metadata` reads as a weir snapshot is deleted.
import { lstat, realpath } from 'node:fs/promises';
import type { Command } from './command.js';
import { CliError, describeError, ExitCode, UsageError, type CliIO } from './errors.js';
import { parseArgs } from './options.js';
import { openSnapshot } from './savepoint-inspect.js';

const COMMAND = 'weir savepoint dispose';

const options = {
  help: { short: 'h', help: 'show this help' },
} as const;

export const savepointDisposeCommand: Command = {
  name: 'dispose',
  operands: '<path>',
  summary: 'delete a savepoint (or a retained checkpoint) and all its files',
  description: [
    'Deletes a savepoint folder and every file in it, its _metadata first. <path> is the folder or',
    "its _metadata file. A retained checkpoint (a 'chk-<n>' folder) can be disposed of the same way;",
    'do not dispose of a checkpoint of a job that is still running. Nothing is deleted unless the',
    "folder's _metadata reads as a weir snapshot.",
  ],
  notes: [
    'Exit codes: 0 deleted, 2 no such path or not a weir snapshot (nothing was deleted), or a file could not be deleted.',
  ],
  options,
  run,
};

async function run(args: readonly string[], io: CliIO): Promise<ExitCode> {
  const { operands, rest } = parseArgs(args, options, COMMAND);
  const [path, extra = rest[0]] = operands;
  if (path === undefined) throw new UsageError(`missing savepoint path; usage: ${COMMAND} <path>`);
  if (extra !== undefined)
    throw new UsageError(`unexpected argument '${extra}' for '${COMMAND}'; give one savepoint folder`);
  const opened = await openSnapshot(path);
  const { storage, metadata } = opened;
  // A link to the folder: what is deleted is the folder, with its files (removing the link alone
  // after `_metadata`, which is reached through it, left its data files behind without it).
  let location = opened.location;
  try {
    if ((await lstat(location.uri)).isSymbolicLink())
      location = await storage.resolve(await realpath(location.uri));
  } catch (e) {
    throw new CliError(
      `cannot follow ${location.uri}: ${describeError(e)}; nothing was deleted`,
      ExitCode.usage,
      {
        cause: e,
      },
    );
  }
  try {
    await storage.discard(location);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new CliError(
      `could not delete all of ${location.uri}: ${reason}; its _metadata may be gone already, remove the rest by hand`,
      ExitCode.usage,
      { cause: e },
    );
  }
  const through = location === opened.location ? '' : ` (through ${opened.location.uri})`;
  io.err(`weir: disposed ${metadata.kind} ${location.uri}${through}`);
  return ExitCode.ok;
}
