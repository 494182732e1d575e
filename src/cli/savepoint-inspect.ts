// `weir savepoint inspect <path> [--json] [--verify]`: what a savepoint (or retained checkpoint)
// holds — its job, operators, uids, states, key counts and sizes — read from its `_metadata`
// alone; with --verify every data file is read and checked against its checksums as well.
// Only reads: the folder is never changed.
//
// The summary is decided by pure functions over the decoded metadata (`summarizeSnapshot`,
// `formatSummary`); reading files happens at the edges (`openSnapshot`, `verifyDataFiles`).
import { join } from 'node:path';
import { formatBytes } from '../cluster/progress-reporter.js';
import {
  CheckpointStorageUnusableError,
  METADATA_FILE,
  SnapshotNotFoundError,
  type SnapshotLocation,
} from '../storage/checkpoint-storage.js';
import { FsCheckpointStorage } from '../storage/fs-checkpoint-storage.js';
import {
  CorruptMetadataError,
  decodeMetadata,
  type SnapshotMetadata,
  type StateHandle,
  type SubtaskStateEntry,
} from '../storage/metadata.js';
import {
  CorruptStateFileError,
  STATE_FILE_KEYED,
  STATE_FILE_OPERATOR,
  STATE_FILE_SINK,
  STATE_FILE_TIMERS,
  StateFileReader,
} from '../storage/state-file.js';
import type { Command } from './command.js';
import { CliError, ExitCode, UsageError, type CliIO } from './errors.js';
import { formatTable } from './list-command.js';
import { parseArgs } from './options.js';

const COMMAND = 'weir savepoint inspect';

/** What a state entry says when it predates the per-state `serializer` and `version` fields. */
export const DEFAULT_STATE_SERIALIZER = 'weir-cbor';
export const DEFAULT_STATE_VERSION = 1;

const options = {
  json: {
    help: 'print the same as one JSON document (timestamp in ms since the epoch; with --verify, verified: { files, bytes })',
  },
  verify: {
    help: 'also read every data file and check every checksum; a damaged file is named and the exit code is 2',
  },
  help: { short: 'h', help: 'show this help' },
} as const;

export const savepointInspectCommand: Command = {
  name: 'inspect',
  operands: '<path>',
  summary: 'show the operators, uids, states, key counts and sizes in a savepoint',
  description: [
    'Shows what a savepoint or a retained checkpoint holds, from its _metadata: its kind, id, job,',
    'time, weir and format versions and total size; per operator its uid, name, operator id,',
    'parallelism, max parallelism and state size; per state its kind, scope, number of entries (keys',
    'for keyed state, elements for operator list state) and serializer. <path> is the folder or its',
    '_metadata file. The folder is only read, never changed.',
  ],
  notes: [
    'Exit codes: 0 shown (and with --verify, every file checked), 2 not a snapshot, or a damaged _metadata or data file.',
  ],
  options,
  run,
};

async function run(args: readonly string[], io: CliIO): Promise<ExitCode> {
  const { options: given, operands, rest } = parseArgs(args, options, COMMAND);
  const [path, extra = rest[0]] = operands;
  if (path === undefined)
    throw new UsageError(`missing savepoint path; usage: ${COMMAND} <path> [--json] [--verify]`);
  if (extra !== undefined)
    throw new UsageError(`unexpected argument '${extra}' for '${COMMAND}'; give one savepoint folder`);
  const snapshot = await openSnapshot(path);
  const verified = given.verify === true ? await verifyDataFiles(snapshot) : undefined;
  const summary = summarizeSnapshot(snapshot.metadata, snapshot.location.uri, snapshot.metadataBytes);
  if (given.json === true) {
    io.out(JSON.stringify(verified === undefined ? summary : { ...summary, verified }, null, 2) + '\n');
    if (verified !== undefined) io.err(`weir: ${verifiedLine(verified)}`);
    return ExitCode.ok;
  }
  io.out(formatSummary(summary));
  if (verified !== undefined) io.out(`\n${verifiedLine(verified)}\n`);
  return ExitCode.ok;
}

function verifiedLine(v: VerifyResult): string {
  return `verified ${v.files} ${v.files === 1 ? 'file' : 'files'}, ${v.bytes} bytes`;
}

// ---------------------------------------------------------------------------------------------
// Reading (the edges)

export interface OpenedSnapshot {
  readonly storage: FsCheckpointStorage;
  readonly location: SnapshotLocation;
  /** The `_metadata` file, for messages. */
  readonly metadataFile: string;
  readonly metadataBytes: number;
  readonly metadata: SnapshotMetadata;
}

/**
 * Resolves `path` (a snapshot folder or its `_metadata`) and decodes its `_metadata`. Every way
 * this fails is a CliError with exit code 2 and a message naming the path or file.
 */
