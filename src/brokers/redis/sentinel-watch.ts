// Following a Sentinel failover at once. A connection to a master that was failed over (`SENTINEL
// FAILOVER`, or a master cut off from the sentinels but not from its clients) stays up until the
// sentinels demote that master, about 10 s later, and what is written to it meanwhile is lost when it
// resyncs from the new master. So the broker listens to the sentinels' `+switch-master` and makes each
// of its connections that is up reconnect, which asks the sentinels for the master again.
//
// Not ioredis's own `failoverDetector`: it disconnects the connector even while a connection is in the
// middle of connecting (after the master died, say), which ends that connection for good ("Connection
// is closed." from then on, measured). A connection that is not up now asks the sentinels anyway when it
// next connects; only those that are up are told to reconnect.
import { Redis, type Cluster } from 'ioredis';
import { GuardedStandaloneConnector } from './guarded-connectors.js';
import type { TlsSettings } from './tls.js';
import type { RedisTarget } from './url.js';

type SentinelTarget = Extract<RedisTarget, { mode: 'sentinel' }>;
type Connection = Redis | Cluster;

/** How long a watch waits before connecting again to a sentinel that went away: 1 s, growing to 10 s. */
const retry = (times: number) => Math.min(times * 1_000, 10_000);
const ignore = (): void => undefined;

export class SentinelWatch {
  private readonly watchers: Redis[];
  private readonly connections = new Set<Connection>();
  /** The last switch acted on: every sentinel announces it, once each. */
  private lastSwitch = '';

  constructor(
    private readonly target: SentinelTarget,
    tls: TlsSettings | undefined,
  ) {
    this.watchers = target.sentinels.map(({ host, port }) => {
      const watcher = new Redis({
        host,
        port,
        ...(tls ? { tls: { ...tls } } : {}), // rediss+sentinel://: the sentinels speak TLS too.
        ...(target.sentinelUsername ? { username: target.sentinelUsername } : {}),
        ...(target.sentinelPassword ? { password: target.sentinelPassword } : {}),
        connectionName: 'celeriac-sentinel-watch',
        Connector: GuardedStandaloneConnector,
        retryStrategy: retry,
        maxRetriesPerRequest: null,
      });
      watcher.on('error', ignore); // A sentinel that is down is no error of the broker's.
      watcher.on('message', (_channel: string, message: string) => this.switched(message));
      watcher.subscribe('+switch-master').catch(ignore); // Subscribed again after each reconnection.
      return watcher;
    });
  }

  /** A connection to move to the new master after a failover, until it ends. */
  track(connection: Connection): void {
    this.connections.add(connection);
    connection.once('end', () => this.connections.delete(connection));
  }

  close(): void {
    for (const watcher of this.watchers) watcher.disconnect();
  }

  /** `+switch-master` says "<master name> <old ip> <old port> <new ip> <new port>". */
  private switched(message: string): void {
    if (message.split(' ')[0] !== this.target.masterName || message === this.lastSwitch) return;
    this.lastSwitch = message;
    for (const connection of this.connections) {
      if (connection.status === 'ready') connection.disconnect(true);
    }
  }
}
