// Module resolve hook installed by bin/weir: maps the bare specifier `weir` to this checkout's
// entry point, whatever directory the job file lives in.
let entry;
export function initialize(data) {
  entry = data.entry;
}
export async function resolve(specifier, context, next) {
  if (specifier === 'weir') return { url: entry, shortCircuit: true };
  return next(specifier, context);
}
