// How a state's stored units (the value of value/reducing/aggregating state, each element of
// list state, each value of map state) cross a snapshot: serialized by the descriptor's own
// serializer when it names one, and migrated from an older schema version on restore.
import {
  DEFAULT_SERIALIZER_ID,
  type StateDescriptor,
  type StateKind,
  type StateSerializer,
} from './descriptors.js';
import { cloneValue } from './clone-value.js';
import { StateMigrationError } from './state-migration-error.js';

/** How a snapshot stored a state: recorded per state in `_metadata`. */
export interface StoredFormat {
  readonly serializer: string;
  readonly version: number;
}

export const DEFAULT_FORMAT: StoredFormat = { serializer: DEFAULT_SERIALIZER_ID, version: 1 };

export function formatOf(d: StateDescriptor): StoredFormat {
  return { serializer: d.serializer?.id ?? DEFAULT_SERIALIZER_ID, version: d.version };
}

/** Applies `fn` to every stored unit of one state value of `kind`; returns the new value. */
export function mapUnits(kind: StateKind, stored: unknown, fn: (unit: unknown) => unknown): unknown {
  switch (kind) {
    case 'list':
      return (stored as unknown[]).map(fn);
    case 'map': {
      const out = new Map<unknown, unknown>();
      for (const [k, v] of stored as Map<unknown, unknown>) out.set(k, fn(v));
      return out;
    }
    default:
      return fn(stored);
  }
}

/**
 * A deep copy of one stored state value of `kind`, for copy-on-write while a snapshot holds it:
 * each unit through its serializer (a copy of what the state really holds: a class instance
 * stays one, as Flink's TypeSerializer.copy), or weir's structural copy without one.
 */
export function copyStored(
  kind: StateKind,
  serializer: StateSerializer<unknown> | undefined,
): (stored: unknown) => unknown {
  if (serializer === undefined) return cloneValue;
  const copyUnit = (u: unknown): unknown => serializer.deserialize(serializer.serialize(u));
  return (stored) => mapUnits(kind, stored, copyUnit);
}

/** The units of a state as its serializer writes them (identity without one). */
export function serializeUnit(
  serializer: StateSerializer<unknown> | undefined,
): ((u: unknown) => unknown) | undefined {
  if (serializer === undefined) return undefined;
  return (u) => {
    const bytes = serializer.serialize(u);
    if (!(bytes instanceof Uint8Array))
      throw new TypeError(`serializer '${serializer.id}' returned ${typeof bytes}, not a Uint8Array`);
    return bytes;
  };
}

/**
 * What turns a unit restored in `from` into the unit `d` declares, or undefined when they are the
 * same. Throws StateMigrationError when no way exists; `where` names the state's owner.
 */
export function restoreUnit(
  d: StateDescriptor,
  from: StoredFormat,
  where: string,
): ((u: unknown) => unknown) | undefined {
  const what = `state '${d.name}' of ${where}`;
  const custom = from.serializer !== DEFAULT_SERIALIZER_ID;
  if (custom && d.serializer?.id !== from.serializer)
    throw new StateMigrationError(
      `${what} was written by serializer '${from.serializer}', but its descriptor names ` +
        `${d.serializer === undefined ? `none (weir's '${DEFAULT_SERIALIZER_ID}')` : `'${d.serializer.id}'`}; ` +
        `give the descriptor a serializer with id '${from.serializer}' that reads it`,
    );
  if (from.version > d.version)
    throw new StateMigrationError(
      `${what} has schema version ${from.version} in the snapshot, newer than the version ${d.version} its descriptor declares; ` +
        'restore it with the job version that wrote it, or raise the descriptor version',
    );
  const migrate = from.version < d.version ? d.migrate : undefined;
  if (from.version < d.version && migrate === undefined)
    throw new StateMigrationError(
      `${what} has schema version ${from.version} in the snapshot but its descriptor declares version ${d.version} ` +
        `and no migration; add migrate(old, fromVersion) to the descriptor to turn version ${from.version} values into version ${d.version}`,
    );
  if (!custom && migrate === undefined) return undefined;
  const serializer = custom ? d.serializer! : undefined;
  return (u) => {
    let v = u;
    if (serializer !== undefined) {
      if (!(v instanceof Uint8Array))
        throw new StateMigrationError(
          `${what}: a stored value of serializer '${serializer.id}' is not bytes`,
        );
      try {
        v = serializer.deserialize(v);
      } catch (e) {
        throw new StateMigrationError(
          `${what}: serializer '${serializer.id}' could not read a stored value: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
    if (migrate !== undefined) {
      try {
        v = migrate(v, from.version);
      } catch (e) {
        throw new StateMigrationError(
          `${what}: migrate from version ${from.version} to ${d.version} failed: ${e instanceof Error ? e.message : String(e)}`,
        );
      }
    }
    return v;
  };
}