export async function openSnapshot(path: string): Promise<OpenedSnapshot> {
  // "" would be the current folder: an unset shell variable must not dispose of where you stand.
  if (path.trim().length === 0)
    throw new UsageError(
      "the savepoint path is empty (an unset variable?); give the savepoint's folder or its _metadata file",
    );
  const storage = new FsCheckpointStorage('.');
  let location: SnapshotLocation;
  try {
    location = await storage.resolve(path);
  } catch (e) {
    if (e instanceof SnapshotNotFoundError) throw new UsageError(e.message, { cause: e });
    throw readFailure(e, path);
  }
  const metadataFile = join(location.uri, METADATA_FILE);
  let bytes: Uint8Array | undefined;
  try {
    bytes = await storage.readMetadata(location);
  } catch (e) {
    throw readFailure(e, metadataFile);
  }
  if (bytes === undefined)
    throw new UsageError(`${path}: no ${METADATA_FILE} in this folder (removed while it was being read?)`);
  try {
    return {
      storage,
      location,
      metadataFile,
      metadataBytes: bytes.length,
      metadata: decodeMetadata(bytes, metadataFile),
    };
  } catch (e) {
    if (e instanceof CorruptMetadataError)
      throw new UsageError(`${e.message}; this is not a readable weir snapshot`, { cause: e });
    throw e;
  }
}

/** A filesystem error (permissions, I/O) while reading `what`, as one line with exit code 2. */
function readFailure(e: unknown, what: string): unknown {
  // The storage names the file and the cause itself.
  if (e instanceof CheckpointStorageUnusableError) return new UsageError(e.message, { cause: e });
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code !== 'string') return e;
  const message = e instanceof Error ? e.message : String(e);
  return new CliError(`cannot read ${what}: ${message}`, ExitCode.usage, { cause: e });
}

const HANDLE_KINDS = [
  ['keyed', STATE_FILE_KEYED],
  ['operator', STATE_FILE_OPERATOR],
  ['timers', STATE_FILE_TIMERS],
  ['sink', STATE_FILE_SINK],
] as const;

/** Every data file the metadata names, once each (by relative path), with the kind it must hold. */
export function dataFilesOf(metadata: SnapshotMetadata): Map<string, { handle: StateHandle; kind: number }> {
  const files = new Map<string, { handle: StateHandle; kind: number }>();
  for (const op of metadata.operators)
    for (const s of op.subtasks)
      for (const [field, kind] of HANDLE_KINDS) {
        const h = s[field];
        if (h !== null && !files.has(h.path)) files.set(h.path, { handle: h, kind });
      }
  return files;
}

export interface VerifyResult {
  readonly files: number;
  readonly bytes: number;
}

/**
 * Opens every data file with the size, checksum and kind `_metadata` recorded for it and reads
 * every section, checking each checksum. A damaged file is a CliError (exit 2) naming it, and
 * how many others are damaged too.
 */
export async function verifyDataFiles(snapshot: OpenedSnapshot): Promise<VerifyResult> {
  const { storage, location, metadata } = snapshot;
  const damaged: string[] = [];
  let files = 0;
  let bytes = 0;
  for (const { handle, kind } of dataFilesOf(metadata).values()) {
    try {
      const reader = await StateFileReader.open(storage, location, handle.path, {
        size: handle.size,
        crc32: handle.crc32,
        kind,
      });
      if (!sameSections(reader, handle))
        throw new CorruptStateFileError(
          reader.where,
          `its index does not match the sections ${METADATA_FILE} lists`,
        );
      await reader.verify();
      files++;
      bytes += reader.size;
    } catch (e) {
      if (!(e instanceof CorruptStateFileError)) throw readFailure(e, join(location.uri, handle.path));
      damaged.push(e.message);
    }
  }
  const [first] = damaged;
  if (first !== undefined) {
    const others = damaged.length - 1;
    throw new CliError(
      `${first}${others === 0 ? '' : ` (and ${others} more damaged ${others === 1 ? 'file' : 'files'})`}; this savepoint cannot be restored as it is`,
      ExitCode.usage,
    );
  }
  return { files, bytes };
}

function sameSections(reader: StateFileReader, handle: StateHandle): boolean {
  return (
    reader.sections.length === handle.sections.length &&
    reader.sections.every((s, i) => {
      const [id, offset, length, crc] = handle.sections[i]!;
      return s.id === id && s.offset === offset && s.length === length && s.crc32 === crc >>> 0;
    })
  );
}

// ---------------------------------------------------------------------------------------------
// Deciding what to show (pure)

export interface StateSummary {
  name: string;
  kind: string;
  scope: SubtaskStateEntry['scope'];
  /** How operator list state is redistributed (absent for keyed state). */
  mode?: NonNullable<SubtaskStateEntry['mode']>;
  /** Summed over subtasks: keys for keyed state, elements for operator list state. */
  entries: number;
  serializer: string;
  version: number;
}

