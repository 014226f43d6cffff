// Connections to Redis: one command connection (scripts defined) and one subscriber
// connection for events, for a standalone server, a Sentinel group or a Cluster. ioredis reconnects by
// itself with capped backoff and resubscribes; the broker never logs, it only turns failures into
// BrokerErrors. Opening fails fast, with a clear reason, when the server cannot be used.
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { BrokerError } from '../../errors.js';
import { GuardedSentinelConnector, GuardedStandaloneConnector } from './guarded-connectors.js';
import { loadLibrary } from './scripts.js';
import { SentinelWatch } from './sentinel-watch.js';
import { readTlsSettings, type TlsSettings } from './tls.js';
import type { RedisTarget } from './url.js';

export type Client = Redis | Cluster;

export interface Connections {
  /** Commands and scripts. */
  client: Client;
  /** Subscribed to the events channels only (on a Cluster, shard channels through one connection per master). */
  subscriber: Client;
  /** Opens one more connection for blocking commands (a worker's inbox), waiting through reconnections. */
  openBlocking(): Promise<Client>;
  /** Stops following Sentinel failovers (sentinel-watch.ts); the broker closes its connections itself. */
  unwatch(): void;
}

/** How long opening may take before it fails. */
const CONNECT_TIMEOUT_MS = 5_000;
/** How long a sentinel may take to name the master (half the time to open, so another can still answer). */
const SENTINEL_COMMAND_TIMEOUT_MS = CONNECT_TIMEOUT_MS / 2;
/** Reconnection delays: 100 ms doubling up to 2 s, with a little jitter. */
const MAX_RECONNECT_DELAY_MS = 2_000;
/**
 * Reconnection attempts a command waits through before it fails (about 3 s when the server refuses
 * connections: 100 ms doubling, plus jitter): a short blip is invisible, a longer outage reaches the
 * worker, which logs it and retries with its own backoff.
 */
const COMMAND_RETRIES = 5;

function retryStrategy(times: number): number {
  return Math.min(MAX_RECONNECT_DELAY_MS, 100 * 2 ** Math.max(0, times - 1)) + Math.floor(Math.random() * 100);
}

function nodeOptions(target: RedisTarget, tls: TlsSettings | undefined, host: string | undefined): RedisOptions {
  return {
    ...(target.username ? { username: target.username } : {}),
    ...(target.password ? { password: target.password } : {}),
    ...(tls ? { tls: host ? { ...tls, servername: host } : { ...tls } } : {}),
    connectionName: 'celeriac',
    connectTimeout: CONNECT_TIMEOUT_MS,
    // A reply due and nothing heard for this long: the connection is replaced, and what was waiting for a
    // reply is sent again on the new one (every script is safe to run twice). Without it a connection
    // whose peer vanished without closing it (a partition, a host gone) would wait for many minutes.
    socketTimeout: target.socketTimeoutMs,
  };
}

/** What a connection is for: commands, events (a subscriber), or blocking commands (a worker's inbox). */
type Role = 'commands' | 'subscriber' | 'blocking';

