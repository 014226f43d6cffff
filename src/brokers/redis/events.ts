// Events over Redis pub/sub: scripts publish one message per call, and one subscriber per broker
// instance hands them to local listeners in order. On one server every event goes on `P:events`, and
// what a worker acts on also on `P:events:work` (events.lua, publish_work): a worker listens there, so a
// process that only runs workers does not receive the whole event stream. On a Cluster, where a PUBLISH
// is forwarded to every node, each queue's events go on shard channels of its own slot instead
// (`{P:q}:events`, `{P:q}:events:work`; worker events on `{P}:events`: keys.ts), which stay on the shard
// that holds the queue; ioredis keeps one subscriber connection per master. There the hub subscribes to
// the channels of every known queue: those in `{P}:queues` when the first listener comes (read again
// every RESYNC_MS, which also leaves the channels of forgotten queues), those a notice on
// `{P}:events:queues` names as just added (name_queues.lua), those a listener names (a worker's), and
// those this instance publishes to.
//
// The instance subscribes to each channel once a listener needs it; until Redis has confirmed it, this
// instance's own publishing calls wait (so a listener hears everything this instance publishes after it
// subscribed), and `subscribed()` tells when events from other processes are heard too. A message is
// "<origin>:<n> <types> <body>", the body in the grouped form of event-batch.ts (events differing only
// by task id share one object). The origin names the publishing broker instance and n its call,
// so a listener never receives what this instance published before it subscribed (pub/sub replies and
// messages travel on different connections and may arrive in either order); the types let a message
// nobody wants skip JSON parsing.
//
// A subscriber only listens, so a connection that went silent (a partition, a host gone without closing
// it) would never be noticed: while subscribed, a subscriber connection that heard nothing for half the
// socket timeout is sent a PING, whose missing reply gets the connection replaced (on one server by the
// socket timeout; on a Cluster, where ioredis connects to the shard's master again, or after a failover
// to the new one, and subscribes again there, after half the socket timeout more).
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { EventListener, SubscribeOptions, TaskOutcome } from '../../broker/broker.js';
import type { CeleriacEvent } from '../../events.js';
import { decodeBatch, encodeBatch } from '../../broker/event-batch.js';
import type { Client } from './connection.js';
import type { Keys } from './keys.js';
import { fromStoredId } from './ids.js';

interface Subscription {
  types: ReadonlySet<string> | null;
  /** This instance's calls up to this number were acknowledged before subscribing: not delivered. */
  skipUpTo: number;
  /** Listens on the work channels (SubscribeOptions.forWorker). */
  work: boolean;
}

/** What a channel carries: events, what workers act on, or (Cluster) names of queues just added. */
type ChannelKind = 'events' | 'work' | 'queues';

/**
 * How long publishing calls and `subscribed()` wait for Redis to confirm a new subscription (as long as
 * a command waits through a reconnection): while the subscriber connection is down, they go on without
 * it, and events published meanwhile may be missed, as during any reconnection.
 */
const CONFIRM_WAIT_MS = 5_000;

/**
 * On a Cluster, how often the known queues are read again while anything listens: it joins queues
 * whose notice was missed (sent while a subscriber connection was down), and leaves queues forgotten
 * (missing from two reads in a row, so never one that was being added during a read).
 */
const RESYNC_MS = 10_000;

/** The channel of what workers act on, beside the events channel `channel`. */
export const workChannelOf = (channel: string) => `${channel}:work`;

export class EventHub {
  private readonly origin = randomUUID().slice(0, 13);
  private readonly listeners = new Map<EventListener, Subscription>();
  /** The outcomes that delivered events carried (a small result: settle.lua), by event. */
  private readonly carried = new WeakMap<CeleriacEvent, TaskOutcome>();
  private sent = 0;
  private acknowledged = 0;
  private closed = false;
  /**
   * Channels subscribed to, or being: while Redis has not confirmed the subscription, a promise of its
   * confirmation or CONFIRM_WAIT_MS, whichever comes first; else null.
   */
  private readonly channels = new Map<string, Promise<void> | null>();
  private readonly kinds = new Map<string, ChannelKind>();
  private waiting = 0;
  /** Whether anything came from the subscriber since the last liveness check (one server). */
  private heard = false;
  /** The shard subscriber connections that received a message since the last liveness check (Cluster). */
  private readonly heardFrom = new WeakSet<Redis>();
  /** The shard subscriber connections whose messages mark them in `heardFrom`. */
  private readonly followed = new WeakSet<Redis>();
  private liveness: NodeJS.Timeout | undefined;
  /** The subscriber connections found not ready at the last liveness check (Cluster). */
  private readonly stalled = new WeakSet<Redis>();

