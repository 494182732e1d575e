#!/usr/bin/env node
// The `weir` command, runnable straight from a clone after `npm ci`: job files are TypeScript,
// so tsx compiles them (and weir's own sources) on load, and `import … from 'weir'` inside a
// job resolves to this checkout, so the job and the CLI share one copy of the engine.
import { createRequire, register as registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';
import { register as registerTsxCjs } from 'tsx/cjs/api';
import { register as registerTsx } from 'tsx/esm/api';

// A .ts job outside a "type": "module" package is compiled to CommonJS, which tsx can only load
// with its require hook registered too (as the tsx command does).
registerTsxCjs();
registerTsx();
const entries = {
  weir: new URL('../src/index.ts', import.meta.url).href,
  'weir/testing': new URL('../src/testing/index.ts', import.meta.url).href,
};
registerHooks('./weir-resolve.mjs', import.meta.url, { data: { entries } });
// Such a job's require('weir') bypasses the resolve hook above (Node 20 has no synchronous
// hooks for require), and loading src/index.ts through tsx's require hook would make a second
// copy of the engine, whose objects this one does not take for its own (a strategy that is "not
// a WatermarkStrategy"). Hand it the ES module instance instead, also when it names the entry by
// its path. (weir/testing from a CommonJS job is not mapped.)
const weir = await import(entries.weir);
const entryFile = fileURLToPath(entries.weir);
const Module = createRequire(import.meta.url)('node:module');
const load = Module._load;
/** Whether a require of `request` from `parent` names src/index.ts by its path (with any extension tsx maps). */
function namesEntry(request, parent) {
  if (!/^(\.{1,2}\/|\/|file:)/.test(request)) return false;
  try {
    return (
      Module._resolveFilename(request.startsWith('file:') ? fileURLToPath(request) : request, parent) ===
      entryFile
    );
  } catch {
    return false; // not resolvable: the load below reports it
  }
}
Module._load = function (request, parent, ...rest) {
  return request === 'weir' || namesEntry(request, parent) ? weir : load.call(this, request, parent, ...rest);
};
// A reader that went away (`weir list | head`) ends the output, not the command; any other
// failure to write it is one line, not a stack trace.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') return;
  process.stderr.write(`weir: cannot write to standard output: ${e.message}\n`);
  process.exit(1);
});
// Nor does a standard error nobody reads (`weir run job.ts 2>&1 | head`): the job runs on, its
// lines dropped, as its print() output is; there is nowhere left to report a failure to write it.
process.stderr.on('error', () => undefined);
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
// Done: what a job file left behind (a timer, a socket, a program of its own still to call
// env.execute()) must neither keep weir running nor run after it. Exit once what was written is out.
let unflushed = 2;
const flushed = () => {
  if (--unflushed === 0) process.exit();
};
process.stdout.write('', flushed);
process.stderr.write('', flushed);
