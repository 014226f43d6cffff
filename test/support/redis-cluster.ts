// A throwaway Redis Cluster on loopback ports for tests: `masters` redis-server processes in cluster
// mode (three by default), each with `replicas` replicas, joined by `redis-cli --cluster create`, ready
// once every node reports cluster_state:ok and every replica is in sync. With `tls`, the nodes speak
// only TLS, to clients and to each other; with `password`, every node requires it (of clients and of
// its replicas). With `proxied`, every node announces the port of a proxy in front of it
// (reply-dropping-proxy.ts), so clients reach the nodes only through the proxies, and a test can cut or
// silence their connections; the cluster bus stays direct. A missing binary or a failed create is an
// error, never a skip.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type RedisServer } from './redis-server.js';
import { startReplyDroppingProxy, type ReplyDroppingProxy } from './reply-dropping-proxy.js';

const run = promisify(execFile);

export interface RedisCluster {
  /** Every node, masters and replicas, in the order they were started. */
  nodes: RedisServer[];
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,…` (every node; with `proxied`, every node's proxy) */
  url: string;
  /** With `proxied`: the proxy in front of each node, in the order of `nodes`; else empty. */
  proxies: ReplyDroppingProxy[];
  /** The nodes that serve `key`'s slot now: its master and that master's replicas. */
  shardOf(key: string): Promise<{ master: RedisServer; replicas: RedisServer[] }>;
  /**
   * A manual failover (`CLUSTER FAILOVER` on a replica) of the shard that serves `key`: the master
   * pauses its clients until the replica holds everything, then they swap roles. Resolves once every
   * live node names the replica as the slot's master; returns the shard as it was before. A replica
   * whose replication link is down (cut a moment ago, through a proxy) cannot catch up, and Redis drops
   * such a request after 5 s: the failover waits for the link, and asks again, within 60 s.
   */
  failover(key: string): Promise<{ master: RedisServer; replica: RedisServer }>;
  /**
   * Kills a node (SIGTERM) and resolves once the cluster serves every slot again: every live node
   * reports cluster_state:ok and none names the dead node as the master of any slot (a dead master's
   * replica has taken over, after `nodeTimeoutMs` and an election). Within 30 s.
   */
  stopNode(node: RedisServer): Promise<void>;
  /** Resolves once the replicas of `key`'s shard hold everything written to its master so far. */
  replicated(key: string): Promise<void>;
  stop(): Promise<void>;
}

/** How long `failover` tries in all, and how long it waits for one request (Redis drops one after 5 s). */
const FAILOVER_WITHIN_MS = 60_000;
const FAILOVER_ATTEMPT_MS = 8_000;

/** Certificate files (PEM paths) for a TLS-only cluster. */
export interface ClusterTls {
  cert: string;
  key: string;
  ca: string;
}

export interface ClusterOptions {
  masters?: number;
  /** Replicas per master (0 by default). */
  replicas?: number;
  tls?: ClusterTls;
  /** `cluster-node-timeout`: how long a master may be unreachable before its replica takes over (5 s). */
  nodeTimeoutMs?: number;
  /** A password every node requires (`requirepass`, and `masterauth` for replication). */
  password?: string;
  /** Clients reach each node through a proxy that the node announces as its address (not with `tls`). */
  proxied?: boolean;
}

export async function startRedisCluster(options: ClusterOptions = {}): Promise<RedisCluster> {
  const { masters = 3, replicas = 0, tls, nodeTimeoutMs = 5_000, password, proxied = false } = options;
  if (proxied && tls) throw new Error('a proxied cluster speaks plain TCP: not with tls');
  const auth = password ? { password } : {};
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < masters * (1 + replicas); i++) {
      const tlsArgs = tls
        ? ['--tls-port', String(await freePort()), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca]
        : [];
      const cluster = [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', 'nodes.conf',
        '--cluster-node-timeout', String(nodeTimeoutMs),
        // No delay before a diskless full sync (5 s by default): a replica is in sync soon after it starts.
        '--repl-diskless-sync-delay', '0',
        ...(password ? ['--requirepass', password, '--masterauth', password] : []),
      ];
      // With TLS, no plain port (the last --port wins): everything goes over TLS.
      const args = tls ? [...cluster, ...tlsArgs, '--port', '0', '--tls-cluster', 'yes', '--tls-replication', 'yes', '--tls-auth-clients', 'no'] : cluster;
      const node = await startRedisServer({ args });
      nodes.push(tls ? { ...node, port: Number(tlsArgs[1]), url: `rediss://127.0.0.1:${tlsArgs[1]}` } : node);
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    const tlsCli = [...(tls ? ['--tls', '--cacert', tls.ca] : []), ...(password ? ['-a', password, '--no-auth-warning'] : [])];
    await run(process.env.REDIS_CLI ?? 'redis-cli', [...tlsCli, '--cluster', 'create', ...addresses, '--cluster-replicas', String(replicas), '--cluster-yes'], {
      timeout: 30_000,
    });
    await Promise.all(nodes.map((node) => nodeReady(node.port, { masters, replicas: masters * replicas }, tls, password)));
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
  const admin = (node: RedisServer) =>
    new Redis({ port: node.port, host: '127.0.0.1', ...auth, ...(tls ? { tls: { ca: readFileSync(tls.ca) } } : {}) });
  const live = () => nodes.filter((node) => node.process.exitCode === null && node.process.signalCode === null);
  const withAdmin = async <T>(node: RedisServer, use: (client: Redis) => Promise<T>): Promise<T> => {
    const client = admin(node);
    try {
      return await use(client);
    } finally {
      client.disconnect();
    }
  };
  const proxies: ReplyDroppingProxy[] = [];
  const byPort = (port: number) => nodes.find((node) => node.port === port) ?? nodes[proxies.findIndex((proxy) => proxy.port === port)];

