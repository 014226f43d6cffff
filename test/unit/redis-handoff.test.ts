// Hand-off on Redis, as a worker uses it: an idle worker of one queue receives tasks through its inbox
// instead of leasing each, closing ends its registration, and the pruner clears registrations that a
// killed worker left behind.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Celeriac, connectBroker, createLogger, type Broker } from '../../src/index.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

/** Counts the broker's lease calls from now on. */
function countLeases(broker: Broker): () => number {
  let leases = 0;
  const lease = broker.lease.bind(broker);
  broker.lease = (request) => {
    leases++;
    return lease(request);
  };
  return () => leases;
}

const KEEP = { resultTtlMs: 86_400_000, eventTtlMs: 86_400_000, workerTtlMs: 86_400_000 };

describe('Redis hand-off', () => {
  it('an idle worker receives one task after another without leasing each, and closing ends its registration', async () => {
    const prefix = `handoff-${randomUUID().slice(0, 8)}`;
    const app = new Celeriac({ broker: `${server.url}?prefix=${prefix}`, logger: createLogger({ level: 'silent' }) });
    app.task({ name: 'echo', run: (input: { n: number }) => input.n });
    const leases = countLeases(await app.broker());
    const worker = app.worker({ concurrency: 4, handleSignals: false, pollInterval: '1h' });
    const redis = new Redis(server.port);
    try {
      await worker.start();
      const tasks = 20;
      for (let n = 0; n < tasks; n++) {
        const run = await app.enqueue('echo', { n });
        assert.equal(await run.result({ timeout: '5s' }), n);
        assert.equal((await run.status()).workerId, worker.id);
      }
      // The first lease registers the worker with room for 4; each hand-off takes one of it and each
      // settled task gives one back, so one task after another never finds the worker full.
      assert.ok(leases() <= 2, `expected the first lease (and perhaps one after a task found no room), saw ${leases()}`);
      assert.equal(await redis.hexists(`{${prefix}:default}:idle`, worker.id), 1, 'registered while idle');
      await worker.close();
      assert.equal(await redis.hexists(`{${prefix}:default}:idle`, worker.id), 0, 'registration ended by close');
      const later = await app.enqueue('echo', { n: -1 });
      assert.equal((await later.status()).state, 'queued', 'nothing is handed to a closed worker');
    } finally {
      redis.disconnect();
      await worker.close();
      await app.close();
    }
  });

  it('an idle worker of several queues is handed the tasks of each, and closing ends every registration', async () => {
    const prefix = `handoff-${randomUUID().slice(0, 8)}`;
    const url = `${server.url}?prefix=${prefix}`;
    const app = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    app.task({ name: 'echo', run: (input: { n: number }) => input.n });
    const leases = countLeases(await app.broker());
    const queues = ['high', 'low'];
    const worker = app.worker({ queues, concurrency: 4, handleSignals: false, pollInterval: '1h' });
    const other = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    const redis = new Redis(server.port);
    try {
      await worker.start();
      for (let n = 0; n < 10; n++) {
        // Alternately from this app (handed over in memory) and from another (through the inbox).
        const producer = n % 2 === 0 ? app : other;
        const run = await producer.enqueue('echo', { n }, { queue: queues[n % 3 === 0 ? 0 : 1] });
        assert.equal(await app.run(run.id).result({ timeout: '5s' }), n);
        assert.equal((await run.status()).workerId, worker.id);
      }
      assert.ok(leases() <= 2, `expected the first lease (and perhaps one after a task found no room), saw ${leases()}`);
      for (const queue of queues) assert.equal(await redis.hexists(`{${prefix}:${queue}}:idle`, worker.id), 1, `registered in ${queue}`);
      await worker.close();
      for (const queue of queues) assert.equal(await redis.hexists(`{${prefix}:${queue}}:idle`, worker.id), 0, `${queue}: ended by close`);
    } finally {
      redis.disconnect();
      await worker.close();
      await other.close();
      await app.close();
    }
  });

  it('hands a task enqueued by the same app to its idle worker in memory, and one from elsewhere through the inbox', async () => {
    const prefix = `handoff-${randomUUID().slice(0, 8)}`;
    const url = `${server.url}?prefix=${prefix}`;
    const app = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    app.task({ name: 'echo', run: (input: { n: number }) => input.n });
    const broker = await app.broker();
    let throughInbox = 0;
    const openInbox = broker.openInbox!.bind(broker);
    broker.openInbox = async (workerId, queues, local) => {
      const inbox = await openInbox(workerId, queues, local);
      if (!inbox) return inbox;
      const take = inbox.take.bind(inbox);
      inbox.take = async () => {
        const tasks = await take();
        throughInbox += tasks?.length ?? 0;
        return tasks;
      };
      return inbox;
    };
    const worker = app.worker({ concurrency: 4, handleSignals: false, pollInterval: '1h' });
    const other = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    try {
      await worker.start();
      for (let n = 0; n < 10; n++) {
        const run = await app.enqueue('echo', { n });
        assert.equal(await run.result({ timeout: '5s' }), n);
        const info = await run.status();
        assert.equal(info.workerId, worker.id);
        assert.equal(info.attempts, 1);
      }
      assert.equal(throughInbox, 0, 'tasks this app enqueued reached its worker without the inbox');
      const remote = await other.enqueue('echo', { n: 99 });
      assert.equal(await app.run(remote.id).result({ timeout: '5s' }), 99);
      assert.equal((await remote.status()).workerId, worker.id);
      assert.equal(throughInbox, 1, "another app's task came through the inbox");
    } finally {
      await worker.close();
      await other.close();
      await app.close();
    }
  });

  it('offers no inbox to a worker of more than 8 queues (each would hold a connection)', async () => {
    const broker = await connectBroker(`${server.url}?prefix=handoff-${randomUUID().slice(0, 8)}`);
    try {
      const queues = (n: number) => Array.from({ length: n }, (_, i) => `q${i}`);
      const eight = await broker.openInbox!('w8', queues(8));
      assert.ok(eight, 'a worker of 8 queues has an inbox');
      await eight.close();
      eight.dispose();
      assert.equal(await broker.openInbox!('w9', queues(9)), undefined);
    } finally {
      await broker.close();
    }
  });

  it('prune deletes hand-off registrations that lapsed and keeps live ones', async () => {
    const prefix = `handoff-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(`${server.url}?prefix=${prefix}`);
    const redis = new Redis(server.port);
    try {
      const now = Date.now();
      const request = { queues: ['default'], limit: 5, leaseMs: 30_000, now };
      await broker.lease({ ...request, workerId: 'killed', handoffUntil: now + 1_000 });
      await broker.lease({ ...request, workerId: 'alive', handoffUntil: now + 60_000 });
      await redis.sadd(`{${prefix}}:queues`, 'default');
      await broker.prune(now + 2_000, KEEP);
      assert.deepEqual(await redis.hkeys(`{${prefix}:default}:idle`), ['alive']);
    } finally {
      redis.disconnect();
      await broker.close();
    }
  });
});
