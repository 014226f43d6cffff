// What the Redis broker's operation modules share: the connection, the key layout, the event hub, and
// how to find the queue a task lives in (TaskQueues).
import type { LeasedTask } from '../../broker/broker.js';
import type { Client } from './connection.js';
import type { EventHub } from './events.js';
import { fanOut } from './fanout.js';
import type { Keys } from './keys.js';
import { runScript, type ScriptName } from './scripts.js';

export interface RedisContext {
  client: Client;
  keys: Keys;
  events: EventHub;
  queues: TaskQueues;
  local: LocalWorkers;
  /** The URL's socket_timeout: a connection silent this long while a reply is due is replaced. */
  socketTimeoutMs: number;
  /**
   * The queue names the last leadership call of this instance returned, and when (maintenance.ts): a
   * maintenance job right after it looks at those instead of reading them again.
   */
  ledQueues: { names: string[]; at: number } | undefined;
  /**
   * How many times this instance has added queue names to `{P}:queues` (enqueue.ts): a leadership reply
   * sent before the latest of them may lack its names, and is not kept as `ledQueues`.
   */
  queueRegistrations: number;
  /**
   * How many times an inbox of this instance delivered reclaimed tasks (handoff.ts): a lease call during
   * which it changed may bring back tasks a reclaim delivered already, and marks its tasks unconfirmed.
   */
  reclaimsDelivered: number;
}

/** A worker of this broker instance that takes hand-offs directly (Broker.openInbox's `local`). */
export interface LocalWorker {
  workerId: string;
  deliver: (tasks: LeasedTask[]) => void;
}

/**
 * The workers of this broker instance with an inbox, by queue: a single enqueue offers its task to one
 * of them first (enqueue_one.lua), taking turns, and delivers it in memory when the script hands it
 * over. Their commands and the enqueues share one connection, so an enqueue that handed a task over
 * before a worker's inbox closed has its reply, and delivers, before the close's.
 */
export class LocalWorkers {
  private readonly byQueue = new Map<string, LocalWorker[]>();
  private turn = 0;

  add(queue: string, worker: LocalWorker): void {
    this.byQueue.set(queue, [...(this.byQueue.get(queue) ?? []), worker]);
  }

  remove(queue: string, worker: LocalWorker): void {
    const rest = (this.byQueue.get(queue) ?? []).filter((w) => w !== worker);
    if (rest.length > 0) this.byQueue.set(queue, rest);
    else this.byQueue.delete(queue);
  }

  /** The local worker to offer a task of `queue` to, or undefined. */
  candidate(queue: string): LocalWorker | undefined {
    const workers = this.byQueue.get(queue);
    if (!workers) return undefined;
    return workers.length === 1 ? workers[0] : workers[this.turn++ % workers.length];
  }
}

/** Largest number of tasks a single script call handles, so no call blocks Redis for long. */
export const SCRIPT_BATCH = 1_000;

/**
 * Runs a script that publishes events on the channels of `queues` (none: worker events; repeats and
 * undefined are skipped, so a lookup's values do: read only on a Cluster with listeners): numbers the
 * call, and marks it acknowledged once it replied.
 * `calls` may build its calls over several turns of the event loop (a bulk enqueue sends chunk by chunk).
 */
export async function publishing<T>(
  ctx: RedisContext,
  queues: Iterable<string | undefined>,
  calls: (header: string) => Array<Promise<T>> | Promise<Array<Promise<T>>>,
): Promise<T[]> {
  const pending = ctx.events.before(queues);
  if (pending) await pending; // A listener subscribed just now hears this call's events.
  const { header, n } = ctx.events.nextCall();
  const results = await Promise.all(await calls(header));
  ctx.events.acked(n);
  return results;
}

/** A script call on the context's client. */
export function script<T>(ctx: RedisContext, name: ScriptName, keys: string[], args: Array<string | number>): Promise<T> {
  return runScript<T>(ctx.client, name, keys, args);
}

/**
 * Which queue a task belongs to. Task keys carry their queue's hash tag, so an id alone does not name
 * its key: the queue comes from the cache of tasks this instance leased (a busy worker's renew and
 * settle cost no lookup), else from looking for the task's key in each known queue, all in one round
 * trip. No per-task index is stored: it would cost about 100 bytes of Redis memory per task.
 */
export class TaskQueues {
  private readonly cache = new Map<string, string>();
  private static readonly MAX = 200_000;
  /**
   * The queues of the tasks this instance enqueued last, for a producer's status() and result(): two
   * generations of up to 10,000 each, the older dropped whole (evicting one entry at a time from the
   * front of a Map costs more than the enqueue itself).
   */
  private enqueued = new Map<string, string>();
  private enqueuedBefore = new Map<string, string>();
  private static readonly ENQUEUED_GENERATION = 10_000;
  /** The known queue names, re-read when an id is not found in any of them. */
  private known: Promise<string[]> | undefined;
  /** When this instance last added each queue it enqueued to to the set of queue names. */
  private registeredAt = new Map<string, number>();
  /**
   * How often a producer adds a queue it keeps using to the set again (in case the set was lost, by a
   * FLUSHALL say): once per queue, not once per enqueue, which would cost a single enqueue a command.
   */
  private static readonly REGISTER_EVERY_MS = 10_000;

