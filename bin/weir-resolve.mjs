// Module resolve hook installed by bin/weir: maps the bare specifiers `weir` and `weir/testing`
// to this checkout's entry points, whatever directory the job file lives in.
let entries = {};
export function initialize(data) {
  entries = data.entries;
}
export async function resolve(specifier, context, next) {
  const url = Object.hasOwn(entries, specifier) ? entries[specifier] : undefined;
  // Resolved by the rest of the chain, not short-circuited: tsx's resolver must see the .ts
  // entry to mark it as TypeScript, or Node refuses to load it ("Unknown file extension .ts").
  if (url !== undefined) return next(url, context);
  return next(specifier, context);
}
