// Direct hand-off to idle workers (lua/includes/handoff.lua): a worker registers through its leases, in
// each queue it serves, and waits on its inbox LIST of each queue with BLMPOP on a connection of its own
// per queue (a queue's keys carry its hash tag: one BLMPOP over several queues' lists would cross Cluster
// slots); the enqueue script leases a new task to it and pushes the task onto that list. Closing ends the
// registrations and pushes an empty entry after what was handed over, so `take` returns everything,
// then null.
//
// A BLMPOP's reply can be lost after Redis popped the entries: the connection dropped, or went silent
// while Redis still held it (and popped into it until its wait ended). So whenever the blocking
// connection was replaced, the inbox asks Redis (reclaim.lua, on the command connection) for the tasks
// active for its worker that the worker does not hold and that do not wait in the inbox, at once and
// again once any old wait has ended (one reclaim at a time: reconnections that come together, as a Cluster
// client's node connections do, share the next one), and delivers them through `local`, unconfirmed.
// Such a task may also still be on its way in a BLMPOP reply (or a lease's, or an enqueue's), or have
// arrived that way after the reclaim read what the worker held, and even have finished: the worker
// ignores a task it holds in the same attempt and confirms the lease of any other before running it, and
// the inbox skips the entries it reclaimed until a wait sent after the reclaim answers.
import type { Inbox, LeasedTask } from '../../broker/broker.js';
import { handedTask, leasedTask, LEASED_FIELDS, toNumber } from './codec.js';
import type { Client } from './connection.js';
import { script, type LocalWorker, type RedisContext } from './context.js';
import { toStoredId } from './ids.js';
import type { QueueKeys } from './keys.js';

/**
 * How long one BLMPOP waits (seconds) before `take` returns [] and is called again: half the socket
 * timeout, at most 10 s, so that a wait's reply always comes well within it.
 */
export function inboxWaitSeconds(socketTimeoutMs: number): number {
  return Math.max(1, Math.min(10, Math.floor(socketTimeoutMs / 2_000)));
}
/** Fields per task in reclaim.lua's reply: a lease's, then the lease expiry. */
const RECLAIMED_FIELDS = LEASED_FIELDS + 1;
/** Most entries one `take` returns. */
const TAKE_COUNT = 1_000;
/** How long a closed inbox may live unread. */
const CLOSED_INBOX_TTL_MS = 60_000;

export class RedisInbox implements Inbox {
  private readonly key: string;
  private readonly waitSeconds: number;
  private ended = false;
  /** Closed or disposed: reclaimed tasks are no longer delivered. */
  private stopped = false;
  /** This worker as the enqueues of the same broker instance see it (tasks they hand over in memory). */
  private readonly local: LocalWorker | undefined;
  private readonly reconnected = () => this.reclaimAfterReconnect();
  /** The last wait failed (its connection was lost): the next one reclaims. */
  private failed = false;
  /** The reclaim due once a wait of the replaced connection has surely ended. */
  private laterReclaim: NodeJS.Timeout | undefined;
  private reclaiming = false;
  /** A reconnection came while a reclaim was in flight: another follows it. */
  private reclaimAgain = false;
  /** Counts finished reclaims: a wait sent after the last one finished clears `reclaimed` when it answers. */
  private reclaims = 0;
  /** Tasks reclaimed (id -> lease expiry) whose inbox entries may still arrive: skipped. */
  private readonly reclaimed = new Map<string, number>();

  /**
   * `holding` (given with `deliver`) lists the ids of the tasks the worker holds: with both, the inbox
   * reclaims what a lost reply took (see the top of this file).
   */
  constructor(
    private readonly ctx: RedisContext,
    private readonly blocking: Client,
    private readonly keys: QueueKeys,
    private readonly workerId: string,
    deliver?: (tasks: LeasedTask[]) => void,
    private readonly holding?: () => Iterable<string>,
  ) {
    this.key = keys.inbox(workerId);
    this.waitSeconds = inboxWaitSeconds(ctx.socketTimeoutMs);
    if (deliver) {
      this.local = { workerId, deliver };
      ctx.local.add(keys.queue, this.local);
      if (holding) {
        // The connection is ready already: every 'ready' from now on is a new connection. A Cluster
        // client replaces a lost node connection with a new one ('+node') and sends its wait again.
        blocking.on('ready', this.reconnected);
        if (blocking.isCluster) blocking.on('+node', this.reconnected);
      }
    }
  }

