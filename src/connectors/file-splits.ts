// How the file source's input is found and cut. Splits depend only on the files and the split
// size, never on parallelism, so a position stored at one parallelism means the same bytes at
// any other.
import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * One byte range of one file and how far it has been read. The split owns the lines whose first
 * byte lies in `[start, end)`; `offset` is the first byte of the next line not yet emitted (equal
 * to `start` until the split has been touched). This is the shape kept in operator state.
 */
export interface FileSplit {
  /** Relative to the source's root, with `/` separators; '' when the root is a file. */
  path: string;
  start: number;
  end: number;
  offset: number;
}

export interface InputFile {
  readonly path: string;
  readonly size: number;
}

/** weir's convention for hidden and in-progress files (ARCHITECTURE.md §7). */
export function isHiddenName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('_');
}

export function resolveSplitPath(root: string, relative: string): string {
  return relative === '' ? root : join(root, relative);
}

/** A FileSource's input path does not exist, or is neither a file nor a directory. */
export class InputPathError extends Error {
  override readonly name = 'InputPathError';
}

function isNotFound(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

/** What a failed stat of the input path `root` means for the user. */
export function inputPathError(root: string, e: unknown): InputPathError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  // A file where a folder should be (ENOTDIR) or a cycle of links (ELOOP) is no path either.
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP')
    return new InputPathError(`input path not found: ${root}; give an existing file or directory`, {
      cause: e,
    });
  return new InputPathError(`cannot read input path ${root}: ${(e as Error).message}`, { cause: e });
}

/** The input path `root` is a file or a directory. */
export function checkInputKind(st: { isFile(): boolean; isDirectory(): boolean }, root: string): void {
  if (!st.isFile() && !st.isDirectory())
    throw new InputPathError(`input path is neither a file nor a directory: ${root}`);
}

/** The regular files under `root` (or `root` itself), sorted by relative path. */
export async function listInputFiles(root: string): Promise<InputFile[]> {
  let st;
  try {
    st = await stat(root);
  } catch (e) {
    throw inputPathError(root, e);
  }
  checkInputKind(st, root);
  if (st.isFile()) return [{ path: '', size: st.size }];
  const files: InputFile[] = [];
  // Symlinked directories are followed, so remember where we have been to survive a link cycle.
  const visited = new Set<string>([await realpath(root)]);
  await walk(root, '', files, visited);
  // Code-unit order rather than locale order: the split list must be the same on every machine.
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return files;
}

async function walk(dir: string, rel: string, files: InputFile[], visited: Set<string>): Promise<void> {
  // Decided in code-unit order, folder by folder, whichever stat answers first: a folder reached by
  // two paths (through a link) is listed under the same one every time (the first a folder's
  // entries name, or the shallower), so every listing of the same tree deals the same splits.
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const found = await Promise.all(
    entries.map(async (entry) => {
      if (isHiddenName(entry.name)) return undefined;
      const full = join(dir, entry.name);
      if (!entry.isFile() && !entry.isDirectory() && !entry.isSymbolicLink()) return undefined;
      try {
        const target = await stat(full);
        if (target.isFile()) return { full, name: entry.name, size: target.size };
        if (target.isDirectory()) return { full, name: entry.name, real: await realpath(full) };
      } catch (e) {
        if (isNotFound(e)) return undefined; // a dangling link, or a file deleted while we list
        throw e;
      }
      return undefined;
    }),
  );
  const subdirs: Array<[string, string]> = [];
  for (const f of found) {
    if (f === undefined) continue;
    const relPath = rel === '' ? f.name : `${rel}/${f.name}`;
    if (f.real === undefined) files.push({ path: relPath, size: f.size });
    else if (!visited.has(f.real)) {
      visited.add(f.real);
      subdirs.push([f.full, relPath]);
    }
  }
  for (const [full, relPath] of subdirs) await walk(full, relPath, files, visited);
}

/** Cuts each non-empty file into `splitSize` byte ranges, in (path, start) order. */
export function createSplits(files: readonly InputFile[], splitSize: number): FileSplit[] {
  const splits: FileSplit[] = [];
  for (const f of files) {
    for (let start = 0; start < f.size; start += splitSize) {
      splits.push({ path: f.path, start, end: Math.min(start + splitSize, f.size), offset: start });
    }
  }
  return splits;
}

export function isFileSplit(x: unknown): x is FileSplit {
  if (typeof x !== 'object' || x === null) return false;
  const s = x as Record<string, unknown>;
  const int = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
  return (
    typeof s.path === 'string' &&
    int(s.start) &&
    int(s.end) &&
    int(s.offset) &&
    s.start < s.end &&
    s.start <= s.offset
  );
}
