// The key layout. Every key of one queue shares the hash tag `{P:queue}`, so each script touches one
// slot and a Redis Cluster never raises CROSSSLOT; global keys share the tag `{P}`.
//   {P:q}:t:<id>        task HASH (<id>: the stored id, ids.ts)                     {P:q}:queued:<p> LIST per priority p (0..15), FIFO
//                                                     {P:q}:scheduled  ZSET runAt
//   {P:q}:retrying      ZSET runAt                    {P:q}:active     ZSET lease expiry
//   {P:q}:active:call:<worker id>  STRING the ids a worker's last lease call took (lease.lua; for its lease time)
//   {P:q}:expiring      ZSET expiry of queued tasks   {P:q}:completed|failed|cancelled  ZSET finishedAt
//   {P:q}:keys          HASH idempotency key -> id
//   {P:q}:idle          HASH worker id -> hand-off registration   {P:q}:idle:<worker id> LIST inbox
//   {P:q}:unused        STRING when the queue was found holding nothing (lua/includes/unused.lua)
//   {P}:queues SET of queue names   {P}:forgetting SET of names being forgotten (maintenance.ts)
//   {P}:workers HASH   {P}:leader:<service>
//   channels: one server: P:events (every event), P:events:work (what workers act on, events.ts).
//   A Cluster: shard channels in the slot of what they tell of, so no event crosses the cluster bus:
//   {P:q}:events and {P:q}:events:work (the queue's task events), {P}:events (worker events) and
//   {P}:events:queues and {P}:events:queues:work (names of queues just added to {P}:queues, so subscribers
//   join their channels: name_queues.lua).
import type { TaskState } from '../../types.js';
import { toStoredId } from './ids.js';

const PRIORITIES_HIGH_FIRST = Array.from({ length: 16 }, (_, i) => 15 - i);

export class QueueKeys {
  readonly taskPrefix: string;
  /** The base name of the queued lists: the list of priority p is `${queued}:${p}`. */
  readonly queued: string;
  readonly scheduled: string;
  readonly retrying: string;
  readonly active: string;
  readonly expiring: string;
  readonly completed: string;
  readonly failed: string;
  readonly cancelled: string;
  readonly keys: string;
  /** Idle workers' hand-off registrations; `${idle}:${workerId}` is a worker's inbox (handoff.lua). */
  readonly idle: string;
  /** When the queue was found holding nothing; its name is forgotten after a grace (lua/includes/unused.lua). */
  readonly unused: string;
  /** On a Cluster, the shard channel of the queue's task events (Keys.channelOf). */
  readonly channel: string;

  constructor(
    prefix: string,
    readonly queue: string,
  ) {
    const tag = `{${prefix}:${queue}}`;
    this.taskPrefix = `${tag}:t:`;
    this.queued = `${tag}:queued`;
    this.scheduled = `${tag}:scheduled`;
    this.retrying = `${tag}:retrying`;
    this.active = `${tag}:active`;
    this.expiring = `${tag}:expiring`;
    this.completed = `${tag}:completed`;
    this.failed = `${tag}:failed`;
    this.cancelled = `${tag}:cancelled`;
    this.keys = `${tag}:keys`;
    this.idle = `${tag}:idle`;
    this.unused = `${tag}:unused`;
    this.channel = queueChannel(prefix, queue);
  }

  /**
   * The queue's mark of holding nothing and every key that holds something of it, in the order the
   * scripts that tell whether it is empty take them (lua/includes/unused.lua).
   */
  contents(): string[] {
    return [
      this.unused,
      this.queued,
      this.scheduled,
      this.retrying,
      this.active,
      this.expiring,
      this.completed,
      this.failed,
      this.cancelled,
      this.keys,
      this.idle,
    ];
  }

  /** The hash of a task, by the id users know (stored in its short form, see ids.ts). */
  task(id: string): string {
    return this.taskPrefix + toStoredId(id);
  }

  /** The inbox LIST of a worker registered for hand-offs. */
  inbox(workerId: string): string {
    return `${this.idle}:${workerId}`;
  }

  /** The queued list of one priority (0..15). */
  queuedList(priority: number): string {
    return `${this.queued}:${priority}`;
  }

  /** The queued lists, highest priority first. */
  queuedLists(): string[] {
    return PRIORITIES_HIGH_FIRST.map((priority) => this.queuedList(priority));
  }

  /** The sorted set holding the tasks of a state other than queued (those are in the queued lists). */
  ofState(state: Exclude<TaskState, 'queued'>): string {
    return this[state];
  }
}

/** A queue's shard channel on a Cluster: in the queue's hash tag. */
const queueChannel = (prefix: string, queue: string) => `{${prefix}:${queue}}:events`;

export class Keys {
  readonly queues: string;
  /** Names of queues the pruner is forgetting (maintenance.ts, forgetQueues): still known until it is done. */
  readonly forgetting: string;
  readonly workers: string;
  /** The channel of worker events; on one server, of every event. */
  readonly channel: string;
  /**
   * On a Cluster, the channel telling event listeners of queue names just added to `queues` (`${it}:work`
   * tells workers); else undefined.
   */
  readonly queuesChannel: string | undefined;
  private readonly perQueue = new Map<string, QueueKeys>();

  /** `sharded`: a Redis Cluster, where each queue's events go on a shard channel of its own. */
  constructor(
    readonly prefix: string,
    readonly sharded = false,
  ) {
    this.queues = `{${prefix}}:queues`;
    this.forgetting = `{${prefix}}:forgetting`;
    this.workers = `{${prefix}}:workers`;
    this.channel = sharded ? `{${prefix}}:events` : `${prefix}:events`;
    this.queuesChannel = sharded ? `{${prefix}}:events:queues` : undefined;
  }

  /** The channel of a queue's task events (`${it}:work` carries what workers act on). */
  channelOf(queue: string): string {
    // Not through queue(): an event hub following thousands of queues needs their channels only.
    return this.sharded ? queueChannel(this.prefix, queue) : this.channel;
  }

  queue(name: string): QueueKeys {
    let keys = this.perQueue.get(name);
    if (!keys) {
      keys = new QueueKeys(this.prefix, name);
      if (this.perQueue.size >= 10_000) this.perQueue.clear();
      this.perQueue.set(name, keys);
    }
    return keys;
  }

  leader(service: string): string {
    return `{${this.prefix}}:leader:${service}`;
  }
}
