// A JavaScript Map compares arrays by identity, so composite keys are stored under a canonical,
// reversible string. Primitive keys are stored as they are (the hot path), except strings that
// begin with NUL, which would otherwise be able to collide with an encoded composite key.

const COMPOSITE = '\u0000';

export function toStateKey(key: unknown): unknown {
  if (typeof key === 'object' || (typeof key === 'string' && key.charCodeAt(0) === 0)) {
    return COMPOSITE + JSON.stringify(key, replacer);
  }
  return key;
}

export function fromStateKey(stateKey: unknown): unknown {
  if (typeof stateKey === 'string' && stateKey.charCodeAt(0) === 0) {
    return JSON.parse(stateKey.slice(1), reviver);
  }
  return stateKey;
}

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return { $b: v.toString() };
  if (typeof v === 'number' && !Number.isFinite(v)) return { $f: String(v) };
  return v;
}

function reviver(_k: string, v: unknown): unknown {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as { $b?: string; $f?: string };
    if (o.$b !== undefined) return BigInt(o.$b);
    if (o.$f !== undefined) return Number(o.$f);
  }
  return v;
}