  constructor(
    private readonly client: Client,
    private readonly keys: Keys,
  ) {}

  /** The queues to add to the set of queue names now (and counts them as added). */
  toRegister(queues: Iterable<string>, now: number): string[] {
    const due: string[] = [];
    for (const queue of queues) {
      const at = this.registeredAt.get(queue);
      if (at !== undefined && now - at < TaskQueues.REGISTER_EVERY_MS) continue;
      if (this.registeredAt.size >= 10_000) this.registeredAt.clear();
      this.registeredAt.set(queue, now);
      due.push(queue);
    }
    return due;
  }

  /** Counts queues as not added (their adding or the write after it failed): the next write adds them. */
  unregister(queues: string[]): void {
    for (const queue of queues) this.registeredAt.delete(queue);
  }

  remember(id: string, queue: string): void {
    if (this.cache.size >= TaskQueues.MAX) this.cache.clear();
    this.cache.set(id, queue);
  }

  forget(id: string): void {
    this.cache.delete(id);
  }

  /** A task this instance just enqueued: the most recent ones are kept. */
  enqueuedTo(id: string, queue: string): void {
    if (this.enqueued.size >= TaskQueues.ENQUEUED_GENERATION) {
      this.enqueuedBefore = this.enqueued;
      this.enqueued = new Map();
    }
    this.enqueued.set(id, queue);
  }

  /** The queue of each id when all are cached (no round trip), else undefined. */
  cached(ids: string[]): Map<string, string | undefined> | undefined {
    const found = new Map<string, string | undefined>();
    for (const id of ids) {
      const queue = this.cache.get(id);
      if (queue === undefined) return undefined;
      found.set(id, queue);
    }
    return found;
  }

  /** The queue of each id (undefined when the task is unknown). */
  async lookup(ids: string[]): Promise<Map<string, string | undefined>> {
    const found = new Map<string, string | undefined>();
    let missing: string[] = [];
    for (const id of ids) {
      const queue = this.cache.get(id) ?? this.enqueued.get(id) ?? this.enqueuedBefore.get(id);
      if (queue === undefined) missing.push(id);
      else found.set(id, queue);
    }
    if (missing.length === 0) return found;
    const searched = await this.knownQueues(false);
    missing = await this.search(missing, searched, found);
    if (missing.length > 0) {
      // A queue created since the names were read: read them again, search only the new ones.
      const seen = new Set(searched);
      const fresh = (await this.knownQueues(true)).filter((queue) => !seen.has(queue));
      if (fresh.length > 0) missing = await this.search(missing, fresh, found);
    }
    for (const id of missing) found.set(id, undefined);
    return found;
  }

  async queueOf(id: string): Promise<string | undefined> {
    return (await this.lookup([id])).get(id);
  }

  /** Looks for each id's task key in each queue; records what it finds and returns the ids not found. */
  private async search(ids: string[], queues: string[], found: Map<string, string | undefined>): Promise<string[]> {
    const probes = ids.flatMap((id) => queues.map((queue) => ({ id, queue })));
    const exists = await fanOut<number>(this.client, probes.map(({ id, queue }) => ['exists', this.keys.queue(queue).task(id)]));
    probes.forEach(({ id, queue }, i) => {
      if (exists[i]! > 0) found.set(id, queue);
    });
    return ids.filter((id) => !found.has(id));
  }

  private knownQueues(refresh: boolean): Promise<string[]> {
    if (refresh || !this.known) {
      const reading = queueNames(this.client, this.keys);
      this.known = reading;
      reading.catch(() => {
        if (this.known === reading) this.known = undefined;
      });
    }
    return this.known;
  }
}

/** The names of the known queues: those in `{P}:queues` and those being forgotten (maintenance.ts, forgetQueues). */
export function queueNames(client: Client, keys: Keys): Promise<string[]> {
  return client.sunion(keys.queues, keys.forgetting);
}

/** Groups items by queue, keeping each item's index in the original list. */
export function byQueue<T>(items: T[], queueOf: (item: T) => string | undefined): Map<string, Array<{ item: T; index: number }>> {
  const groups = new Map<string, Array<{ item: T; index: number }>>();
  items.forEach((item, index) => {
    const queue = queueOf(item);
    if (queue === undefined) return;
    let group = groups.get(queue);
    if (!group) groups.set(queue, (group = []));
    group.push({ item, index });
  });
  return groups;
}

/** Splits a list into chunks of at most `size`. */
export function chunks<T>(items: T[], size = SCRIPT_BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
