// The conformance suite on the Redis broker: one throwaway redis-server for the file (started by the
// harness on a free port; a missing redis-server binary fails, never skips), and a random key prefix
// for each case, so cases never share state and other processes can use the same URL.
import { after } from 'node:test';
import { randomUUID } from 'node:crypto';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { runBrokerConformance } from './broker-suite.js';

let server: Promise<RedisServer> | undefined;

after(async () => {
  await (await server)?.stop();
});

runBrokerConformance({
  name: 'redis',
  newUrl: async () => {
    server ??= startRedisServer();
    const { url } = await server;
    return { url: `${url}?prefix=test-${randomUUID().slice(0, 8)}`, cleanup: () => undefined };
  },
});
