// A wake-up flag a task waits on. Anything that may let a waiting task continue (a batch
// arriving, credit returning, a mail) notifies it; a notification before the wait is not lost.
//
// A notification resolves the wait in progress, if there is one, or is kept for the next wait.
// So a wait must not be left behind: a notification that resolved a wait nobody awaits any more
// would be spent, and the task's next wait would sleep through the mail it brought. Anything
// else a task waits for notifies the signal instead (a source's isAvailable(): see StreamTask).

export class Signal {
  private notified = false;
  private resolve: (() => void) | undefined;
  private pending: Promise<void> | undefined;

  notify(): void {
    const r = this.resolve;
    if (r !== undefined) {
      this.resolve = undefined;
      this.pending = undefined;
      r();
    } else {
      this.notified = true;
    }
  }

  wait(): Promise<void> {
    if (this.notified) {
      this.notified = false;
      return Promise.resolve();
    }
    this.pending ??= new Promise<void>((r) => (this.resolve = r));
    return this.pending;
  }
}