export interface OperatorSummary {
  uid: string | null;
  name: string;
  operatorId: string;
  parallelism: number;
  maxParallelism: number;
  /** Sum of the sizes of the subtasks' data files. */
  stateBytes: number;
  subtasks: Array<{ index: number; keyGroups: [number, number] | null; bytes: number }>;
  states: StateSummary[];
}

export interface SnapshotSummary {
  path: string;
  kind: 'checkpoint' | 'savepoint';
  id: number;
  jobId: string;
  jobName: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
  weirVersion: string;
  formatVersion: number;
  /** `_metadata` and every data file it names. */
  totalBytes: number;
  operators: OperatorSummary[];
}

/** A state entry as written by this or a later weir (which adds `serializer` and `version`). */
type StateEntry = SubtaskStateEntry & { serializer?: unknown; version?: unknown };

export function summarizeSnapshot(m: SnapshotMetadata, path: string, metadataBytes: number): SnapshotSummary {
  let dataBytes = 0;
  for (const { handle } of dataFilesOf(m).values()) dataBytes += handle.size;
  return {
    path,
    kind: m.kind,
    id: m.id,
    jobId: m.jobId,
    jobName: m.jobName,
    timestamp: m.timestamp,
    weirVersion: m.weirVersion,
    formatVersion: m.version,
    totalBytes: metadataBytes + dataBytes,
    operators: m.operators.map((op) => {
      const subtasks = [...op.subtasks]
        .sort((a, b) => a.index - b.index)
        .map((s) => ({
          index: s.index,
          keyGroups: s.keyGroups,
          bytes: HANDLE_KINDS.reduce((n, [field]) => n + (s[field]?.size ?? 0), 0),
        }));
      const states = new Map<string, StateSummary>();
      for (const s of [...op.subtasks].sort((a, b) => a.index - b.index)) {
        for (const st of s.states as StateEntry[]) {
          const seen = states.get(st.name);
          if (seen !== undefined) {
            seen.entries += st.entries;
            continue;
          }
          states.set(st.name, {
            name: st.name,
            kind: st.kind,
            scope: st.scope,
            ...(st.mode === undefined ? {} : { mode: st.mode }),
            entries: st.entries,
            serializer: typeof st.serializer === 'string' ? st.serializer : DEFAULT_STATE_SERIALIZER,
            version: typeof st.version === 'number' ? st.version : DEFAULT_STATE_VERSION,
          });
        }
      }
      return {
        uid: op.uid,
        name: op.name,
        operatorId: op.operatorId,
        parallelism: op.parallelism,
        maxParallelism: op.maxParallelism,
        stateBytes: subtasks.reduce((n, s) => n + s.bytes, 0),
        subtasks,
        states: [...states.values()],
      };
    }),
  };
}

function sizeOf(bytes: number): string {
  return bytes < 1000 ? `${bytes} bytes` : `${formatBytes(bytes)} (${bytes} bytes)`;
}

/** The human-readable form: the snapshot's fields, then one block per operator. */
export function formatSummary(s: SnapshotSummary): string {
  const fields = (rows: ReadonlyArray<readonly [string, string]>, indent: string): string[] => {
    const width = Math.max(...rows.map(([k]) => k.length)) + 1;
    return rows.map(([k, v]) => `${indent}${`${k}:`.padEnd(width)}  ${v}`);
  };
  const out: string[] = [
    `${s.kind} ${s.path}`,
    ...fields(
      [
        ['kind', s.kind],
        ['id', String(s.id)],
        ['job name', s.jobName],
        ['job id', s.jobId],
        ['time', new Date(s.timestamp).toISOString()],
        ['weir version', s.weirVersion],
        ['format version', String(s.formatVersion)],
        ['total size', sizeOf(s.totalBytes)],
        ['operators', String(s.operators.length)],
      ],
      '  ',
    ),
  ];
  for (const op of s.operators) {
    out.push(
      '',
      `operator ${op.uid ?? '(no uid)'}`,
      ...fields(
        [
          ['uid', op.uid ?? '(no uid)'],
          ['name', op.name],
          ['operator id', op.operatorId],
          ['parallelism', String(op.parallelism)],
          ['max parallelism', String(op.maxParallelism)],
          ['state size', sizeOf(op.stateBytes)],
        ],
        '  ',
      ),
    );
    if (op.states.length === 0) {
      out.push('  states:           none');
      continue;
    }
    out.push('  states:');
    const table = formatTable(
      ['NAME', 'KIND', 'SCOPE', 'MODE', 'ENTRIES', 'SERIALIZER', 'VERSION'],
      op.states.map((st) => [
        st.name,
        st.kind,
        st.scope,
        st.mode ?? '-',
        String(st.entries),
        st.serializer,
        String(st.version),
      ]),
    );
    out.push(
      ...table
        .trimEnd()
        .split('\n')
        .map((l) => `    ${l}`),
    );
  }
  return out.join('\n') + '\n';
}