  /** The shard serving `key` as `node` sees it. */
  const shardSeenBy = (node: RedisServer, key: string) =>
    withAdmin(node, async (client) => {
      const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
      const view = parseNodes(String(await client.call('CLUSTER', 'NODES')));
      const master = view.find((entry) => entry.master && entry.slots.some(([from, to]) => slot >= from && slot <= to));
      if (!master) throw new Error(`no master serves slot ${slot} (key ${key}) in the view of node ${node.port}`);
      return {
        master: byPort(master.port)!,
        replicas: view.filter((entry) => entry.replicaOf === master.id && !entry.failed).map((entry) => byPort(entry.port)!),
      };
    });

  const shardOf = (key: string) => shardSeenBy(live()[0]!, key);

  /** Polls `check` with a growing pause until it holds, within `withinMs` (gossip has no event a client can wait on). */
  const eventually = async (what: string, check: () => Promise<boolean>, withinMs = 30_000): Promise<void> => {
    const deadline = Date.now() + withinMs;
    for (let pause = 10; ; pause = Math.min(pause * 2, 200)) {
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`${what} within ${withinMs / 1_000} s`);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  };

  const replicated = async (key: string): Promise<void> => {
    const { master, replicas: shardReplicas } = await shardOf(key);
    await withAdmin(master, async (client) => {
      // Replication is one ordered stream: once every replica acknowledged a write made after
      // everything else, they hold everything else too. The marker shares the key's slot.
      const tag = /\{([^}]+)\}/.exec(key)?.[1] ?? key;
      await client.set(`{${tag}}:cluster-harness:marker`, String(Date.now()));
      const acknowledged = Number(await client.call('WAIT', shardReplicas.length, 10_000));
      if (acknowledged < shardReplicas.length) throw new Error(`the replicas of ${key}'s shard did not catch up within 10 s`);
    });
  };

  if (proxied) {
    try {
      proxies.push(...(await Promise.all(nodes.map((node) => startReplyDroppingProxy(node.port)))));
      // Announced once the cluster is formed (redis-cli creates it through the nodes' own ports); gossip
      // then carries each node's new address to the others.
      await Promise.all(nodes.map((node, i) => withAdmin(node, (client) => client.config('SET', 'cluster-announce-port', String(proxies[i]!.port)))));
      const proxyPorts = new Set(proxies.map((proxy) => proxy.port));
      await Promise.all(
        nodes.map((node) =>
          eventually(`node ${node.port} does not name every node by its proxy`, () =>
            withAdmin(node, async (client) => {
              const view = parseNodes(String(await client.call('CLUSTER', 'NODES')));
              return view.length === nodes.length && view.every((entry) => proxyPorts.has(entry.port));
            }),
          ),
        ),
      );
    } catch (error) {
      await Promise.all([...proxies.map((proxy) => proxy.close()), ...nodes.map((node) => node.stop())]);
      throw error;
    }
  }

  return {
    nodes,
    proxies,
    url: `redis+cluster://${(proxied ? proxies : nodes).map((entry) => `127.0.0.1:${entry.port}`).join(',')}`,
    shardOf,
    replicated,
    stopNode: async (dead) => {
      await dead.stop();
      await eventually(`the cluster does not serve every slot again after node ${dead.port} stopped`, async () => {
        const views = await Promise.all(
          live().map((node) =>
            withAdmin(node, async (client) => ({
              ok: /cluster_state:ok/.test(String(await client.cluster('INFO'))),
              nodes: parseNodes(String(await client.call('CLUSTER', 'NODES'))),
            })),
          ),
        );
        return views.every((view) => view.ok && !view.nodes.some((entry) => entry.port === dead.port && entry.slots.length > 0));
      });
    },
    failover: async (key) => {
      const deadline = Date.now() + FAILOVER_WITHIN_MS;
      const left = () => Math.max(0, deadline - Date.now());
      const replication = (node: RedisServer) => withAdmin(node, (client) => client.info('replication'));
      // A replica whose link to its master is up (one failed over a moment ago, or whose link was cut,
      // may still be reconnecting or resyncing).
      let chosen: { master: RedisServer; replica: RedisServer } | undefined;
      await eventually(
        `${key}'s shard has no replica linked to its master`,
        async () => {
          const { master, replicas: shardReplicas } = await shardOf(key);
          for (const replica of shardReplicas) {
            if (!/master_link_status:up/.test(await replication(replica))) continue;
            chosen = { master, replica };
            return true;
          }
          return false;
        },
        left(),
      );
      const { master, replica } = chosen!;
      for (;;) {
        // Asked only while it is still a replica: a request dropped by Redis may yet have succeeded.
        if (/role:slave/.test(await replication(replica))) await withAdmin(replica, (client) => client.call('CLUSTER', 'FAILOVER'));
        try {
          await eventually(
            `node ${replica.port} is not the master of ${key}'s slot everywhere`,
            async () => (await Promise.all(live().map((node) => shardSeenBy(node, key)))).every((view) => view.master === replica),
            Math.min(FAILOVER_ATTEMPT_MS, left()),
          );
          return { master, replica };
        } catch (error) {
          if (left() === 0) throw error;
        }
        // Dropped: the replica could not catch up in time. Asked again once it can.
        await eventually(`node ${replica.port} is neither linked to its master nor a master`, async () => /role:master|master_link_status:up/.test(await replication(replica)), left());
      }
    },
    stop: async () => {
      await Promise.all([...proxies.map((proxy) => proxy.close()), ...nodes.map((node) => node.stop())]);
    },
  };
}

