// One running attempt: its lease, its abort signal, and the ways it can be stopped from outside.
import type { LeasedTask } from '../broker/broker.js';

/** Why an attempt was stopped before its handler returned. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError';
}

export class Attempt {
  readonly controller = new AbortController();
  /** Rejects when the attempt must end now, whatever its handler is doing (hard limit, cancel, lease lost). */
  readonly interrupted: Promise<never>;
  private interrupt!: (reason: Error) => void;
  /** Set once the attempt was handed back to the queue: its outcome is no longer ours to store. */
  handedBack = false;

  constructor(readonly task: LeasedTask) {
    this.interrupted = new Promise<never>((_resolve, reject) => (this.interrupt = reject));
    this.interrupted.catch(() => undefined); // Observed by perform(); never an unhandled rejection.
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Aborts `ctx.signal` with `reason` and lets the handler wind down by itself. */
  abort(reason: Error): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** Aborts `ctx.signal` and ends the attempt at once with `reason` as its outcome. */
  stop(reason: Error): void {
    this.abort(reason);
    this.interrupt(reason);
  }
}
