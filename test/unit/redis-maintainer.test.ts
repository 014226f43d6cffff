// The maintainer's leadership among workers on Redis: one worker leads, and one that stops gracefully
// gives the lead up at once, so another worker promotes a delayed task on time instead of after the
// lapsed leader's TTL (15 s with the default lease time).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Celeriac, createLogger } from '../../src/index.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { until } from '../support/wait.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

describe('Redis maintainer leadership', () => {
  it('a leader that stops gracefully hands over at once: a delayed task enqueued after still starts on time', async () => {
    const prefix = `lead-${randomUUID().slice(0, 8)}`;
    const url = `${server.url}?prefix=${prefix}`;
    const redis = new Redis(server.port);
    const apps = [0, 1, 2].map(() => new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) }));
    const [leaderApp, otherApp, producer] = apps as [Celeriac, Celeriac, Celeriac];
    for (const app of apps) app.task({ name: 'maintainer.probe', run: () => Date.now() });
    const leaderKey = `{${prefix}}:leader:maintainer`;
    try {
      await producer.subscribed();
      const leader = leaderApp.worker({ handleSignals: false });
      await leader.start();
      // Its maintainer's first run takes the lead (a worker's heartbeats make `until` look again).
      await until(producer, async () => (await redis.get(leaderKey)) !== null);
      const holder = await redis.get(leaderKey);
      const other = otherApp.worker({ handleSignals: false });
      await other.start();
      assert.equal(await redis.get(leaderKey), holder, 'the first worker keeps the lead while it runs');

      await leader.close();
      assert.equal(await redis.get(leaderKey), null, 'a worker that stops gives the lead up');
      const enqueuedAt = Date.now();
      const run = await producer.enqueue('maintainer.probe', undefined, { delay: '300ms' });
      const startedAt = (await run.result({ timeout: '10s' })) as number;
      assert.ok(startedAt >= enqueuedAt + 300, 'not before its delay');
      // Without the hand-over the other worker could lead only once the key lapsed, about 15 s on.
      assert.ok(startedAt - enqueuedAt < 5_000, `promoted ${startedAt - enqueuedAt} ms after the enqueue`);
      assert.notEqual(await redis.get(leaderKey), null, 'the other worker leads now');
      assert.notEqual(await redis.get(leaderKey), holder);
      await other.close();
    } finally {
      for (const app of apps) await app.close();
      redis.disconnect();
    }
  });
});
