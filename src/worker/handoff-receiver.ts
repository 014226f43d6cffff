// Receives the tasks a broker hands directly to this worker (Broker.openInbox): while the worker is
// idle, a task enqueued to its queue arrives here already leased, with no lease round trip. Stopping
// ends the worker's registration and returns only once everything handed over has been received.
import type { Inbox, LeasedTask } from '../broker/broker.js';
import type { Logger } from '../logger.js';
import { nextMacrotask, sleep } from '../wake.js';

const MAX_BACKOFF_MS = 5_000;
/** How long stopping waits for the inbox to deliver its last tasks when the broker does not answer. */
const STOP_TIMEOUT_MS = 5_000;

export class HandoffReceiver {
  private readonly stopped = new AbortController();
  private readonly loop: Promise<void>;
  /** Tasks were just received and the next wait is not sent yet: it goes out at the next turn. */
  private waitDue = false;

  constructor(
    private readonly inbox: Inbox,
    private readonly log: Logger,
    private readonly received: (tasks: LeasedTask[]) => void,
  ) {
    this.loop = this.receive();
  }

  /** Whether the next wait is about to be sent (a result of this turn should let it go first). */
  get sendingWait(): boolean {
    return this.waitDue;
  }

  /** Ends the registration and waits until what was handed over has been received (or a timeout). */
  async stop(): Promise<void> {
    const timeout = new AbortController();
    try {
      await this.inbox.close();
      await Promise.race([this.loop, sleep(STOP_TIMEOUT_MS, timeout.signal)]);
    } catch (error) {
      this.log.error({ err: error }, 'cannot close the hand-off inbox; tasks handed over meanwhile return when their lease expires');
    } finally {
      timeout.abort();
      this.stopped.abort();
      this.inbox.dispose();
    }
  }

  private async receive(): Promise<void> {
    let failures = 0;
    while (!this.stopped.signal.aborted) {
      let tasks: LeasedTask[] | null;
      try {
        tasks = await this.inbox.take();
        failures = 0;
      } catch (error) {
        if (this.stopped.signal.aborted) return;
        failures++;
        const delay = Math.min(MAX_BACKOFF_MS, 50 * 2 ** failures);
        this.log.error({ err: error, retryInMs: delay }, 'cannot receive handed-over tasks; retrying');
        await sleep(delay, this.stopped.signal);
        continue;
      }
      if (tasks === null) return;
      if (tasks.length > 0) {
        this.waitDue = true;
        this.received(tasks);
        // Let the tasks start before the next wait is sent: they are what someone is waiting for.
        await nextMacrotask();
        this.waitDue = false;
      }
    }
  }
}
