// A wake-up flag a task waits on. Anything that may let a waiting task continue (a batch
// arriving, credit returning, a mail) notifies it; a notification before the wait is not lost.

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
