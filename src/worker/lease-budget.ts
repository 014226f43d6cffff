// When a worker leases and how many tasks it asks for. While its leases come back full (a backlog), two
// may be in flight at once (the fetch loop's and the one sent with a batch of results), each for at most
// half of what the pool can hold, so a busy worker runs one batch while the broker prepares the next.
// Otherwise one at a time. After a lease comes back short, a worker does not ask again until a task is
// queued in one of its queues (an event) or the poll interval passes: an empty lease costs a round trip.
import type { Pool } from './pool.js';

/** What `started` returns and `answered` takes back. */
export interface LeaseTicket {
  limit: number;
  /** The number of task.queued signals seen when the lease was sent. */
  signals: number;
}

export class LeaseBudget {
  /** Tasks asked for by leases not answered yet, and how many leases that is. */
  private inFlight = 0;
  private leasesInFlight = 0;
  /** The last answered lease was full: there is a backlog. */
  private busy = false;
  /** The last answered lease was short and no task was queued since it was sent. */
  private quiet = false;
  private signals = 0;
  private lastLeaseAt = 0;
  private readonly batchCap: number;

  constructor(
    private readonly pool: Pool,
    private readonly pollMs: number,
    capacity: number,
  ) {
    this.batchCap = Math.max(1, Math.ceil(capacity / 2));
  }

  /** How many tasks to ask for now; 0 means do not lease. */
  next(now = Date.now()): number {
    if (this.quiet && now - this.lastLeaseAt < this.pollMs) return 0;
    if (this.leasesInFlight >= (this.busy ? 2 : 1)) return 0;
    return Math.max(0, Math.min(this.batchCap, this.pool.room(now) - this.inFlight));
  }

  /** A lease for `limit` tasks is being sent. */
  started(limit: number, now = Date.now()): LeaseTicket {
    this.inFlight += limit;
    this.leasesInFlight++;
    this.lastLeaseAt = now;
    return { limit, signals: this.signals };
  }

  /** The lease was answered with `got` tasks, or failed (undefined). */
  answered(ticket: LeaseTicket, got: number | undefined): void {
    this.inFlight -= ticket.limit;
    this.leasesInFlight--;
    if (got === undefined) {
      this.busy = this.quiet = false;
    } else if (got >= ticket.limit) {
      this.busy = true;
      this.quiet = false;
    } else {
      this.busy = false;
      this.quiet = ticket.signals === this.signals;
    }
  }

  /** A task became queued in one of the worker's queues. */
  taskQueued(): void {
    this.signals++;
    this.quiet = false;
  }
}