  // A Cluster's per-queue channels (unused on one server).
  private readonly sharded: boolean;
  /** Queues whose channels are joined, for the kinds of listener there are. */
  private readonly queues = new Set<string>();
  /** Queues a listener named (SubscribeOptions.queues): never left. */
  private readonly pinned = new Set<string>();
  /** Queues missing from the last read of the known queues. */
  private missing = new Set<string>();
  private wantEvents = false;
  private wantWork = false;
  /** The first read of the known queues, until it is done (`subscribed()` waits for it). */
  private syncing: Promise<void> | undefined;
  private resync: NodeJS.Timeout | undefined;

  /**
   * `socketTimeoutMs`: the connections' socket timeout (url.ts), which a PING's missing reply trips.
   * `readQueues`: the known queue names (on a Cluster the hub subscribes to their channels).
   */
  constructor(
    private readonly subscriber: Client,
    private readonly keys: Keys,
    private readonly socketTimeoutMs: number,
    private readonly readQueues: () => Promise<string[]>,
  ) {
    this.sharded = keys.sharded;
    subscriber.on(this.sharded ? 'smessage' : 'message', (from: string, message: string) => {
      this.heard = true;
      const kind = this.kinds.get(from);
      if (kind === 'events') this.deliver(message, false);
      else if (kind === 'work') this.deliver(message, true);
      else if (kind === 'queues') this.onQueuesAdded(message);
    });
  }

  /**
   * The subscriptions Redis has not confirmed yet, or undefined (the usual case, checked without an
   * await on every publishing call).
   */
  get pending(): Promise<void> | undefined {
    if (this.waiting === 0) return undefined;
    return Promise.all([...this.channels.values()]).then(() => undefined);
  }

  /**
   * Before a publishing call on the channels of `queues`: on a Cluster, subscribes to those not joined
   * yet if anything listens. Returns what the call must wait for (the subscriptions not confirmed yet),
   * or undefined.
   */
  before(queues: Iterable<string | undefined>): Promise<void> | undefined {
    if (this.sharded && (this.wantEvents || this.wantWork)) {
      for (const queue of queues) if (queue !== undefined && !this.queues.has(queue)) this.joinQueue(queue);
    }
    return this.pending;
  }

  /** {@link before} for one queue (a single enqueue's path). */
  beforeQueue(queue: string): Promise<void> | undefined {
    if (this.sharded && (this.wantEvents || this.wantWork) && !this.queues.has(queue)) this.joinQueue(queue);
    return this.pending;
  }

  /** Resolves once Redis has confirmed every subscription made so far (on a Cluster, after the known queues were read). */
  async subscribed(): Promise<void> {
    await this.syncing;
    await this.pending;
  }

  /** Numbers the next publishing call; pass the header to its script, then {@link acked} its number. */
  nextCall(): { header: string; n: number } {
    const n = ++this.sent;
    return { header: `${this.origin}:${n}`, n };
  }

  /** A publishing call got its reply: what it published is now "before" any later subscription. */
  acked(n: number): void {
    if (n > this.acknowledged) this.acknowledged = n;
  }

  /** The message for events published directly (worker events). */
  message(header: string, events: CeleriacEvent[]): string {
    const types = [...new Set(events.map((event) => event.type))].join(',');
    return `${header} ${types} ${encodeBatch(events)}`;
  }

  /** The outcome `event` (delivered by this hub) carried, if any: see parseEvents. */
  carriedOutcome(event: CeleriacEvent): TaskOutcome | undefined {
    return this.carried.get(event);
  }

  subscribe(listener: EventListener, options: SubscribeOptions = {}): () => void {
    if (this.closed) return () => undefined;
    const types = options.types && options.types.length > 0 ? new Set<string>(options.types) : null;
    const work = options.forWorker === true;
    this.listeners.set(listener, { types, skipUpTo: this.acknowledged, work });
    if (!this.sharded) {
      this.join(work ? workChannelOf(this.keys.channel) : this.keys.channel, work ? 'work' : 'events');
    } else {
      const first = !this.wantEvents && !this.wantWork;
      if (work) this.wantWork = true;
      else this.wantEvents = true;
      for (const queue of options.queues ?? []) this.pinned.add(queue);
      for (const queue of this.pinned) this.queues.add(queue);
      this.joinAll();
      if (first) {
        this.syncing = this.sync().finally(() => (this.syncing = undefined));
        this.resync = setInterval(() => void this.sync(), RESYNC_MS);
        this.resync.unref();
      }
    }
    return () => void this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    clearInterval(this.liveness);
    clearInterval(this.resync);
  }

