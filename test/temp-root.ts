// Vitest global setup: every test run gets one temporary folder of its own as TMPDIR (inherited
// by the test workers and by every weir process a test starts), removed when the run ends. Tests
// create their folders with mkdtemp(tmpdir()) as usual; what a failed or killed test leaves
// behind goes with the run instead of piling up in the machine's /tmp.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'weir-test-run-'));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
