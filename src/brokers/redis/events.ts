// Events over Redis pub/sub: scripts publish one message per call on `P:events`, and one subscriber
// connection per broker instance hands them to local listeners in order. What a worker acts on also goes
// to `P:events:work` (events.lua, publish_work): a worker listens there, so a process that only runs
// workers does not receive the whole event stream. The instance subscribes to each channel once a
// listener needs it; until Redis has confirmed it, this instance's own publishing calls wait (so a
// listener hears everything this instance publishes after it subscribed), and `subscribed()` tells when
// events from other processes are heard too. A message is
// "<origin>:<n> <types> <body>", the body in the grouped form of event-batch.ts (events differing only
// by task id share one object). The origin names the publishing broker instance and n its call,
// so a listener never receives what this instance published before it subscribed (pub/sub replies and
// messages travel on different connections and may arrive in either order); the types let a message
// nobody wants skip JSON parsing.
//
// A subscriber only listens, so a connection that went silent (a partition, a host gone without closing
// it) would never be noticed: while subscribed, a subscriber that heard nothing for half the socket
// timeout sends a PING, whose missing reply makes ioredis replace the connection (and subscribe again).
// On a Cluster the PING goes over the connection ioredis subscribes on (one node's, which it picks and
// replaces when it ends), and since ioredis gives that connection no socket timeout, a reply missing for
// half the socket timeout more closes it: ioredis then subscribes again through another node.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { EventListener, SubscribeOptions } from '../../broker/broker.js';
import type { CeleriacEvent } from '../../events.js';
import { decodeBatch, encodeBatch } from '../../broker/event-batch.js';
import type { Client } from './connection.js';
import { fromStoredId } from './ids.js';

interface Subscription {
  types: ReadonlySet<string> | null;
  /** This instance's calls up to this number were acknowledged before subscribing: not delivered. */
  skipUpTo: number;
  /** Listens on the work channel (SubscribeOptions.forWorker). */
  work: boolean;
}

/**
 * How long publishing calls and `subscribed()` wait for Redis to confirm a new subscription (as long as
 * a command waits through a reconnection): while the subscriber connection is down, they go on without
 * it, and events published meanwhile may be missed, as during any reconnection.
 */
const CONFIRM_WAIT_MS = 5_000;

/** The channel of what workers act on, beside the events channel `channel`. */
export const workChannelOf = (channel: string) => `${channel}:work`;

export class EventHub {
  private readonly origin = randomUUID().slice(0, 13);
  private readonly listeners = new Map<EventListener, Subscription>();
  private sent = 0;
  private acknowledged = 0;
  private closed = false;
  private readonly workChannel: string;
  /**
   * Channels subscribed to, or being: while Redis has not confirmed the SUBSCRIBE, a promise of its
   * confirmation or CONFIRM_WAIT_MS, whichever comes first; else null.
   */
  private readonly channels = new Map<string, Promise<void> | null>();
  private waiting = 0;
  /** Whether anything came from the subscriber since the last liveness check. */
  private heard = false;
  private liveness: NodeJS.Timeout | undefined;
  /** On a Cluster: the subscriber connection found not ready at the last liveness check. */
  private connecting: Redis | undefined;

  /** `socketTimeoutMs`: the connections' socket timeout (url.ts), which a PING's missing reply trips. */
  constructor(
    private readonly subscriber: Client,
    private readonly channel: string,
    private readonly socketTimeoutMs: number,
  ) {
    this.workChannel = workChannelOf(channel);
    subscriber.on('message', (from: string, message: string) => {
      this.heard = true;
      if (from === this.channel) this.deliver(message, false);
      else if (from === this.workChannel) this.deliver(message, true);
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

  /** Resolves once Redis has confirmed every subscription made so far. */
  async subscribed(): Promise<void> {
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

  subscribe(listener: EventListener, options: SubscribeOptions = {}): () => void {
    if (this.closed) return () => undefined;
    const types = options.types && options.types.length > 0 ? new Set<string>(options.types) : null;
    const work = options.forWorker === true;
    this.listeners.set(listener, { types, skipUpTo: this.acknowledged, work });
    this.join(work ? this.workChannel : this.channel);
    return () => void this.listeners.delete(listener);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    clearInterval(this.liveness);
  }

  /** Subscribes to `channel` in Redis unless already done (ioredis subscribes again after a reconnection). */
  private join(channel: string): void {
    if (this.channels.has(channel)) return;
    this.checkLiveness();
    this.waiting++;
    const confirmed = this.subscriber.subscribe(channel).then(
      () => {
        this.waiting--;
        this.channels.set(channel, null);
      },
      () => {
        // Only when the connection was closed: the broker is closing, nothing is heard any more.
        this.waiting--;
        this.channels.delete(channel);
      },
    );
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, CONFIRM_WAIT_MS)));
    timer?.unref();
    this.channels.set(channel, Promise.race([confirmed, waited]).finally(() => clearTimeout(timer)));
  }

  /** Once subscribed: a subscriber that heard nothing for half the socket timeout is sent a PING. */
  private checkLiveness(): void {
    if (this.liveness) return;
    const wait = this.socketTimeoutMs / 2;
    this.liveness = setInterval(() => {
      const heard = this.heard;
      this.heard = false;
      if (heard) return;
      if (!this.subscriber.isCluster) {
        // A failure means the connection is being replaced: nothing more to act on.
        if (this.subscriber.status === 'ready') this.subscriber.ping().catch(() => undefined);
        return;
      }
      const connection = clusterSubscriberOf(this.subscriber);
      if (!connection || connection.status === 'wait') return; // 'wait': not in use yet.
      if (connection.status !== 'ready') {
        // Still not ready a whole interval later: connected to a node that never answers. Another one.
        if (this.connecting === connection) connection.disconnect();
        this.connecting = connection;
        return;
      }
      this.connecting = undefined;
      const timer = setTimeout(() => connection.disconnect(), wait);
      timer.unref();
      connection
        .ping()
        .finally(() => clearTimeout(timer))
        .catch(() => undefined);
    }, wait);
    this.liveness.unref();
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
      events ??= parseEvents(message, header.bodyAt);
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
 * The connection a Cluster client subscribes on: ioredis keeps it in its (unexported) ClusterSubscriber.
 * `redis-dead-connections.test.ts` fails if it is not found, so an ioredis upgrade that moves it shows there.
 */
function clusterSubscriberOf(cluster: Client): Redis | undefined {
  const holder = (cluster as unknown as { subscriber?: { getInstance?: () => Redis | null } }).subscriber;
  return holder?.getInstance?.() ?? undefined;
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

function parseEvents(message: string, at: number): CeleriacEvent[] | undefined {
  try {
    return decodeBatch(message.slice(at), fromStoredId); // Scripts publish task ids in their stored form.
  } catch {
    return undefined; // A damaged message must not stop delivery of the rest.
  }
}
