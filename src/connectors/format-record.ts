import { inspect } from 'node:util';

/** One line of text for a record: strings as they are, other values as readable literals. */
export function formatRecord(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
    case 'boolean':
      return String(v);
    case 'bigint':
      return `${v}n`;
    default:
      return inspect(v, { breakLength: Infinity, depth: 6 });
  }
}
