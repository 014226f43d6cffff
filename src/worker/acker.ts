// Settles finished attempts in batches: every settlement made in one turn of the event loop goes to the
// broker in one call. If the broker fails, the batch is kept and retried with backoff: nothing is lost.
import type { Broker, Settlement } from '../broker/broker.js';
import type { Logger } from '../logger.js';
import { sleep } from '../wake.js';

interface Pending {
  settlement: Settlement;
  resolve: (held: boolean) => void;
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
  ) {}

  /** Resolves once stored: true if the worker still held the task, false if its lease was lost. */
  settle(settlement: Settlement): Promise<boolean> {
    return new Promise((resolve) => {
      this.batch.push({ settlement, resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
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
    try {
      const held = await this.broker.settle(batch.map((pending) => pending.settlement));
      if (this.failures > 0) this.log.info('broker reachable again; settlements stored');
      this.failures = 0;
      batch.forEach((pending, i) => pending.resolve(held[i] ?? false));
    } catch (error) {
      this.failures++;
      const delay = Math.min(MAX_BACKOFF_MS, 50 * 2 ** this.failures);
      this.log.error({ err: error, retryInMs: delay, tasks: batch.length }, 'cannot store task results; will retry');
      this.batch = batch.concat(this.batch);
      if (this.stopped) {
        batch.forEach((pending) => pending.resolve(false));
        this.batch = [];
        return;
      }
      this.scheduled = true;
      setTimeout(() => void this.flush(), delay);
    }
  }
}