function createClient(target: RedisTarget, tls: TlsSettings | undefined, role: Role): Client {
  const waits = role !== 'commands';
  const behaviour = {
    lazyConnect: true,
    enableOfflineQueue: true,
    // A subscriber (or a blocking connection) only waits; commands wait through reconnections, fail after a while.
    maxRetriesPerRequest: waits ? null : COMMAND_RETRIES,
    // Off: it holds each command back until setImmediate to gather more, which cost a worker about 15%
    // of its throughput and a lease about 0.1 ms here; the hot paths already send one script per batch.
    enableAutoPipelining: false,
  };
  switch (target.mode) {
    case 'standalone':
      return new Redis({
        ...nodeOptions(target, tls, target.host),
        ...behaviour,
        Connector: GuardedStandaloneConnector,
        host: target.host,
        port: target.port,
        db: target.db,
        retryStrategy,
      });
    case 'sentinel':
      return new Redis({
        ...nodeOptions(target, tls, undefined),
        ...behaviour,
        Connector: GuardedSentinelConnector,
        sentinels: target.sentinels,
        ...(target.sentinelUsername ? { sentinelUsername: target.sentinelUsername } : {}),
        ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword } : {}),
        name: target.masterName,
        db: target.db,
        retryStrategy,
        sentinelRetryStrategy: retryStrategy,
        // A sentinel that accepts the connection and never answers (hung, or cut off after the handshake)
        // is given up for the next one after this long; without it, asking it for the master waits
        // forever, and so does every reconnection that asks it first.
        sentinelCommandTimeout: SENTINEL_COMMAND_TIMEOUT_MS,
        // A failover is followed by SentinelWatch (openConnections), not ioredis's failoverDetector.
        // rediss+sentinel://: TLS to the sentinels and to the master. ioredis's `tls` alone is not used
        // for the master in Sentinel mode, and the sentinels have their own option.
        ...(tls ? { sentinelTLS: { ...tls }, enableTLSForSentinelMode: true } : {}),
      });
    case 'cluster': {
      const options: ClusterOptions = {
        lazyConnect: true,
        enableOfflineQueue: true,
        enableAutoPipelining: false, // As for one server (see `behaviour`).
        clusterRetryStrategy: retryStrategy,
        // Events go on shard channels (keys.ts): one subscriber connection per master, for the channels of
        // the slots it holds, which ioredis moves when slots move (events.ts).
        ...(role === 'subscriber' ? { shardedSubscribers: true } : {}),
        redisOptions: {
          ...nodeOptions(target, tls, undefined),
          maxRetriesPerRequest: behaviour.maxRetriesPerRequest,
          Connector: GuardedStandaloneConnector,
        },
      };
      return new Cluster(target.nodes, options);
    }
  }
}

/** Opens both connections (the subscriber subscribes once a listener needs it: events.ts); rejects with a BrokerError. */
export async function openConnections(target: RedisTarget, masked: string): Promise<Connections> {
  const tls = readTlsSettings(target, masked);
  const client = createClient(target, tls, 'commands');
  const subscriber = createClient(target, tls, 'subscriber');
  const watch = target.mode === 'sentinel' ? new SentinelWatch(target, tls) : undefined;
  watch?.track(client);
  watch?.track(subscriber);
  try {
    await Promise.all([ready(client, masked), ready(subscriber, masked)]);
    assertSupportedServer(await withTimeout(client.info('server'), masked), masked);
    await withTimeout(loadLibrary(client, { retireOthers: true }), masked);
    const openBlocking = async (): Promise<Client> => {
      const blocking = createClient(target, tls, 'blocking');
      watch?.track(blocking);
      try {
        await ready(blocking, masked);
        return blocking;
      } catch (error) {
        blocking.disconnect();
        throw error;
      }
    };
    return { client, subscriber, openBlocking, unwatch: () => watch?.close() };
  } catch (error) {
    client.disconnect();
    subscriber.disconnect();
    watch?.close();
    throw connectError(error, masked); // A server's refusal (NOPERM on INFO, say) as a BrokerError too.
  }
}

/** The scripts use LMPOP (Redis 7.0). A server that does not say its version is given the benefit of the doubt. */
export function assertSupportedServer(info: string, masked: string): void {
  const version = /^redis_version:(\d+)\.(\d+)\S*/m.exec(info);
  if (version && Number(version[1]) < 7) {
    throw new BrokerError(`the Redis broker at ${masked} runs Redis ${version[0].slice('redis_version:'.length)}; Celeriac needs Redis 7.0 or newer`);
  }
}

/** Connects and checks the server answers PING; the reason of a failure becomes the error message. */
async function ready(client: Client, masked: string): Promise<void> {
  let lastError: Error | undefined;
  let refuse!: (error: Error) => void;
  const refused = new Promise<never>((_resolve, reject) => (refuse = reject));
  refused.catch(() => undefined); // Raced below; unused when nothing refuses.
  // Always listened to: an unhandled 'error' event would make ioredis print to the console.
  client.on('error', (error: Error) => {
    lastError = error;
    // Credentials refused (by the sentinels, whose connector retries on its own) do not get better: say so now.
    if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(error.message)) refuse(error);
  });
  try {
    await withTimeout(
      Promise.race([client.connect().then(() => client.ping()), refused]),
      masked,
      () => lastError,
    );
  } catch (error) {
    throw connectError(error instanceof BrokerError ? error : (lastError ?? error), masked);
  }
}

