// A maintenance service: one periodic job with start/stop, run by workers.
import type { Logger } from '../../logger.js';

export interface MaintenanceService {
  readonly name: string;
  start(): void;
  stop(): void;
}

/**
 * Runs `tick` now and then again after the delay it returns (or `everyMs`), until stopped.
 * Errors are logged and the service keeps going.
 */
export class PeriodicService implements MaintenanceService {
  private timer: NodeJS.Timeout | undefined;
  /** When the pending timer fires (ms since epoch); a poke never postpones it. */
  private dueAt = Number.POSITIVE_INFINITY;
  private running = false;
  private busy = false;

  constructor(
    readonly name: string,
    private readonly everyMs: number,
    private readonly tick: () => Promise<number | void>,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  /** Runs the job again within `delayMs`, unless it is running now or already due sooner. */
  poke(delayMs = 0): void {
    if (!this.running || this.busy) return;
    if (Date.now() + delayMs >= this.dueAt) return;
    this.schedule(delayMs);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    const delay = Math.max(0, delayMs);
    this.dueAt = Date.now() + delay;
    this.timer = setTimeout(() => void this.run(), delay);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    this.busy = true;
    let next: number = this.everyMs;
    try {
      const requested = await this.tick();
      if (typeof requested === 'number') next = Math.min(this.everyMs, requested);
    } catch (error) {
      this.log.error({ err: error, service: this.name }, 'maintenance job failed; will retry');
    } finally {
      this.busy = false;
    }
    if (this.running) this.schedule(next);
  }
}