  /** Subscribes to `channel` in Redis unless already done (ioredis subscribes again after a reconnection). */
  private join(channel: string, kind: ChannelKind): void {
    if (this.channels.has(channel)) return;
    this.checkLiveness();
    this.waiting++;
    this.kinds.set(channel, kind);
    const subscribing = this.sharded ? this.subscriber.ssubscribe(channel) : this.subscriber.subscribe(channel);
    const confirmed = subscribing.then(
      () => {
        this.waiting--;
        if (this.channels.has(channel)) this.channels.set(channel, null);
      },
      () => {
        // The connection was closed (the broker is closing: nothing is heard any more), or on a Cluster
        // ioredis had no connection for the slot (the next read of the known queues subscribes again).
        this.waiting--;
        this.channels.delete(channel);
        this.kinds.delete(channel);
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, CONFIRM_WAIT_MS)));
    timer?.unref();
    this.channels.set(channel, Promise.race([confirmed, waited]).finally(() => clearTimeout(timer)));
  }

  /** Leaves a channel (Cluster: a forgotten queue's). */
  private leave(channel: string): void {
    if (!this.channels.has(channel)) return;
    this.channels.delete(channel);
    this.kinds.delete(channel);
    this.subscriber.sunsubscribe(channel).catch(() => undefined); // Closing: nothing more to leave.
  }

  /**
   * Cluster: subscribes to what the kinds of listener there are need, unless done: the notices of new
   * queues, worker events, and the channels of every queue joined. Run again at each read of the known
   * queues, it also retries a subscription ioredis refused (a slot whose master it had no connection
   * to, during a topology change).
   */
  private joinAll(): void {
    const notices = this.keys.queuesChannel!;
    if (this.wantEvents) {
      this.join(notices, 'queues');
      this.join(this.keys.channel, 'events'); // Worker events; a worker acts on none.
    }
    if (this.wantWork) this.join(workChannelOf(notices), 'queues');
    for (const queue of this.queues) this.joinQueue(queue);
  }

  /** Cluster: subscribes to a queue's channels, for the kinds of listener there are. */
  private joinQueue(queue: string): void {
    this.queues.add(queue);
    const channel = this.keys.channelOf(queue);
    if (this.wantEvents) this.join(channel, 'events');
    if (this.wantWork) this.join(workChannelOf(channel), 'work');
  }

  private leaveQueue(queue: string): void {
    this.queues.delete(queue);
    const channel = this.keys.channelOf(queue);
    this.leave(channel);
    this.leave(workChannelOf(channel));
  }

  /**
   * Cluster: joins the known queues, and leaves those missing from this read and the one before (a
   * queue added while this read was on its way is missing from it, never from the next).
   */
  private async sync(): Promise<void> {
    let names: string[];
    try {
      names = await this.readQueues();
    } catch {
      return; // The connection is being replaced; the next read joins what this one missed.
    }
    if (this.closed) return;
    const known = new Set(names);
    for (const queue of names) this.queues.add(queue);
    this.joinAll();
    const missing = new Set<string>();
    for (const queue of this.queues) {
      if (known.has(queue) || this.pinned.has(queue)) continue;
      if (this.missing.has(queue)) this.leaveQueue(queue);
      else missing.add(queue);
    }
    this.missing = missing;
  }

  /** Cluster: a notice of queue names just added (name_queues.lua). */
  private onQueuesAdded(message: string): void {
    let names: unknown;
    try {
      names = JSON.parse(message);
    } catch {
      return; // Not ours: ignore it.
    }
    if (!Array.isArray(names) || this.closed) return;
    for (const name of names) if (typeof name === 'string' && !this.queues.has(name)) this.joinQueue(name);
  }

  /** Once subscribed: a subscriber connection that heard nothing for half the socket timeout is sent a PING. */
  private checkLiveness(): void {
    if (this.liveness) return;
    const wait = this.socketTimeoutMs / 2;
    this.liveness = setInterval(() => {
      if (this.sharded) {
        for (const connection of shardSubscribersOf(this.subscriber)) this.probe(connection, wait);
        return;
      }
      const heard = this.heard;
      this.heard = false;
      // A failure means the connection is being replaced: nothing more to act on.
      if (!heard && this.subscriber.status === 'ready') this.subscriber.ping().catch(() => undefined);
    }, wait);
    this.liveness.unref();
  }

  /**
   * Cluster: PINGs a shard subscriber connection that heard nothing since the last check, and closes it
   * when the reply is `wait` ms late, or when it was still connecting at the last check (connected to a
   * node that never answers); ioredis then connects to the shard's master again and subscribes again.
   */
  private probe(connection: Redis, wait: number): void {
    if (!this.followed.has(connection)) {
      this.followed.add(connection);
      connection.on('smessage', () => this.heardFrom.add(connection));
    }
    if (this.heardFrom.has(connection)) {
      this.heardFrom.delete(connection);
      return;
    }
    if (connection.status === 'wait' || connection.status === 'end') return; // Not in use, or replaced.
    if (connection.status !== 'ready') {
      if (this.stalled.has(connection)) connection.disconnect();
      this.stalled.add(connection);
      return;
    }
    this.stalled.delete(connection);
    const timer = setTimeout(() => connection.disconnect(), wait);
    timer.unref();
    connection
      .ping()
      .finally(() => clearTimeout(timer))
      .catch(() => undefined);
  }

  private deliver(message: string, work: boolean): void {
    if (this.listeners.size === 0) return;
    const header = parseHeader(message);
    if (!header) return; // Not ours (something else published on the channel): ignore it.
    const own = header.origin === this.origin ? header.n : Number.POSITIVE_INFINITY;
    let events: CeleriacEvent[] | undefined;
    for (const [listener, subscription] of [...this.listeners]) {
      if (subscription.work !== work || own <= subscription.skipUpTo) continue;
      if (subscription.types && !header.types.some((type) => subscription.types!.has(type))) continue;
      events ??= parseEvents(message, header.bodyAt, this.carried);
      if (!events) return;
      try {
        listener(events);
      } catch {
        // A subscriber's bug is its own; the others still get the events.
      }
    }
  }
}

