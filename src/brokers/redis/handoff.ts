// Direct hand-off to idle workers (lua/includes/handoff.lua): a worker of one queue registers through
// its leases and waits on its inbox LIST with BLMPOP on a connection of its own; the enqueue script
// leases a new task to it and pushes the task onto that list. Closing ends the registration and pushes
// an empty entry after what was handed over, so `take` returns everything, then null.
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
    return tasks;
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
