// A throwaway three-master Redis Cluster on loopback ports for tests: three redis-server processes in
// cluster mode, joined by `redis-cli --cluster create`, ready once every node reports cluster_state:ok.
// With `tls`, the nodes speak only TLS, to clients and to each other. A missing binary or a failed
// create is an error, never a skip.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, startRedisServer, type RedisServer } from './redis-server.js';

const run = promisify(execFile);

export interface RedisCluster {
  nodes: RedisServer[];
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` */
  url: string;
  stop(): Promise<void>;
}

/** Certificate files (PEM paths) for a TLS-only cluster. */
export interface ClusterTls {
  cert: string;
  key: string;
  ca: string;
}

export async function startRedisCluster(masters = 3, tls?: ClusterTls): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const tlsArgs = tls
        ? ['--tls-port', String(await freePort()), '--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.ca]
        : [];
      const cluster = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '5000'];
      // With TLS, no plain port (the last --port wins): everything goes over TLS.
      const args = tls ? [...cluster, ...tlsArgs, '--port', '0', '--tls-cluster', 'yes', '--tls-replication', 'yes', '--tls-auth-clients', 'no'] : cluster;
      const node = await startRedisServer({ args });
      nodes.push(tls ? { ...node, port: Number(tlsArgs[1]), url: `rediss://127.0.0.1:${tlsArgs[1]}` } : node);
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    const tlsCli = tls ? ['--tls', '--cacert', tls.ca] : [];
    await run(process.env.REDIS_CLI ?? 'redis-cli', [...tlsCli, '--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 30_000,
    });
    await Promise.all(nodes.map((node) => clusterReady(node.port, tls)));
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
  return {
    nodes,
    url: `redis+cluster://${nodes.map((node) => `127.0.0.1:${node.port}`).join(',')}`,
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
}

/**
 * Waits until the node says the cluster is ok. An outside server's state has no event to wait on, so
 * this asks it, with a growing pause and a deadline.
 */
async function clusterReady(port: number, tls?: ClusterTls): Promise<void> {
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, ...(tls ? { tls: { ca: readFileSync(tls.ca) } } : {}) });
  await client.connect();
  try {
    const deadline = Date.now() + 20_000;
    for (let pause = 10; ; pause = Math.min(pause * 2, 500)) {
      const info = await client.cluster('INFO');
      if (/cluster_state:ok/.test(String(info))) return;
      if (Date.now() > deadline) throw new Error(`cluster node on port ${port} not ok within 20 s:\n${info}`);
      await new Promise((resolve) => setTimeout(resolve, pause));
    }
  } finally {
    client.disconnect();
  }
}
