// An import cycle between weir's own modules breaks the layering of ARCHITECTURE.md §2 and can
// leave a module half-initialised at load time. This walks every relative import under src/ and
// fails with the first cycle it finds, printed as a path a reader can follow. A type-only import
// between two modules of one folder (one layer) is left out: it is erased at compile time, so
// it cannot half-initialise anything, and within a layer it breaks no layering (a DataStream
// method returns a ConnectedStreams whose methods return DataStreams). Across folders every
// import counts, type-only or not.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(import.meta.dirname, '..');
const srcDir = join(root, 'src');

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listSources(path));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function resolveImport(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = resolve(dirname(from), spec);
  for (const candidate of [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')]) {
    try {
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not this candidate
    }
  }
  return undefined;
}

const files = listSources(srcDir);
const edges = new Map<string, string[]>();
for (const file of files) {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  const targets: string[] = [];
  for (const stmt of source.statements) {
    let spec: ts.Expression | undefined;
    let typeOnly = false;
    if (ts.isImportDeclaration(stmt)) {
      spec = stmt.moduleSpecifier;
      const clause = stmt.importClause;
      typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
    } else if (ts.isExportDeclaration(stmt)) {
      spec = stmt.moduleSpecifier;
      typeOnly = stmt.isTypeOnly;
    }
    if (spec === undefined || !ts.isStringLiteral(spec)) continue;
    const target = resolveImport(file, spec.text);
    if (target === undefined) continue;
    if (typeOnly && dirname(target) === dirname(file)) continue;
    targets.push(target);
  }
  edges.set(file, targets);
}

// Iterative DFS with colours; the stack holds the current path so a back edge names the cycle.
const state = new Map<string, 'active' | 'done'>();
function findCycle(start: string): string[] | undefined {
  const path: string[] = [];
  const iters: number[] = [];
  path.push(start);
  iters.push(0);
  state.set(start, 'active');
  while (path.length > 0) {
    const node = path[path.length - 1]!;
    const next = edges.get(node) ?? [];
    const i = iters[iters.length - 1]!;
    if (i >= next.length) {
      state.set(node, 'done');
      path.pop();
      iters.pop();
      continue;
    }
    iters[iters.length - 1] = i + 1;
    const target = next[i]!;
    const seen = state.get(target);
    if (seen === 'active') return [...path.slice(path.indexOf(target)), target];
    if (seen === undefined) {
      state.set(target, 'active');
      path.push(target);
      iters.push(0);
    }
  }
  return undefined;
}

for (const file of files) {
  if (state.has(file)) continue;
  const cycle = findCycle(file);
  if (cycle !== undefined) {
    const shown = cycle.map((f) => relative(root, f)).join(' -> ');
    process.stderr.write(`import cycle: ${shown}\nbreak it by moving the shared part into its own module.\n`);
    process.exit(1);
  }
}
process.stdout.write(`no import cycles among ${files.length} modules under src/\n`);
