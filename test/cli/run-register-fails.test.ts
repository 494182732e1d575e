// The job registry is checked before a job starts, but it can change before the job registers
// (another process removes or replaces $WEIR_HOME/jobs). Then `weir run` ends with one line and
// exit code 2, and the REST server it had started is closed (it used to stay open, and the run
// ended in an internal error). In process: the change has to land between the check and the
// registration, which only a spy can time.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CliIO } from '../../src/cli/errors.js';
import { main } from '../../src/cli/main.js';
import { JobRegistry } from '../../src/cluster/job-registry.js';
import { RestServer } from '../../src/cluster/rest-server.js';

const dirs: string[] = [];
afterEach(() => {
  vi.restoreAllMocks();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function refused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/** A folder with a small job file and a $WEIR_HOME under it (removed after the test). */
function jobAndHome(): { job: string; home: string } {
  const dir = mkdtempSync(join(tmpdir(), 'weir-register-'));
  dirs.push(dir);
  const index = pathToFileURL(join(import.meta.dirname, '../../src/index.ts')).href;
  const job = join(dir, 'job.ts');
  writeFileSync(
    job,
    `import { defineJob, DiscardingSink } from '${index}';
export default defineJob({ name: 'unregistered', build(env) { env.fromSequence(1, 10).sinkTo(new DiscardingSink<number>()); } });
`,
  );
  return { job, home: join(dir, 'home') };
}

/** What another process might do: replace the registry's folder by a file. */
function replaceJobsFolder(home: string): void {
  rmSync(join(home, 'jobs'), { recursive: true });
  writeFileSync(join(home, 'jobs'), 'not a folder');
}

async function weirRun(job: string, home: string): Promise<{ code: number; stderr: string }> {
  let stderr = '';
  const io: CliIO = { out: () => undefined, err: (l) => (stderr += l + '\n'), env: { WEIR_HOME: home } };
  const code = await main(['run', job, '--rest-port', '0'], io);
  return { code, stderr };
}

describe('weir run when the job registry changes after its check', () => {
  it("keeps the job's outcome when its entry cannot be removed at the end, and says so", async () => {
    const { job, home } = jobAndHome();
    const unregister = JobRegistry.prototype.unregister;
    vi.spyOn(JobRegistry.prototype, 'unregister').mockImplementation(async function (this: JobRegistry, id) {
      replaceJobsFolder(home);
      return await unregister.call(this, id);
    });
    const { code, stderr } = await weirRun(job, home);
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(
      /\nweir: warning: the job's entry .*\/home\/jobs\/[0-9a-f-]+\.json could not be removed \(.*ENOTDIR.*\); `weir list` may show it until you delete it\n/,
    );
    expect(stderr).not.toMatch(/internal error/);
  });

  it('ends with exit code 2 and one line, and closes the REST server', async () => {
    const { job, home } = jobAndHome();
    const register = JobRegistry.prototype.register;
    vi.spyOn(JobRegistry.prototype, 'register').mockImplementation(async function (this: JobRegistry, r) {
      replaceJobsFolder(home);
      return await register.call(this, r);
    });
    const urls: string[] = [];
    const start = RestServer.prototype.start;
    vi.spyOn(RestServer.prototype, 'start').mockImplementation(async function (this: RestServer) {
      const started = await start.call(this);
      urls.push(started.url);
      return started;
    });
    const { code, stderr } = await weirRun(job, home);
    expect(code, stderr).toBe(2);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(
      /^weir: the job registry .*\/home\/jobs \(\$WEIR_HOME\/jobs\) cannot be used: the job's entry cannot be written \((EEXIST|ENOTDIR): .*\); set WEIR_HOME/,
    );
    expect(urls).toHaveLength(1);
    expect(await refused(urls[0]!)).toBe(true);
  });
});
