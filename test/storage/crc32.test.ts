import { randomBytes } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { crc32, crc32Combine, crc32Implementation } from '../../src/storage/crc32.js';

describe('crc32', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });

  it('equals zlib.crc32 on views at any offset and length, continued from any value', () => {
    const backing = randomBytes(1 << 20);
    for (let i = 0; i < 300; i++) {
      const offset = Math.floor(Math.random() * 1000);
      const length = i < 64 ? i : Math.floor(Math.random() * (backing.length - offset));
      const view = new Uint8Array(backing.buffer, backing.byteOffset + offset, length);
      const initial = i % 3 === 0 ? 0 : randomBytes(4).readUInt32BE(0);
      expect(crc32(view, initial)).toBe(zlibCrc32(view, initial));
    }
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  it('uses the native implementation where @node-rs/crc32 ships one (linux x64: CI and this machine)', () => {
    if (process.platform === 'linux' && process.arch === 'x64' && process.env['WEIR_CRC32'] !== 'zlib')
      expect(crc32Implementation).toBe('native');
  });

  it('falls back to zlib when told to (or when the native module does not load)', async () => {
    vi.stubEnv('WEIR_CRC32', 'zlib');
    vi.resetModules();
    const fresh = await import('../../src/storage/crc32.js');
    expect(fresh.crc32Implementation).toBe('zlib');
    expect(fresh.crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });
});

describe('crc32Combine', () => {
  it('gives crc32 of a concatenation from the parts, for any lengths', () => {
    for (let i = 0; i < 500; i++) {
      const a = randomBytes(Math.floor(Math.random() * 200));
      const b = randomBytes(i < 100 ? i : Math.floor(Math.random() * 5000));
      expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
    }
  });

  it('combines parts of megabytes (every power of two of their lengths up to 2^22 bytes)', () => {
    const a = randomBytes(1000);
    for (const n of [(1 << 22) - 1, (1 << 21) + 12345, 3 * (1 << 20) + 7]) {
      const b = randomBytes(n);
      expect(crc32Combine(crc32(a), crc32(b), n)).toBe(crc32(Buffer.concat([a, b])));
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
