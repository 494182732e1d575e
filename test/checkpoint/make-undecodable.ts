// Damage that no checksum catches, for tests of what happens when restored state does not decode.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from '../../src/storage/crc32.js';
import { decodeMetadata, encodeMetadata } from '../../src/storage/metadata.js';

/**
 * Overwrites the first key group of a keyed state file of the checkpoint in `folder` with bytes
 * that do not decode, and makes every checksum agree with them (the section's in the index and
 * in `_metadata`, the index's, the file's, `_metadata`'s own). Returns the key group.
 */
export function makeUndecodable(folder: string): number {
  const metaPath = join(folder, '_metadata');
  const meta = decodeMetadata(readFileSync(metaPath), metaPath);
  const handle = meta.operators.flatMap((op) => op.subtasks).find((s) => s.keyed !== null)!.keyed!;
  const path = join(folder, handle.path);
  const bytes = readFileSync(path);
  const section = handle.sections[0]!;
  const [id, offset, length] = section;
  bytes.fill(0xff, offset, offset + length); // CBOR "break" where an item must begin
  const crc = crc32(bytes.subarray(offset, offset + length));
  // Index entries (u32 id · u64 offset · u32 length · u32 crc) end where the 16-byte footer begins.
  const count = bytes.readUInt32BE(bytes.length - 16);
  const index = bytes.length - 16 - count * 20;
  for (let i = 0; i < count; i++)
    if (bytes.readUInt32BE(index + i * 20) === id) bytes.writeUInt32BE(crc, index + i * 20 + 16);
  bytes.writeUInt32BE(crc32(bytes.subarray(index, bytes.length - 16)), bytes.length - 12);
  writeFileSync(path, bytes);
  section[3] = crc;
  handle.crc32 = crc32(bytes);
  writeFileSync(metaPath, encodeMetadata(meta));
  return id;
}
