// One running attempt: its lease, its abort signal, and the ways it can be stopped from outside.
import type { LeasedTask } from '../broker/broker.js';

/** Why an attempt was stopped before its handler returned. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

export class Attempt {
  /** Made on first use: most short tasks never look at their signal. */
  private controller: AbortController | undefined;
  private abortReason: Error | undefined;
  private onInterrupt: ((reason: Error) => void) | undefined;
  private interruptedBy: Error | undefined;
  /** Set once the attempt was handed back to the queue: its outcome is no longer ours to store. */
  handedBack = false;
  /** Set once its handler has ended: its outcome is being stored (the store says whether it still held it). */
  ended = false;

  constructor(readonly task: LeasedTask) {}

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.abortReason) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Aborts `ctx.signal` with `reason` and lets the handler wind down by itself. */
  abort(reason: Error): void {
    if (this.abortReason) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  /** Aborts `ctx.signal` and ends the attempt at once with `reason` as its outcome. */
  stop(reason: Error): void {
    this.abort(reason);
    if (this.interruptedBy) return;
    this.interruptedBy = reason;
    this.onInterrupt?.(reason);
  }

  /** Throws the reason the attempt was stopped, if it was (while it waited for a slot, say). */
  throwIfStopped(): void {
    if (this.interruptedBy) throw this.interruptedBy;
  }

  /** Settles with the handler's outcome, or rejects as soon as the attempt is stopped. */
  race<T>(running: Promise<T>): Promise<T> {
    if (this.interruptedBy) return Promise.reject(this.interruptedBy);
    return new Promise<T>((resolve, reject) => {
      this.onInterrupt = reject;
      running.then(resolve, reject);
    });
  }
}
