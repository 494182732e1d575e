import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32Combine } from '../../src/storage/crc32.js';

describe('crc32Combine', () => {
  it('gives crc32 of a concatenation from the parts, for any lengths', () => {
    for (let i = 0; i < 500; i++) {
      const a = randomBytes(Math.floor(Math.random() * 200));
      const b = randomBytes(i < 100 ? i : Math.floor(Math.random() * 5000));
      expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
    }
  });

  it('folds many parts, empty ones included', () => {
    const parts = Array.from({ length: 300 }, (_, i) => randomBytes(i % 5 === 0 ? 0 : (i * 37) % 1000));
    let c = 0;
    for (const p of parts) c = crc32Combine(c, crc32(p), p.length);
    expect(c).toBe(crc32(Buffer.concat(parts)));
  });

  it('handles parts longer than 2^31 bytes (lengths beyond 32-bit integer arithmetic)', () => {
    // crc32 of 2^32 + 5 zero bytes, built by doubling: combine(z, z, len) is z twice.
    let crc = crc32(Buffer.alloc(1));
    let len = 1;
    for (let k = 0; k < 32; k++) {
      crc = crc32Combine(crc, crc, len);
      len *= 2;
    }
    const five = Buffer.alloc(5);
    const whole = crc32Combine(crc, crc32(five), 5);
    // The same through a different split: 5 zeros first, then 2^32.
    expect(crc32Combine(crc32(five), crc, len)).toBe(whole);
    expect(len).toBe(2 ** 32);
  });
});
