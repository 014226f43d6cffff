// A throwaway Sentinel group for tests: one master redis-server and one sentinel watching it (quorum 1)
// on free loopback ports. The sentinel rewrites its config file, so each run writes a fresh one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, spawnRedis, startRedisServer, stopChild, type RedisServer } from './redis-server.js';

export const SENTINEL_MASTER = 'mymaster';

export interface RedisSentinel {
  master: RedisServer;
  sentinelPort: number;
  /** `redis+sentinel://127.0.0.1:<sentinel port>/mymaster` */
  url: string;
  stop(): Promise<void>;
}

export async function startRedisSentinel(): Promise<RedisSentinel> {
  const master = await startRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'celeriac-sentinel-'));
  try {
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
        '',
      ].join('\n'),
    );
    const sentinel = await spawnRedis([config, '--sentinel'], /\+monitor master/);
    return {
      master,
      sentinelPort,
      url: `redis+sentinel://127.0.0.1:${sentinelPort}/${SENTINEL_MASTER}`,
      stop: async () => {
        await stopChild(sentinel);
        await master.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await master.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
