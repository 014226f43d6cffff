// Following a Sentinel failover at once. A connection to a master that was failed over (`SENTINEL
// FAILOVER`, or a master cut off from the sentinels but not from its clients) stays up until the
// sentinels demote that master, about 10 s later, and what is written to it meanwhile is lost when it
// resyncs from the new master. So the broker listens to the sentinels' `+switch-master` and makes each
// of its connections that is up reconnect, which asks the sentinels for the master again.
//
// A switch announced while a watch connection is down, or silently dead (a partition, a sentinel host
// gone: no FIN, no RST), is never heard. So a watch connection that heard nothing for half the socket
// timeout is sent a PING, whose missing reply trips the socket timeout and replaces the connection; and
// each time a watch connection is up again, the sentinel is asked for the master, and a master other
// than the one last known counts as a switch.
//
// Not ioredis's own `failoverDetector`: it disconnects the connector even while a connection is in the
// middle of connecting (after the master died, say), which ends that connection for good ("Connection
// is closed." from then on, measured). A connection that is not up now asks the sentinels anyway when it
// next connects; only those that are up are told to reconnect.
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { GuardedStandaloneConnector } from './guarded-connectors.js';
import type { TlsSettings } from './tls.js';
import type { RedisTarget } from './url.js';

type SentinelTarget = Extract<RedisTarget, { mode: 'sentinel' }>;
type Connection = Redis | Cluster;

/** How long a watch waits before connecting again to a sentinel that went away: 1 s, growing to 10 s. */
const retry = (times: number) => Math.min(times * 1_000, 10_000);
const ignore = (): void => undefined;

/** The master as far as a watch knows, from switches heard and sentinels' answers; says when to move. */
export class KnownMaster {
  /** "<ip> <port>" as the sentinels name it; '' until one answered or announced a switch. */
  private master = '';
  /** Counts the switches heard, so that an answer sent before one is not taken for a newer master. */
  private switches = 0;

  /** A switch announced (each sentinel announces it once): whether connections must move. */
  announced(master: string): boolean {
    this.switches++;
    const moved = this.master !== master;
    this.master = master;
    return moved;
  }

  /** To pass back with the answer of a question asked now. */
  ticket(): number {
    return this.switches;
  }

  /**
   * A sentinel's answer to a question asked at `ticket`: whether connections must move. The first
   * answer only tells which master that is; an answer sent before a switch was heard may be stale.
   */
  answered(master: string, ticket: number): boolean {
    if (ticket !== this.switches) return false;
    const known = this.master;
    this.master = master;
    return known !== '' && known !== master;
  }
}

export class SentinelWatch {
  private readonly watchers: Redis[];
  private readonly connections = new Set<Connection>();
  private readonly known = new KnownMaster();
  private readonly liveness: NodeJS.Timeout;
  /** Connections asking a sentinel for the master now. */
  private readonly askers = new Set<Redis>();
  private closed = false;

  constructor(
    private readonly target: SentinelTarget,
    tls: TlsSettings | undefined,
  ) {
    const heard = new Set<Redis>();
    this.watchers = target.sentinels.map(({ host, port }) => {
      const options: RedisOptions = {
        host,
        port,
        ...(tls ? { tls: { ...tls } } : {}), // rediss+sentinel://: the sentinels speak TLS too.
        ...(target.sentinelUsername ? { username: target.sentinelUsername } : {}),
        ...(target.sentinelPassword ? { password: target.sentinelPassword } : {}),
        connectionName: 'celeriac-sentinel-watch',
        Connector: GuardedStandaloneConnector,
        socketTimeout: target.socketTimeoutMs,
      };
      const watcher = new Redis({ ...options, retryStrategy: retry, maxRetriesPerRequest: null });
      watcher.on('error', ignore); // A sentinel that is down is no error of the broker's.
      watcher.on('message', (_channel: string, message: string) => {
        heard.add(watcher);
        this.switched(message);
      });
      // Subscribed again by ioredis after each reconnection; then the master is asked for, in case a
      // switch was announced while this connection was down.
      watcher.on('ready', () => void this.askMaster(options));
      watcher.subscribe('+switch-master').catch(ignore);
      return watcher;
    });
    this.liveness = setInterval(() => {
      for (const watcher of this.watchers) {
        // A failure means the connection is being replaced: its next 'ready' asks for the master.
        if (!heard.delete(watcher) && watcher.status === 'ready') watcher.ping().catch(ignore);
      }
    }, target.socketTimeoutMs / 2);
    this.liveness.unref();
  }

  /** A connection to move to the new master after a failover, until it ends. */
  track(connection: Connection): void {
    this.connections.add(connection);
    connection.once('end', () => this.connections.delete(connection));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.liveness);
    for (const connection of [...this.watchers, ...this.askers]) connection.disconnect();
  }

  /** `+switch-master` says "<master name> <old ip> <old port> <new ip> <new port>". */
  private switched(message: string): void {
    const [name, , , ip, port] = message.split(' ');
    if (name !== this.target.masterName || ip === undefined || port === undefined) return;
    if (this.known.announced(`${ip} ${port}`)) this.reconnectAll();
  }

  /** Asks one sentinel, on a connection of its own (a subscribed one cannot), which master it names now. */
  private async askMaster(options: RedisOptions): Promise<void> {
    if (this.closed) return;
    const ticket = this.known.ticket();
    // One try: no reconnection, and the socket timeout ends a sentinel that never answers.
    const asker = new Redis({ ...options, connectionName: 'celeriac-sentinel-ask', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    asker.on('error', ignore);
    this.askers.add(asker);
    try {
      const named = (await asker.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.target.masterName)) as string[] | null;
      if (named && !this.closed && this.known.answered(`${named[0]} ${named[1]}`, ticket)) this.reconnectAll();
    } catch {
      // The sentinel cannot answer now; the next reconnection asks again, and switches are still heard.
    } finally {
      this.askers.delete(asker);
      asker.disconnect();
    }
  }

  /** Every connection that is up reconnects, which asks the sentinels for the master. */
  private reconnectAll(): void {
    for (const connection of this.connections) {
      if (connection.status === 'ready') connection.disconnect(true);
    }
  }
}
