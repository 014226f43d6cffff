// A throwaway Sentinel group for tests: one master redis-server and one sentinel watching it (quorum 1)
// on free loopback ports, optionally a replica the sentinel can fail over to, and optionally a password
// the sentinel requires of its clients (`requirepass` in its config). The sentinel rewrites
// its config file, so each run writes a fresh one.
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort, spawnRedis, startRedisServer, stopChild, type RedisServer } from './redis-server.js';

export const SENTINEL_MASTER = 'mymaster';

export interface RedisSentinel {
  master: RedisServer;
  /** With `{ replica: true }`: a replica of the master that the sentinel knows. */
  replica?: RedisServer;
  sentinelPort: number;
  /** `redis+sentinel://127.0.0.1:<sentinel port>/mymaster` */
  url: string;
  /**
   * A forced failover (`SENTINEL FAILOVER`) to the replica once it holds everything written to the
   * master so far; resolves when the sentinel announces the switch (`+switch-master`).
   */
  failover(): Promise<void>;
  /**
   * Subscribes to the sentinel's `+switch-master`; `switched` resolves when it next announces a new
   * master (rejects after 30 s). Call before causing the failover.
   */
  watchSwitch(): Promise<{ switched: Promise<void>; close(): void }>;
  /** Resolves once the replica holds everything written to the master so far. */
  replicated(): Promise<void>;
  stop(): Promise<void>;
}

export interface SentinelOptions {
  replica?: boolean;
  /** A password the sentinel requires (the servers require none). */
  sentinelPassword?: string;
}

export async function startRedisSentinel(options: SentinelOptions = {}): Promise<RedisSentinel> {
  // No delay before a diskless full sync (5 s by default): the replica is in sync soon after it starts.
  const master = await startRedisServer({ args: ['--repl-diskless-sync-delay', '0'] });
  const servers: RedisServer[] = [master];
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-sentinel-'));
  const stopServers = () => Promise.all(servers.map((server) => server.stop()));
  try {
    const replica = options.replica
      ? await startRedisServer({ args: ['--replicaof', '127.0.0.1', String(master.port), '--repl-diskless-sync-delay', '0'] })
      : undefined;
    if (replica) servers.push(replica);
    const sentinelPort = await freePort();
    const config = join(dir, 'sentinel.conf');
    writeFileSync(
      config,
      [
        `port ${sentinelPort}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${SENTINEL_MASTER} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${SENTINEL_MASTER} 5000`,
        ...(options.sentinelPassword ? [`requirepass ${options.sentinelPassword}`] : []),
        '',
      ].join('\n'),
    );
    // The sentinel logs +slave once it learned of the replica from the master (its first INFO).
    const child = await spawnRedis([config, '--sentinel'], replica ? /\+slave slave/ : /\+monitor master/);
    const sentinel: SentinelAddress = { port: sentinelPort, password: options.sentinelPassword };
    if (replica) await replicaUsable(sentinel);
    return {
      master,
      replica,
      sentinelPort,
      url: `redis+sentinel://127.0.0.1:${sentinelPort}/${SENTINEL_MASTER}`,
      failover: () => failover(master, sentinel),
      watchSwitch: () => watchSwitch(sentinel),
      replicated: () => replicated(master),
      stop: async () => {
        await stopChild(child);
        await stopServers();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await stopServers();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

interface SentinelAddress {
  port: number;
  password: string | undefined;
}

const connectTo = (sentinel: SentinelAddress) => new Redis(sentinel.port, { ...(sentinel.password ? { password: sentinel.password } : {}) });

/**
 * Waits until the sentinel could promote the replica: it has read the replica's INFO and finds its link
 * to the master up. Until then `SENTINEL FAILOVER` answers NOGOODSLAVE (seen when a test failed over
 * within half a second of the start). The sentinel announces neither, so it is asked every 50 ms, for
 * at most 10 s.
 */
async function replicaUsable(sentinel: SentinelAddress): Promise<void> {
  const client = connectTo(sentinel);
  try {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const replicas = (await client.call('SENTINEL', 'REPLICAS', SENTINEL_MASTER)) as string[][];
      const usable = replicas.some((fields) => {
        const field = (name: string) => fields[fields.indexOf(name) + 1];
        return field('flags') === 'slave' && Number(field('info-refresh')) < 10_000 && field('master-link-status') === 'ok';
      });
      if (usable) return;
      if (Date.now() > deadline) throw new Error(`the sentinel cannot promote the replica after 10 s: ${JSON.stringify(replicas)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    client.disconnect();
  }
}

async function watchSwitch(sentinel: SentinelAddress): Promise<{ switched: Promise<void>; close(): void }> {
  const listener = connectTo(sentinel);
  await listener.subscribe('+switch-master');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('the sentinel did not switch masters within 30 s')), 30_000);
  });
  const switched = Promise.race([once(listener, 'message').then(() => undefined), late]).finally(() => clearTimeout(timer));
  switched.catch(() => undefined); // Awaited by the caller.
  return {
    switched,
    close: () => {
      clearTimeout(timer);
      listener.disconnect();
    },
  };
}

async function replicated(master: RedisServer): Promise<void> {
  const writer = new Redis(master.port);
  try {
    // Replication is one ordered stream: once the replica acknowledged a write made after everything
    // else, it holds everything else too.
    await writer.set('sentinel-harness:marker', String(Date.now()));
    const acknowledged = Number(await writer.call('WAIT', 1, 10_000));
    if (acknowledged < 1) throw new Error('the replica did not catch up with the master within 10 s');
  } finally {
    writer.disconnect();
  }
}

async function failover(master: RedisServer, sentinel: SentinelAddress): Promise<void> {
  const client = connectTo(sentinel);
  const watch = await watchSwitch(sentinel);
  try {
    await replicated(master);
    await client.call('SENTINEL', 'FAILOVER', SENTINEL_MASTER);
    await watch.switched;
  } finally {
    client.disconnect();
    watch.close();
  }
}
