// Direct hand-off to idle workers (lua/includes/handoff.lua): a worker registers through its leases, in
// each queue it serves, and waits on its inbox LIST of each queue with BLMPOP on a connection of its own
// per queue (a queue's keys carry its hash tag: one BLMPOP over several queues' lists would cross Cluster
// slots); the enqueue script leases a new task to it and pushes the task onto that list. Closing ends the
// registrations and pushes an empty entry after what was handed over, so `take` returns everything,
// then null.
import type { Inbox, LeasedTask } from '../../broker/broker.js';
import { handedTask } from './codec.js';
import type { Client } from './connection.js';
import { script, type LocalWorker, type RedisContext } from './context.js';
import type { QueueKeys } from './keys.js';

/** How long one BLMPOP waits (seconds) before `take` returns [] and is called again. */
const WAIT_SECONDS = 10;
/** Most entries one `take` returns. */
const TAKE_COUNT = 1_000;
/** How long a closed inbox may live unread. */
const CLOSED_INBOX_TTL_MS = 60_000;

export class RedisInbox implements Inbox {
  private readonly key: string;
  private ended = false;
  /** This worker as the enqueues of the same broker instance see it (tasks they hand over in memory). */
  private readonly local: LocalWorker | undefined;

  constructor(
    private readonly ctx: RedisContext,
    private readonly blocking: Client,
    private readonly keys: QueueKeys,
    private readonly workerId: string,
    deliver?: (tasks: LeasedTask[]) => void,
  ) {
    this.key = keys.inbox(workerId);
    if (deliver) {
      this.local = { workerId, deliver };
      ctx.local.add(keys.queue, this.local);
    }
  }

  async take(): Promise<LeasedTask[] | null> {
    if (this.ended) return null;
    const reply = (await this.blocking.call('BLMPOP', WAIT_SECONDS, 1, this.key, 'LEFT', 'COUNT', TAKE_COUNT)) as
      | [string, string[]]
      | null;
    if (!reply) return [];
    const tasks: LeasedTask[] = [];
    for (const payload of reply[1]) {
      if (payload === '') {
        this.ended = true; // The closing mark: nothing is handed over after it.
        break;
      }
      const task = parseEntry(payload, this.keys.queue);
      if (!task) continue;
      this.ctx.queues.remember(task.id, task.queue);
      tasks.push(task);
    }
    // Only the closing mark came: the inbox has ended (an InboxGroup tells that from a wait that timed out).
    return this.ended && tasks.length === 0 ? null : tasks;
  }

  async close(): Promise<void> {
    await script(this.ctx, 'unpark', [this.keys.idle], [this.workerId, CLOSED_INBOX_TTL_MS]);
    // Only now: an enqueue that handed this worker a task before the unpark has delivered it by now
    // (its reply came first on the same connection), and none hands it one after.
    this.stopLocal();
  }

  dispose(): void {
    this.stopLocal();
    this.blocking.disconnect();
  }

  private stopLocal(): void {
    if (this.local) this.ctx.local.remove(this.keys.queue, this.local);
  }
}

/**
 * One inbox entry (handoff.lua: a JSON array of the task's fields with its input last). An entry that
 * is not one (written by hand) is skipped: its task, if any, returns when its lease expires.
 */
function parseEntry(payload: string, queue: string): LeasedTask | undefined {
  let fields: unknown;
  try {
    fields = JSON.parse(payload);
  } catch {
    return undefined;
  }
  if (!Array.isArray(fields) || fields.length !== 8 || typeof fields[0] !== 'string') return undefined;
  return handedTask(fields, queue);
}

/**
 * The inboxes of a worker of several queues, one per queue, taken from as one: `take` returns what the
 * first of them to answer brought, and keeps the others' waits running for the next call.
 */
export class InboxGroup implements Inbox {
  private readonly waits = new Map<Inbox, Promise<{ inbox: Inbox; tasks: LeasedTask[] | null }>>();
  private readonly open: Set<Inbox>;

  constructor(private readonly inboxes: Inbox[]) {
    this.open = new Set(inboxes);
  }

  async take(): Promise<LeasedTask[] | null> {
    for (;;) {
      if (this.open.size === 0) return null;
      for (const inbox of this.open) {
        if (this.waits.has(inbox)) continue;
        const wait = inbox.take().then(
          (tasks) => ({ inbox, tasks }),
          (error: unknown) => {
            this.waits.delete(inbox); // The next take() asks this inbox again.
            throw error;
          },
        );
        wait.catch(() => undefined); // Reported by the take() that awaits it, now or later.
        this.waits.set(inbox, wait);
      }
      const { inbox, tasks } = await Promise.race(this.waits.values());
      this.waits.delete(inbox);
      if (tasks !== null) return tasks;
      this.open.delete(inbox); // Closed and emptied: the group ends once every inbox has.
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.inboxes.map((inbox) => inbox.close()));
  }

  dispose(): void {
    for (const inbox of this.inboxes) inbox.dispose();
  }
}
