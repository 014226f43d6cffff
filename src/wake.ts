// A wake-up signal for loops that sleep until something happens or a deadline passes.

/** Resolves a pending `wait()` on `notify()`; a notify with nobody waiting wakes the next wait at once. */
export class Wake {
  private pending: (() => void) | undefined;
  private notified = false;

  notify(): void {
    if (this.pending) {
      const resolve = this.pending;
      this.pending = undefined;
      resolve();
    } else {
      this.notified = true;
    }
  }

  /** Waits for `notify()` or `timeoutMs`, whichever comes first. */
  wait(timeoutMs: number): Promise<void> {
    if (this.notified) {
      this.notified = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        resolve();
      }, timeoutMs);
      this.pending = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** Sleeps, but returns early when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Resolves after the current turn of the event loop, letting I/O and timers due now run first. */
export function nextMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