/**
 * A Cluster client's shard subscriber connections: ioredis keeps them in its (unexported)
 * ClusterSubscriberGroup. `redis-dead-connections.test.ts` fails if they are not found, so an ioredis
 * upgrade that moves them shows there.
 */
function shardSubscribersOf(cluster: Client): Redis[] {
  const group = (cluster as unknown as { shardedSubscribers?: { shardedSubscribers?: Map<string, { getInstance?: () => Redis | null }> } })
    .shardedSubscribers;
  const connections: Redis[] = [];
  for (const shard of group?.shardedSubscribers?.values() ?? []) {
    const connection = shard.getInstance?.();
    if (connection) connections.push(connection);
  }
  return connections;
}

interface Header {
  origin: string;
  n: number;
  types: string[];
  bodyAt: number;
}

function parseHeader(message: string): Header | undefined {
  const first = message.indexOf(' ');
  const second = message.indexOf(' ', first + 1);
  if (first < 0 || second < 0) return undefined;
  const tag = message.slice(0, first);
  const colon = tag.lastIndexOf(':');
  return {
    origin: tag.slice(0, colon),
    n: Number(tag.slice(colon + 1)),
    types: message.slice(first + 1, second).split(','),
    bodyAt: second + 1,
  };
}

/**
 * The events of a message; a `task.completed` event's result, when the message carries one (settle.lua),
 * goes into `carried` instead of the event, whose fields stay those of events.md.
 */
function parseEvents(message: string, at: number, carried: WeakMap<CeleriacEvent, TaskOutcome>): CeleriacEvent[] | undefined {
  let events: CeleriacEvent[];
  try {
    events = decodeBatch(message.slice(at), fromStoredId); // Scripts publish task ids in their stored form.
  } catch {
    return undefined; // A damaged message must not stop delivery of the rest.
  }
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!;
    if (event.type === 'task.completed' && 'result' in event) {
      const { result, ...fields } = event as CeleriacEvent & { result: unknown };
      events[i] = fields;
      carried.set(fields, { state: 'completed', result });
    }
  }
  return events;
}
