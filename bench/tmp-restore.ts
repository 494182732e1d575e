import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsCheckpointStorage } from '../src/storage/fs-checkpoint-storage.js';
import { diskRead, dropCaches, freshRead } from './lib/disk.js';
import { settleHeap } from './lib/harness.js';
import { buildBackends, restoreGraph, restoreSnapshot, writeSnapshot } from './lib/keyed-snapshot.js';

const dir = mkdtempSync(join(tmpdir(), 'weir-tmp-'));
const storage = new FsCheckpointStorage(dir);
async function write(): Promise<Array<{ uri: string; file: string; size: number }>> {
  const backends = buildBackends(1, { keys: 1 << 20, valueBytes: 1024 });
  const { graph, node } = restoreGraph(1);
  const out: Array<{ uri: string; file: string; size: number }> = [];
  for (let r = 0; r < 3; r++) {
    const location = storage.checkpointLocation('bench', r + 1);
    const size = await writeSnapshot(storage, location, backends, { graph, node, jobId: 'bench', id: r + 1, kind: 'checkpoint' });
    for (const b of backends) while (!b.mergeStep(1 << 16));
    const folder = location.uri.replace('file://', '');
    const big = readdirSync(folder).map((n) => join(folder, n)).sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    out.push({ uri: location.uri, file: big, size });
  }
  return out;
}
const chks = await write();
const { graph, node } = restoreGraph(1);
const mib = (x: number): string => (x / (1 << 20)).toFixed(0);
for (let round = 0; round < Number(process.env['ROUNDS'] ?? 2); round++)
  for (const c of chks) {
    await settleHeap();
    dropCaches();
    const c0 = process.cpuUsage();
    const e0 = performance.eventLoopUtilization();
    const t0 = performance.now();
    let { backends } = await restoreSnapshot(storage, c.uri, graph, node);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    const elu = performance.eventLoopUtilization(e0);
    backends = [];
    await settleHeap();
    dropCaches();
    const disk = diskRead(c.file, statSync(c.file).size);
    dropCaches();
    const fresh = freshRead(c.file, statSync(c.file).size);
    console.log(
      `restore ${ms.toFixed(0)} ms = ${mib(c.size / (ms / 1000))} MiB/s (user ${(cpu.user / 1000).toFixed(0)} sys ${(cpu.system / 1000).toFixed(0)} main ${elu.active.toFixed(0)}); disk ${mib(disk)} MiB/s, fresh ${mib(fresh)} MiB/s; ratio ${((c.size / (ms / 1000)) / disk).toFixed(2)}`,
    );
    void backends;
  }
rmSync(dir, { recursive: true, force: true });