  async take(): Promise<LeasedTask[] | null> {
    if (this.ended) return null;
    if (this.failed) {
      // A Cluster connection is not re-established, and what waited on it fails: the next one is new.
      this.failed = false;
      this.reclaimAfterReconnect();
    }
    // Whether every reclaim had finished before this wait was sent: its answer then comes after any
    // entry a reclaimed task could still have been in.
    const afterReclaims = this.reclaiming ? -1 : this.reclaims;
    let reply: [string, string[]] | null;
    try {
      reply = (await this.blocking.call('BLMPOP', this.waitSeconds, 1, this.key, 'LEFT', 'COUNT', TAKE_COUNT)) as [string, string[]] | null;
    } catch (error) {
      this.failed = true;
      throw error;
    }
    const tasks: LeasedTask[] = [];
    for (const payload of reply?.[1] ?? []) {
      if (payload === '') {
        this.ended = true; // The closing mark: nothing is handed over after it.
        break;
      }
      const task = parseEntry(payload, this.keys.queue);
      if (!task || this.reclaimed.get(task.id) === task.leaseExpiresAt) continue;
      this.ctx.queues.remember(task.id, task.queue);
      tasks.push(task);
    }
    if (afterReclaims === this.reclaims) this.reclaimed.clear();
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
    this.stopped = true;
    this.blocking.off('ready', this.reconnected).off('+node', this.reconnected);
    clearTimeout(this.laterReclaim);
    if (this.local) this.ctx.local.remove(this.keys.queue, this.local);
  }

  /**
   * The blocking connection was replaced: reclaims now, and again once a wait that Redis may still hold
   * on the old connection has ended (it pops whatever is handed over meanwhile).
   */
  private reclaimAfterReconnect(): void {
    if (!this.holding) return;
    void this.reclaim();
    clearTimeout(this.laterReclaim);
    this.laterReclaim = setTimeout(() => void this.reclaim(), this.waitSeconds * 1_000 + 1_000);
    this.laterReclaim.unref();
  }

  /** Delivers the tasks handed to this worker in this queue that it never received (reclaim.lua). */
  private async reclaim(): Promise<void> {
    const local = this.local;
    if (this.stopped || !local || !this.holding) return;
    if (this.reclaiming) {
      this.reclaimAgain = true;
      return;
    }
    this.reclaiming = true;
    try {
      const held = Array.from(this.holding(), toStoredId);
      const reply = await script<unknown[]>(this.ctx, 'reclaim', [this.keys.active, this.keys.idle], [this.keys.taskPrefix, this.workerId, ...held]);
      const tasks: LeasedTask[] = [];
      for (let at = 0; at < reply.length; at += RECLAIMED_FIELDS) {
        const task = leasedTask(reply, at, this.keys.queue, toNumber(reply[at + LEASED_FIELDS]));
        task.unconfirmed = true;
        this.reclaimed.set(task.id, task.leaseExpiresAt);
        this.ctx.queues.remember(task.id, task.queue);
        tasks.push(task);
      }
      if (tasks.length > 0 && !this.stopped) {
        this.ctx.reclaimsDelivered++;
        local.deliver(tasks);
      }
    } catch {
      // Unreachable again: the next reconnection reclaims, and meanwhile such tasks return when their
      // lease expires, as before.
    } finally {
      this.reclaiming = false;
      this.reclaims++;
      if (this.reclaimAgain) {
        this.reclaimAgain = false;
        void this.reclaim();
      }
    }
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
