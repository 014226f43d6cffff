// A maintenance service: one periodic job with start/stop, run by workers.
import type { Logger } from '../../logger.js';

export interface MaintenanceService {
  readonly name: string;
  start(): void;
  /** Stops running the job, and gives up its leadership if it has one. */
  stop(): Promise<void>;
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
  /** The earliest time a poke asked for while the job was running; honoured when it ends. */
  private pokedFor = Number.POSITIVE_INFINITY;

  constructor(
    readonly name: string,
    private readonly everyMs: number,
    private readonly tick: () => Promise<number | void>,
    private readonly log: Logger,
    private readonly onStop: () => Promise<void> = () => Promise.resolve(),
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    clearTimeout(this.timer);
    try {
      await this.onStop();
    } catch (error) {
      this.log.warn({ err: error, service: this.name }, 'cannot give up the leadership; it lapses by itself');
    }
  }

  /** Runs the job again within `delayMs`, unless already due sooner; a poke during a run waits for its end. */
  poke(delayMs = 0): void {
    if (!this.running) return;
    if (this.busy) {
      this.pokedFor = Math.min(this.pokedFor, Date.now() + delayMs);
      return;
    }
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
    next = Math.min(next, this.pokedFor - Date.now());
    this.pokedFor = Number.POSITIVE_INFINITY;
    if (this.running) this.schedule(next);
  }
}