interface NodeEntry {
  id: string;
  port: number;
  master: boolean;
  failed: boolean;
  replicaOf?: string;
  slots: [number, number][];
}

/** `CLUSTER NODES`: `<id> <ip:port@bus> <flags> <master id or -> … <link state> <slot ranges…>`. */
function parseNodes(text: string): NodeEntry[] {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const [id = '', address = '', flags = '', masterId = '-', , , , , ...slots] = line.split(' ');
      const flagList = flags.split(',');
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        master: flagList.includes('master'),
        failed: flagList.includes('fail'),
        ...(masterId !== '-' ? { replicaOf: masterId } : {}),
        slots: slots
          .filter((range) => /^\d/.test(range))
          .map((range) => {
            const [from, to = from] = range.split('-').map(Number);
            return [from!, to!] as [number, number];
          }),
      };
    });
}

/**
 * Waits until the node says the cluster is ok, knows every master with its slots and every replica
 * (gossip spreads the replicas `--cluster create` set up: a node that had not heard of one yet named no
 * replica for its shard, and a test's failover failed), and, for a replica, that it is in sync with its
 * master. An outside server's state has no event to wait on, so this asks it, with a growing pause and a
 * deadline.
 */
async function nodeReady(
  port: number,
  expected: { masters: number; replicas: number },
  tls?: ClusterTls,
  password?: string,
): Promise<void> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    ...(password ? { password } : {}),
    ...(tls ? { tls: { ca: readFileSync(tls.ca) } } : {}),
  });
  await client.connect();
  try {
    const deadline = Date.now() + 20_000;
    for (let pause = 10; ; pause = Math.min(pause * 2, 500)) {
      const info = String(await client.cluster('INFO'));
      const replication = String(await client.info('replication'));
      const view = parseNodes(String(await client.call('CLUSTER', 'NODES')));
      const synced = !/role:slave/.test(replication) || /master_link_status:up/.test(replication);
      const masters = view.filter((entry) => entry.master && !entry.failed && entry.slots.length > 0);
      const replicas = view.filter((entry) => !entry.failed && masters.some((master) => master.id === entry.replicaOf));
      const known = masters.length === expected.masters && replicas.length === expected.replicas;
      if (/cluster_state:ok/.test(info) && synced && known) return;
      if (Date.now() > deadline) throw new Error(`cluster node on port ${port} not ready within 20 s:\n${info}\n${replication}\n${JSON.stringify(view)}`);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  } finally {
    client.disconnect();
  }
}
