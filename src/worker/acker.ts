// Settles finished attempts in batches: every settlement made in one turn of the event loop goes to the
// broker in one call, which also leases the next tasks when the worker has room (ack and fetch next).
// A settlement made while no other attempt runs (`Refill.alone`) goes at once, in a microtask: nothing
// could join its batch, and the producer waiting for it hears a turn sooner.
// If the broker fails, the batch is kept and retried with backoff: nothing is lost.
import type { Broker, LeaseRequest, LeasedTask, Settlement } from '../broker/broker.js';
import type { Logger } from '../logger.js';
import { sleep } from '../wake.js';

interface Pending {
  settlement: Settlement;
  resolve: (held: boolean | undefined) => void;
}

/** How the acker borrows the worker's fetching: a lease request for the room a batch frees, then its result. */
export interface Refill {
  /** A lease request for the worker's free room, or undefined to only settle. */
  request(): LeaseRequest | undefined;
  /** Called with what was leased (possibly nothing), or with undefined when the call failed. */
  leased(tasks: LeasedTask[] | undefined): void;
  /**
   * Whether a settlement made now may go at once: no other attempt runs (no other result could join
   * this turn's batch), and nothing due this turn should go before it.
   */
  alone(): boolean;
}

const MAX_BACKOFF_MS = 5_000;

export class Acker {
  private batch: Pending[] = [];
  private scheduled = false;
  private flushing: Promise<void> = Promise.resolve();
  private failures = 0;
  private stopped = false;

  constructor(
    private readonly broker: Broker,
    private readonly log: Logger,
    private readonly refill?: Refill,
  ) {}

  /**
   * Resolves once stored: true if the worker still held the task, false if its lease was lost; undefined
   * when it could not be stored before the worker stopped (logged here).
   */
  settle(settlement: Settlement): Promise<boolean | undefined> {
    return new Promise((resolve) => {
      this.batch.push({ settlement, resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        // Results made in one turn go as one batch; a lone result (nothing else running) goes at once.
        if (this.refill?.alone()) queueMicrotask(() => void this.flush());
        else setImmediate(() => void this.flush());
      }
    });
  }

  /** Waits until everything handed in so far is stored, retrying until `deadline` (ms since epoch). */
  async drain(deadline: number): Promise<void> {
    await this.flush();
    while (this.batch.length > 0 && Date.now() < deadline) {
      await sleep(Math.min(MAX_BACKOFF_MS, 50 * 2 ** this.failures, Math.max(0, deadline - Date.now())));
      await this.flush();
    }
  }

  /** After this, a batch the broker refuses is given up (its leases expire and the tasks run again). */
  stop(): void {
    this.stopped = true;
  }

  private flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.flushOnce());
    return this.flushing;
  }

  private async flushOnce(): Promise<void> {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    const settlements = batch.map((pending) => pending.settlement);
    const next = this.stopped ? undefined : this.refill?.request();
    try {
      let held: boolean[];
      if (next) {
        const outcome = await this.broker.settleAndLease(settlements, next).catch((error: unknown) => {
          this.refill!.leased(undefined);
          throw error;
        });
        held = outcome.held;
        this.refill!.leased(outcome.leased);
      } else {
        held = await this.broker.settle(settlements);
      }
      if (this.failures > 0) this.log.info('broker reachable again; results stored');
      this.failures = 0;
      batch.forEach((pending, i) => pending.resolve(held[i] ?? false));
    } catch (error) {
      this.retryLater(batch, error);
    }
  }

  private retryLater(batch: Pending[], error: unknown): void {
    this.failures++;
    const delay = Math.min(MAX_BACKOFF_MS, 50 * 2 ** this.failures);
    if (this.stopped) {
      this.log.error({ err: error, tasks: batch.length }, 'cannot store task results; their leases will expire');
      batch.forEach((pending) => pending.resolve(undefined));
      return;
    }
    this.log.error({ err: error, retryInMs: delay, tasks: batch.length }, 'cannot store task results; will retry');
    this.batch = batch.concat(this.batch);
    this.scheduled = true;
    setTimeout(() => void this.flush(), delay);
  }
}