function withTimeout<T>(promise: Promise<T>, masked: string, cause: () => Error | undefined = () => undefined): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const last = cause();
      reject(last ? connectError(last, masked) : new BrokerError(
        `cannot use the Redis broker at ${masked}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s ` +
          '(is the host reachable, and is it a Redis server?)',
      ));
    }, CONNECT_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Said with Redis's OOM refusal (over `maxmemory` with `noeviction`): what frees memory. */
export const OUT_OF_MEMORY =
  ' (Redis is full: it refuses writes over maxmemory. Deleting still works: purge waiting tasks, or lower resultTtl ' +
  'so finished ones are pruned sooner, or raise maxmemory; docs/redis.md, "A full Redis")';

/** A BrokerError that says why opening failed in the user's words. */
export function connectError(error: unknown, masked: string): BrokerError {
  if (error instanceof BrokerError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string } | undefined)?.code;
  let reason = message;
  // ioredis's Sentinel connector says "All sentinels are unreachable. … Last error: <the sentinel's reply>".
  const fromSentinels = /All sentinels are unreachable/.test(message);
  const sentinelReply = /Last error: (.*)$/s.exec(message)?.[1]?.split('\n')[0] ?? message;
  if (fromSentinels && /NOAUTH/.test(sentinelReply)) {
    reason = 'the sentinels require a password (NOAUTH); add it to the URL: ?sentinelPassword=… (percent-encoded)';
  } else if (fromSentinels && /WRONGPASS|invalid password|invalid username/i.test(sentinelReply)) {
    reason = `authentication to the sentinels failed (${sentinelReply}); check sentinelUsername and sentinelPassword in the URL`;
  } else if (/certificate required/i.test(message)) {
    reason = `the server requires a client certificate (${message.split('\n')[0]}); give one with ssl_certfile and ssl_keyfile`;
  } else if (/^rediss/i.test(masked) && /ECONNRESET|socket hang up/.test(message)) {
    // A TLS 1.3 server checks a client's certificate after the handshake, and just drops a client without one.
    reason = `the server closed the TLS connection (${message.split('\n')[0]}); if it requires client certificates, give one with ssl_certfile and ssl_keyfile`;
  } else if (code === 'ECONNREFUSED') reason = 'connection refused (is redis-server running on that host and port?)';
  else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') reason = 'host not found';
  else if (/NOAUTH/.test(message)) reason = 'the server requires a password (NOAUTH); put it in the URL: redis://:password@host';
  else if (/WRONGPASS|invalid password|invalid username/i.test(message)) {
    reason = `authentication failed (${message.split('\n')[0]}); check the user and password in the URL`;
  } else if (/NOPERM/.test(message)) {
    reason = `the ACL user may not do something the broker needs (${message.split('\n')[0]}); docs/redis.md, "ACL users", lists what it needs`;
  } else if (/^OOM /.test(message)) {
    reason = `${message.split('\n')[0]}${OUT_OF_MEMORY}`;
  } else if (/Protocol error|Unknown RESP type|unknown command|ERR wrong number/i.test(message)) {
    reason = `the server does not speak the Redis protocol (${message.split('\n')[0]}); is it a Redis server?`;
  }
  return new BrokerError(`cannot use the Redis broker at ${masked}: ${reason}`);
}

/** Closes a connection: waits briefly for pending replies, then drops it whatever happens. */
export async function closeClient(client: Client): Promise<void> {
  if (client.status === 'end') return;
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 1_000);
    timer.unref();
  });
  const ready = client.status === 'ready';
  await Promise.race([ready ? client.quit().then(() => undefined, () => undefined) : Promise.resolve(), grace]);
  clearTimeout(timer);
  client.disconnect();
}
