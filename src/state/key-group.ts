// Key groups: the unit in which keyed state is stored, snapshotted and redistributed.
// key group = murmur3(hash(key)) mod maxParallelism (ARCHITECTURE.md §1). hash() is a stable,
// Java-style hash so it costs one pass over a string and no allocation; murmur3's mixing step
// then spreads those hashes evenly over the groups.

/** Branded index of a key group in `[0, maxParallelism)`. */
export type KeyGroup = number & { readonly __brand?: 'KeyGroup' };

/** Upper bound for max parallelism, as in Flink (2^15). */
export const UPPER_BOUND_MAX_PARALLELISM = 32768;
export const DEFAULT_MAX_PARALLELISM = 128;

/** A key that weir can hash and store: a primitive, or an array/tuple of keys. */
export type KeyValue = string | number | bigint | boolean | readonly KeyValue[];

export class InvalidKeyError extends Error {
  override readonly name = 'InvalidKeyError';
}

const f64 = new Float64Array(1);
const f64Words = new Int32Array(f64.buffer);

/** Stable 32-bit hash of a key; equal keys (by SameValueZero, arrays element-wise) hash equally. */
export function hashKey(key: unknown): number {
  switch (typeof key) {
    case 'string': {
      let h = 0;
      for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + key.charCodeAt(i)) | 0;
      return h;
    }
    case 'number':
      if ((key | 0) === key) return key; // int32 fast path; also folds -0 into 0
      if (key !== key) return 0x7ff80000; // every NaN is one key
      f64[0] = key;
      return f64Words[0]! ^ f64Words[1]!;
    case 'bigint':
      return hashBigInt(key);
    case 'boolean':
      return key ? 1231 : 1237;
    case 'object':
      if (Array.isArray(key)) {
        let h = 1;
        for (let i = 0; i < key.length; i++) h = (Math.imul(h, 31) + hashKey(key[i])) | 0;
        return h;
      }
  }
  throw new InvalidKeyError(
    `a key must be a string, number, bigint, boolean or an array of those, got ${describe(key)}; ` +
      'return one of those from the key selector (for an object, pick its fields: r => [r.a, r.b])',
  );
}

function hashBigInt(key: bigint): number {
  let h = key < 0n ? -1 : 0;
  let v = key < 0n ? -key : key;
  do {
    h = (Math.imul(h, 31) + Number(v & 0xffffffffn)) | 0;
    v >>= 32n;
  } while (v > 0n);
  return h;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'object') return v.constructor?.name ? `an object (${v.constructor.name})` : 'an object';
  return typeof v;
}

/** murmur3_32 over one 4-byte block with seed 0, made non-negative: Flink's MathUtils.murmurHash. */
export function murmurMix(code: number): number {
  code = Math.imul(code, 0xcc9e2d51);
  code = (code << 15) | (code >>> 17);
  code = Math.imul(code, 0x1b873593);
  code = (code << 13) | (code >>> 19);
  code = (Math.imul(code, 5) + 0xe6546b64) | 0;
  code ^= 4;
  code ^= code >>> 16;
  code = Math.imul(code, 0x85ebca6b);
  code ^= code >>> 13;
  code = Math.imul(code, 0xc2b2ae35);
  code ^= code >>> 16;
  if (code >= 0) return code;
  return code === -0x80000000 ? 0 : -code;
}

export function keyGroupOf(key: unknown, maxParallelism: number): KeyGroup {
  return murmurMix(hashKey(key)) % maxParallelism;
}

/** Index of the subtask (of `parallelism`) that owns `keyGroup`. */
export function subtaskForKeyGroup(keyGroup: KeyGroup, parallelism: number, maxParallelism: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/** An inclusive, contiguous range of key groups `[start, end]`; empty when end < start. */
export class KeyGroupRange {
  constructor(
    readonly start: KeyGroup,
    readonly end: KeyGroup,
  ) {}

  get size(): number {
    return Math.max(0, this.end - this.start + 1);
  }

  contains(keyGroup: KeyGroup): boolean {
    return keyGroup >= this.start && keyGroup <= this.end;
  }

  /** Subtask `i` of `p` owns `[ceil(i·M/p), ceil((i+1)·M/p) − 1]`. */
  static forSubtask(subtask: number, parallelism: number, maxParallelism: number): KeyGroupRange {
    checkParallelism(parallelism, maxParallelism);
    if (!Number.isInteger(subtask) || subtask < 0 || subtask >= parallelism) {
      throw new RangeError(`subtask index ${subtask} is outside [0, ${parallelism})`);
    }
    const start = Math.ceil((subtask * maxParallelism) / parallelism);
    const end = Math.ceil(((subtask + 1) * maxParallelism) / parallelism) - 1;
    return new KeyGroupRange(start, end);
  }

  toString(): string {
    return `[${this.start}, ${this.end}]`;
  }
}

export function checkParallelism(parallelism: number, maxParallelism: number): void {
  if (
    !Number.isInteger(maxParallelism) ||
    maxParallelism < 1 ||
    maxParallelism > UPPER_BOUND_MAX_PARALLELISM
  ) {
    throw new RangeError(
      `max parallelism must be an integer in [1, ${UPPER_BOUND_MAX_PARALLELISM}], got ${maxParallelism}`,
    );
  }
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw new RangeError(
      `parallelism must be an integer in [1, max parallelism ${maxParallelism}], got ${parallelism}`,
    );
  }
}
