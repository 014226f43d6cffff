// The worker's pool: the attempts it holds leases on, at most `concurrency` of them running, and a short
// queue of leased tasks waiting for a slot (the prefetch window), so a busy worker starts its next task
// without waiting for a round trip to the broker. An attempt's slot frees when its handler ends; its
// lease is held (and renewed) until its outcome is stored.
//
// The window adapts to how fast tasks finish: it never holds more tasks waiting than finished in the last
// 100 ms, nor more than a tenth of those finished in the last second (one finish of a slow task is no
// rate), nor more than `prefetch`. Short tasks get a full window; a worker whose tasks take a few
// hundred ms or more holds none waiting. The rate cannot foresee a slow task behind fast ones (an agent
// run queued after a burst of quick tasks): once a task has waited HOLD_MS for a slot, every waiting
// task is handed back (`takeHeldTooLong`), so none sits in a busy worker while another has room.
import type { LeasedTask } from '../broker/broker.js';
import { Attempt } from './attempt.js';

const RATE_WINDOW_MS = 100;
/** The windows whose finishes are averaged (one second). */
const RECENT_WINDOWS = 10;
/** How long a leased task may wait for a slot before it goes back to its queue. */
export const HOLD_MS = 500;

export class Pool {
  /** Every attempt this worker holds a lease on (waiting, running, or being settled), by task id. */
  readonly attempts = new Map<string, Attempt>();
  /** Leased tasks waiting for a slot, oldest first, with when each began to wait. */
  private readonly waiting: Array<{ attempt: Attempt; since: number }> = [];
  private runningCount = 0;
  private windowStart = 0;
  private finishedThisWindow = 0;
  /** Finishes in each of the last RECENT_WINDOWS windows before this one, oldest first. */
  private readonly recent: number[] = [];
  private finishedRecently = 0;

  constructor(
    readonly concurrency: number,
    private readonly prefetch: number,
    private readonly start: (attempt: Attempt) => void,
  ) {}

  /** When the oldest task waiting for a slot began to wait; undefined when none waits. */
  get oldestWaitingSince(): number | undefined {
    return this.waiting[0]?.since;
  }

  /** Attempts running now. */
  get running(): number {
    return this.runningCount;
  }

  /** How many more tasks to lease now: free slots plus what the prefetch window allows to wait. */
  room(now = Date.now()): number {
    this.roll(now);
    const lastWindow = this.recent.at(-1) ?? 0;
    const window = Math.min(this.prefetch, lastWindow, Math.floor(this.finishedRecently / RECENT_WINDOWS));
    return this.concurrency + window - this.runningCount - this.waiting.length;
  }

  /**
   * Takes a leased task: runs it if a slot is free, else it waits for one. A task already held in the same
   * attempt, or a later one, is ignored (false): a broker may deliver a hand-off twice (Broker.openInbox's
   * `holding`), and an earlier attempt's may arrive late.
   * A later attempt of a task held in an earlier one (its lease expired while this worker was stalled,
   * the task was rescued, and leased here again) takes the earlier one's place: an earlier attempt still
   * waiting for a slot is dropped, as its lease is gone (started or handed back, it would run the task
   * twice, or hand back the later attempt's lease while it runs); one running goes on, and its outcome
   * is refused by the broker as of a lost lease.
   */
  add(task: LeasedTask, now = Date.now()): boolean {
    if (this.holds(task)) return false;
    const held = this.attempts.get(task.id);
    if (held) {
      const at = this.waiting.findIndex((entry) => entry.attempt === held);
      if (at >= 0) this.waiting.splice(at, 1);
    }
    const attempt = new Attempt(task);
    this.attempts.set(task.id, attempt);
    if (this.runningCount < this.concurrency) this.run(attempt);
    else this.waiting.push({ attempt, since: now });
    return true;
  }

  /** Whether it holds the task in the attempt given or a later one (`add` would ignore it). */
  holds(task: LeasedTask): boolean {
    return (this.attempts.get(task.id)?.task.attempt ?? 0) >= task.attempt;
  }

  /** An attempt's handler ended: frees its slot for the next waiting one. */
  ended(now = Date.now()): void {
    this.runningCount--;
    this.roll(now);
    this.finishedThisWindow++;
    while (this.runningCount < this.concurrency && this.waiting.length > 0) this.run(this.waiting.shift()!.attempt);
  }

  /** An attempt's outcome is stored (or given up): its lease is no longer this worker's to renew. */
  settled(attempt: Attempt): void {
    // Unless a later attempt of the task took its place (add).
    if (this.attempts.get(attempt.task.id) === attempt) this.attempts.delete(attempt.task.id);
  }

  /** Removes and returns the attempts still waiting for a slot, oldest first (to hand them back at shutdown). */
  takeWaiting(): Attempt[] {
    const taken = this.waiting.splice(0).map((entry) => entry.attempt);
    for (const attempt of taken) this.settled(attempt);
    return taken;
  }

  /**
   * If the oldest waiting attempt has waited HOLD_MS for a slot, the rate that let them in was wrong (the
   * running tasks are slow): removes and returns every waiting attempt, to be handed back. Else none.
   */
  takeHeldTooLong(now = Date.now()): Attempt[] {
    const oldest = this.waiting[0];
    return oldest && now - oldest.since >= HOLD_MS ? this.takeWaiting() : [];
  }

  private run(attempt: Attempt): void {
    this.runningCount++;
    this.start(attempt);
  }

  private roll(now: number): void {
    const elapsed = Math.floor((now - this.windowStart) / RATE_WINDOW_MS);
    if (elapsed < 1) return;
    // The window that ends now, then an empty one for each whole window that passed without a call.
    this.push(this.finishedThisWindow);
    for (let n = 1; n < Math.min(elapsed, RECENT_WINDOWS + 1); n++) this.push(0);
    this.finishedThisWindow = 0;
    this.windowStart = now;
  }

  private push(finished: number): void {
    this.recent.push(finished);
    this.finishedRecently += finished;
    if (this.recent.length > RECENT_WINDOWS) this.finishedRecently -= this.recent.shift()!;
  }
}
