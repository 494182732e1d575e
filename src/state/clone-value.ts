// Deep copies of state values, for copy-on-write during snapshots and for detached snapshots.
//
// structuredClone copies the whole ArrayBuffer behind a typed array, not just the bytes the
// array views. Restored byte values are views into the buffers a snapshot was read into (one
// per 256 MiB), so structuredClone of one 1 KiB value copied up to 256 MiB. Here a view copies
// only its own bytes, and a Buffer stays a Buffer (structuredClone makes it a Uint8Array, so a
// value would change type only while a checkpoint is being written).

type TypedArrayConstructor = new (buffer: ArrayBufferLike) => ArrayBufferView;

/**
 * A deep copy of `value`: plain objects, arrays, Maps, Sets, Dates and typed arrays are copied
 * here, references among them (shared or cyclic) kept; other objects (class instances,
 * ArrayBuffers, errors…) are copied as structuredClone copies each one on its own; functions and
 * symbols are shared. Unlike structuredClone, two views of one buffer become two independent
 * copies (the point of this function), and a Buffer stays a Buffer.
 */
export function cloneValue<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  return copy(value, new Map()) as T;
}

function copy(v: unknown, seen: Map<object, unknown>): unknown {
  if (typeof v !== 'object' || v === null) return v;
  const known = seen.get(v);
  if (known !== undefined) return known;
  if (ArrayBuffer.isView(v)) {
    const out = copyView(v);
    seen.set(v, out);
    return out;
  }
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    seen.set(v, out);
    for (let i = 0; i < v.length; i++) if (i in v) out[i] = copy(v[i], seen);
    return out;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    seen.set(v, out);
    for (const k of Object.keys(v)) {
      const x = copy((v as Record<string, unknown>)[k], seen);
      if (k === '__proto__')
        Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
      else out[k] = x;
    }
    return out;
  }
  if (v instanceof Map) {
    const out = new Map<unknown, unknown>();
    seen.set(v, out);
    for (const [k, x] of v) out.set(copy(k, seen), copy(x, seen));
    return out;
  }
  if (v instanceof Set) {
    const out = new Set<unknown>();
    seen.set(v, out);
    for (const x of v) out.add(copy(x, seen));
    return out;
  }
  if (v instanceof Date) {
    const out = new Date(v.getTime());
    seen.set(v, out);
    return out;
  }
  const out = structuredClone(v);
  seen.set(v, out);
  return out;
}

const typedArrayName = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  Symbol.toStringTag,
)!.get as (this: ArrayBufferView) => string;

function copyView(v: ArrayBufferView): ArrayBufferView {
  const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength).slice();
  if (Buffer.isBuffer(v)) return Buffer.from(bytes.buffer, 0, bytes.byteLength);
  if (v instanceof DataView) return new DataView(bytes.buffer);
  // The standard constructor (Uint8Array, Float64Array…), as structuredClone gives, even for a
  // subclass: named by %TypedArray%'s own toStringTag getter, which a subclass cannot override.
  const name = typedArrayName.call(v);
  const Ctor = (globalThis as unknown as Record<string, TypedArrayConstructor>)[name]!;
  return new Ctor(bytes.buffer);
}
