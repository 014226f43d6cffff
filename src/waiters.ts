// Waiting for tasks to finish: driven by the broker's events, never by polling. A wait reads only its
// task's outcome (state, result, error), never its input, which can be large (an agent's prompt), and
// not even that when the event that its task finished carried the outcome (Redis, a small result).
import type { Broker, TaskOutcome } from './broker/broker.js';
import { TimeoutError } from './errors.js';
import type { CeleriacEvent } from './events.js';
import { isFinished } from './types.js';

/**
 * A wait that has heard nothing for this long reads its task again (an event lost while a broker
 * connection was down must not leave it hanging). Those reads are paced: every RECHECK_EVERY_MS, at most
 * RECHECK_PER_TICK of them, longest unread first, so a few hundred waits are each read every 5 s or so,
 * and 15,000 (each read every 75 s) no longer cost a tenth of a core and a 0.3 s stall every 5 s (measured
 * on Redis and SQLite when every wait was read each time).
 */
const RECHECK_AFTER_MS = 5_000;
const RECHECK_EVERY_MS = 1_000;
const RECHECK_PER_TICK = 200;

type Waiter = { resolve: (outcome: TaskOutcome) => void; reject: (error: Error) => void };

export class TaskWaiters {
  private readonly waiters = new Map<string, Set<Waiter>>();
  /** When each waited-for task was last read; in that order (a read moves it to the end). */
  private readonly readAt = new Map<string, number>();
  private unsubscribe: (() => void) | undefined;
  /**
   * Keeps the process alive while waits are pending (event subscriptions do not), and re-reads their
   * tasks now and then: an event lost while a broker connection was down must not leave a wait hanging.
   */
  private hold: NodeJS.Timeout | undefined;

  constructor(
    private readonly broker: Broker,
    /** A monotonic clock in ms (a wall clock set back would pause the rechecks). */
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Resolves with the task's outcome once it has finished; rejects if it does not exist, or no longer does. */
  async wait(id: string, timeoutMs?: number): Promise<TaskOutcome> {
    let waiter!: Waiter;
    const finished = new Promise<TaskOutcome>((resolve, reject) => (waiter = { resolve, reject }));
    this.add(id, waiter);
    // From the call: a broker that cannot be reached does not hold the wait past its timeout.
    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => waiter.reject(new TimeoutError(`task ${id} did not finish within ${timeoutMs} ms`)), timeoutMs);
    try {
      // Subscribed first, then read: a finish between the two cannot be missed.
      this.readOnce(id).then(
        (current) => current && waiter.resolve(current),
        (error: Error) => waiter.reject(error),
      );
      return await finished;
    } finally {
      clearTimeout(timer);
      this.remove(id, waiter);
    }
  }

  /** The task's outcome once subscribed, if it has already finished; throws if it does not exist. */
  private async readOnce(id: string): Promise<TaskOutcome | undefined> {
    await this.broker.subscribed?.();
    const current = await this.read(id);
    if (!current) throw new Error(`task ${id} not found (it may have been pruned)`);
    return isFinished(current.state) ? current : undefined;
  }

  /** A task's outcome; from `getTask` where the broker cannot read less. */
  private read(id: string): Promise<TaskOutcome | null> {
    return this.broker.getOutcome ? this.broker.getOutcome(id) : this.broker.getTask(id);
  }

  /** Settles the waits of a task with what a read found: its outcome once finished, an error if gone. */
  private settle(id: string, set: Set<Waiter>, outcome: TaskOutcome | null): void {
    if (outcome && !isFinished(outcome.state)) return;
    for (const waiter of set) {
      if (outcome) waiter.resolve(outcome);
      else waiter.reject(new Error(`task ${id} no longer exists (purged while waiting, or pruned after its retention)`));
    }
  }

  close(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    for (const set of this.waiters.values()) {
      for (const waiter of set) waiter.reject(new Error('the app was closed while waiting for a task'));
    }
    this.waiters.clear();
    this.readAt.clear();
    clearInterval(this.hold);
    this.hold = undefined;
  }

  private add(id: string, waiter: Waiter): void {
    this.unsubscribe ??= this.broker.subscribe((events) => this.onEvents(events), {
      types: ['task.completed', 'task.failed', 'task.cancelled'],
    });
    let set = this.waiters.get(id);
    if (!set) {
      this.waiters.set(id, (set = new Set()));
      this.readAt.set(id, this.now()); // wait() reads it now.
    }
    set.add(waiter);
    this.hold ??= setInterval(() => this.recheck(), RECHECK_EVERY_MS);
  }

  private remove(id: string, waiter: Waiter): void {
    const set = this.waiters.get(id);
    set?.delete(waiter);
    if (set?.size === 0) {
      this.waiters.delete(id);
      this.readAt.delete(id);
    }
    if (this.waiters.size === 0) {
      clearInterval(this.hold);
      this.hold = undefined;
    }
  }

  private recheck(): void {
    const now = this.now();
    const due: string[] = [];
    for (const [id, at] of this.readAt) {
      if (now - at < RECHECK_AFTER_MS || due.length === RECHECK_PER_TICK) break; // The rest were read later.
      due.push(id);
    }
    for (const id of due) {
      this.readAt.delete(id);
      this.readAt.set(id, now);
      const set = this.waiters.get(id);
      if (!set) continue;
      this.read(id).then(
        (outcome) => this.settle(id, set, outcome),
        () => undefined, // The broker is down: the next recheck or event will tell.
      );
    }
  }

  private onEvents(events: CeleriacEvent[]): void {
    for (const event of events) {
      if (event.type !== 'task.completed' && event.type !== 'task.failed' && event.type !== 'task.cancelled') continue;
      const set = this.waiters.get(event.taskId);
      if (!set) continue;
      const carried = this.broker.carriedOutcome?.(event);
      if (carried) {
        this.settle(event.taskId, set, carried); // A small result came with the event: no read.
        continue;
      }
      this.read(event.taskId).then(
        (outcome) => this.settle(event.taskId, set, outcome),
        (error: Error) => {
          for (const waiter of set) waiter.reject(error);
        },
      );
    }
  }
}
