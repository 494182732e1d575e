// How the CLI classifies and reports errors. ARCHITECTURE.md §9 promises users exit codes and
// errors that are one line on stderr, so every failure ends here and is written exactly once.

/** Exit codes of ARCHITECTURE.md §9, plus the shell's convention for SIGHUP, Ctrl-C and SIGTERM (128 + signal). */
export const ExitCode = {
  ok: 0,
  jobFailed: 1,
  usage: 2,
  hungUp: 129,
  interrupted: 130,
  terminated: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI has already put into words for the user. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A usage, configuration or compatibility error: the user must change something (exit 2). */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** The job ran and failed (exit 1). */
export class JobRunError extends CliError {
  override readonly name = 'JobRunError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.jobFailed, options);
  }
}

/** Where the CLI writes; a seam so the parser and help can be tested without a process. */
export interface CliIO {
  /** Writes text to stdout as is. */
  out(text: string): void;
  /** Writes one line to stderr. */
  err(line: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

// weir's own errors say what went wrong in their message; their class name adds nothing.
const SELF_EXPLAINING = new Set([
  'Error',
  'GraphValidationError',
  'JobArgumentError',
  'CheckpointConfigError',
  'RestartStrategyConfigError',
  'InvalidKeyError',
  'StateAccessError',
  'InputPathError',
  'OperatorFailure',
  // What a restore finds wrong: their messages name the path or file and the problem.
  'RestoreError',
  'SnapshotNotFoundError',
  'SnapshotMismatchError',
  'CorruptMetadataError',
  'CorruptStateFileError',
  'StateMigrationError',
  'RestoredStateError',
  'PendingFileLostError',
  // A checkpoint directory that cannot be written: the message names it and why.
  'CheckpointStorageUnusableError',
  // esbuild's, when tsx cannot compile a job file: "Transform failed with 1 error: <file:line:col> …"
  'TransformError',
]);

/** One line describing `e`, keeping the class name where it helps (TypeError, RangeError…). */
export function describeError(e: unknown): string {
  if (e instanceof Error) return oneLine(SELF_EXPLAINING.has(e.name) ? e.message : `${e.name}: ${e.message}`);
  return oneLine(String(e));
}

/**
 * The first line of a message. When that line only introduces what follows (it ends with ':',
 * like esbuild's "Transform failed with 1 error:"), the next line is kept too, since it holds
 * the actual cause and position.
 */
export function oneLine(message: string): string {
  const lines = message
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const first = lines[0] ?? '';
  const second = lines[1];
  return first.endsWith(':') && second !== undefined ? `${first} ${second}` : first;
}

export function debugEnabled(io: CliIO): boolean {
  return io.env.WEIR_DEBUG === '1';
}

/** Writes `e` to stderr and returns the exit code it stands for. */
export function reportError(e: unknown, io: CliIO): ExitCode {
  let code: ExitCode;
  const denied = systemErrorOnPath(e);
  if (e instanceof CliError) {
    io.err(`weir: ${oneLine(e.message)}`);
    code = e.exitCode;
  } else if (denied !== undefined) {
    // A file or folder the user named (or one under it) that the system will not let weir use:
    // theirs to fix, not a fault of weir's.
    io.err(`weir: ${denied}`);
    code = ExitCode.usage;
  } else {
    io.err(
      `weir: internal error: ${describeError(e)}; this is a bug in weir, please report it (WEIR_DEBUG=1 shows where)`,
    );
    code = ExitCode.jobFailed;
  }
  if (debugEnabled(io)) {
    for (const line of stackChain(e instanceof CliError && e.cause !== undefined ? e.cause : e)) io.err(line);
  }
  return code;
}

/** Why the system refused a path, for the failures a user fixes on their side (permissions, links, kinds, space). */
const PATH_PROBLEMS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many levels of symbolic links (a link that leads back to itself?)',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'it is a folder, not a file',
  EROFS: 'the filesystem is read-only',
  ENAMETOOLONG: 'the name is too long',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is used up',
};

/** "cannot <syscall> <path>: <problem> (<code>)" for such a failure on a path; undefined for any other error. */
function systemErrorOnPath(e: unknown): string | undefined {
  const x = e as NodeJS.ErrnoException | undefined;
  if (!(e instanceof Error) || typeof x?.code !== 'string' || typeof x.path !== 'string') return undefined;
  const problem = PATH_PROBLEMS[x.code];
  if (problem === undefined) return undefined;
  return `cannot ${x.syscall ?? 'use'} ${x.path}: ${problem} (${x.code})`;
}

/** Stack of `e` and of each of its causes, for WEIR_DEBUG=1. */
function stackChain(e: unknown): string[] {
  const lines: string[] = [];
  let current = e;
  for (let depth = 0; current !== undefined && depth < 8; depth++) {
    const text =
      current instanceof Error ? (current.stack ?? `${current.name}: ${current.message}`) : String(current);
    lines.push(...(depth === 0 ? text : `caused by: ${text}`).split('\n'));
    current = current instanceof Error ? current.cause : undefined;
  }
  return lines;
}
