// A ByteSink that is still being opened, as the storages' sinks are (the state file writer takes
// bytes into its buffers meanwhile): tests use it to open a sink late, or never. Nothing reaches
// the sink before it is open; a failure to open is the failure of the first write, or of commit.
import type { ByteSink } from '../../src/storage/state-file.js';

export class DeferredSink implements ByteSink {
  constructor(private readonly opening: Promise<ByteSink>) {
    // Awaited by every call below: an opening that fails before any is made is not "unhandled".
    opening.catch(() => undefined);
  }

  async write(chunk: Uint8Array): Promise<void> {
    await (await this.opening).write(chunk);
  }

  async commit(): Promise<void> {
    await (await this.opening).commit();
  }

  /** Waits for the opening; drops the file if it was created. */
  async abort(): Promise<void> {
    const sink = await this.opening.catch(() => undefined);
    await sink?.abort();
  }
}
