// The Redis broker forgets queues that held nothing for a while: every maintenance pass runs a script
// per known queue, so before this, names used once (a queue per tenant, say) cost every pass forever
// (20,000 such names made an idle worker's Redis run 28,000 commands a second). The pruner marks a queue
// it finds empty, and after a grace takes the name out of `{P}:queues` and looks once more; a producer
// names a queue before and again after it writes to it. Time is the `now` handed to the broker, so the
// grace (10 minutes) passes at once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { connectBroker, type Broker } from '../../src/index.js';
import { FORGET_UNUSED_QUEUE_MS as GRACE } from '../../src/brokers/redis/maintenance.js';
import { KEEP_EVERYTHING, leaseRequest, newTask } from '../conformance/suite/records.js';
import { recordCommands } from '../support/monitor.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
let direct: Redis;
before(async () => {
  server = await startRedisServer();
  direct = new Redis(server.port);
});
after(async () => {
  direct.disconnect();
  await server.stop();
});

/** Results kept for 1 ms: a prune at `now` deletes what finished before it. */
const RETENTION = { ...KEEP_EVERYTHING, resultTtlMs: 1 };

interface World {
  prefix: string;
  url: string;
  broker: Broker;
  /** The names in `{P}:queues`, sorted. */
  known(): Promise<string[]>;
  /** The names in `{P}:forgetting`, sorted. */
  forgetting(): Promise<string[]>;
  /** Every key of one queue but the records of lease calls (lease.lua), which live for the lease time. */
  keysOf(queue: string): Promise<string[]>;
}

async function world(): Promise<World> {
  const prefix = `forget-${randomUUID().slice(0, 8)}`;
  const url = `${server.url}?prefix=${prefix}`;
  const broker = await connectBroker(url);
  return {
    prefix,
    url,
    broker,
    known: async () => (await direct.smembers(`{${prefix}}:queues`)).sort(),
    forgetting: async () => (await direct.smembers(`{${prefix}}:forgetting`)).sort(),
    keysOf: async (queue) => (await direct.keys(`{${prefix}:${queue}}*`)).filter((key) => !key.includes(':active:call:')),
  };
}

/** Enqueues a task in `queue`, leases it and completes it at `finishedAt`. */
async function completeIn(broker: Broker, queue: string, finishedAt: number): Promise<string> {
  const [outcome] = await broker.enqueue([newTask({ queue })]);
  const [leased] = await broker.lease(leaseRequest('w1', { queues: [queue] }));
  assert.equal(leased?.id, outcome?.id);
  const [held] = await broker.settle([{ kind: 'complete', taskId: leased!.id, workerId: 'w1', result: null, now: finishedAt }]);
  assert.equal(held, true);
  return leased!.id;
}

describe('Redis: forgetting queues that hold nothing', () => {
  it('a queue whose last task was pruned is forgotten once it held nothing for the grace, and named again when used', async () => {
    const w = await world();
    let reuser: Broker | undefined;
    try {
      const t0 = Date.now();
      await completeIn(w.broker, 'tenant-1', t0);
      assert.deepEqual(await w.known(), ['tenant-1']);

      assert.deepEqual(await w.broker.prune(t0 + 2, RETENTION), { pruned: 1, more: false });
      assert.deepEqual(await w.keysOf('tenant-1'), [`{${w.prefix}:tenant-1}:unused`], 'only the mark is left');
      await w.broker.prune(t0 + 1 + GRACE, RETENTION); // The grace counts from the prune that emptied it.
      assert.deepEqual(await w.known(), ['tenant-1'], 'known until the grace has passed');

      await w.broker.prune(t0 + 2 + GRACE, RETENTION);
      assert.deepEqual(await w.known(), [], 'forgotten');
      assert.deepEqual(await w.forgetting(), []);
      assert.deepEqual(await w.keysOf('tenant-1'), [], 'the mark went with the name');
      assert.deepEqual(await w.broker.counts(), {});

      // Used again (by another producer: this one noted that it named the queue moments ago, in real
      // time, where 10 minutes have passed for the broker).
      reuser = await connectBroker(w.url);
      const runAt = t0 + 60_000;
      await reuser.enqueue([newTask({ queue: 'tenant-1', runAt })]);
      assert.deepEqual(await w.known(), ['tenant-1']);
      assert.deepEqual(await w.broker.maintain(runAt), { rescued: 0, promoted: 1, nextDueAt: null });
    } finally {
      await reuser?.close();
      await w.broker.close();
    }
  });

  it('a queue holding anything is never forgotten: queued, scheduled, running or finished tasks, an idle worker', async () => {
    const w = await world();
    try {
      const t0 = Date.now();
      await w.broker.enqueue([
        newTask({ queue: 'queued' }),
        newTask({ queue: 'scheduled', runAt: t0 + 100 * GRACE }),
        newTask({ queue: 'running' }),
      ]);
      await w.broker.lease(leaseRequest('w1', { queues: ['running'], leaseMs: 100 * GRACE }));
      await completeIn(w.broker, 'finished', t0);
      // A worker that waits for hand-offs in 'idle-worker' (registered by its lease, which found nothing).
      assert.deepEqual(await w.broker.lease(leaseRequest('w2', { queues: ['idle-worker'], handoffUntil: t0 + 100 * GRACE })), []);
      await direct.sadd(`{${w.prefix}}:queues`, 'idle-worker'); // As a producer of it would have.
      const all = ['finished', 'idle-worker', 'queued', 'running', 'scheduled'];
      assert.deepEqual(await w.known(), all);

      // Results kept a day: three prunes over 20 minutes look at every queue and forget none.
      for (const later of [1, GRACE, 2 * GRACE]) await w.broker.prune(t0 + later, KEEP_EVERYTHING);
      assert.deepEqual(await w.known(), all);
      for (const queue of all) assert.deepEqual((await w.keysOf(queue)).filter((key) => key.endsWith(':unused')), [], `${queue} is not marked`);
    } finally {
      await w.broker.close();
    }
  });

  it('a purge starts the grace again (tasks written after the mark may be among those it deleted)', async () => {
    const w = await world();
    try {
      const t0 = Date.now();
      await completeIn(w.broker, 'p', t0);
      assert.equal((await w.broker.prune(t0 + 2, RETENTION)).pruned, 1); // Empty: marked at t0 + 2.
      await w.broker.enqueue([newTask({ queue: 'p' })]);
      assert.equal(await w.broker.purge('p', Date.now()), 1);

      await w.broker.prune(t0 + 2 + GRACE, RETENTION);
      assert.deepEqual(await w.known(), ['p'], 'the grace counts from the first prune after the purge');
      await w.broker.prune(t0 + 2 + 2 * GRACE, RETENTION);
      assert.deepEqual(await w.known(), []);
    } finally {
      await w.broker.close();
    }
  });

  it('a prune that deletes the last tasks of a queue marked empty starts the grace again (they came after the mark)', async () => {
    const w = await world();
    try {
      const t0 = Date.now();
      await completeIn(w.broker, 'short', t0);
      assert.equal((await w.broker.prune(t0 + 2, RETENTION)).pruned, 1); // Empty: marked at t0 + 2.
      // A task written, run and finished between two prunes: the queue looks empty to both.
      await completeIn(w.broker, 'short', t0 + 3);
      assert.equal((await w.broker.prune(t0 + 2 + GRACE, RETENTION)).pruned, 1);
      assert.deepEqual(await w.known(), ['short'], 'marked afresh by the prune that emptied it');
      await w.broker.prune(t0 + 2 + 2 * GRACE, RETENTION);
      assert.deepEqual(await w.known(), []);
    } finally {
      await w.broker.close();
    }
  });

  it('names a pruner left half forgotten stay known, and the next prune finishes them: a queue that holds a task goes back', async () => {
    const w = await world();
    try {
      const t0 = Date.now();
      // As a pruner that died after moving two names to `{P}:forgetting`: 'busy' got a delayed task meanwhile.
      await w.broker.enqueue([newTask({ queue: 'busy', runAt: t0 + 1_000 })]);
      await direct.multi().srem(`{${w.prefix}}:queues`, 'busy').sadd(`{${w.prefix}}:forgetting`, 'busy', 'empty').exec();
      assert.deepEqual(await w.known(), []);

      // Still maintained: its task is promoted when due.
      assert.deepEqual(await w.broker.maintain(t0 + 1_000), { rescued: 0, promoted: 1, nextDueAt: null });
      await w.broker.prune(t0 + 2_000, RETENTION);
      assert.deepEqual(await w.known(), ['busy']);
      assert.deepEqual(await w.forgetting(), []);
      assert.equal((await w.broker.counts()).busy?.queued, 1);
    } finally {
      await w.broker.close();
    }
  });

  it('a producer names a queue before and after its first write to it, and again after a write that failed', async () => {
    const w = await world();
    try {
      const commands = await recordCommands(server.port);
      await w.broker.enqueue([newTask({ queue: 'one' })]);
      await w.broker.enqueue([newTask({ queue: 'bulk' }), newTask({ queue: 'bulk' })]);
      await w.broker.enqueue([newTask({ queue: 'one' })]); // Named moments ago: not again.
      assert.deepEqual(await commands.stop(), ['name_queues', 'enqueue_one', 'name_queues', 'name_queues', 'enqueue', 'name_queues', 'enqueue_one']);

      // A write that fails (a key of the wrong type) leaves the queue counted as not named.
      await direct.set(`{${w.prefix}:broken}:scheduled`, 'not a sorted set');
      const runAt = Date.now() + 60_000;
      await assert.rejects(w.broker.enqueue([newTask({ queue: 'broken', runAt })]), /WRONGTYPE/);
      await direct.del(`{${w.prefix}:broken}:scheduled`);
      await direct.srem(`{${w.prefix}}:queues`, 'broken'); // As if the pruner had forgotten it meanwhile.
      await w.broker.enqueue([newTask({ queue: 'broken', runAt })]);
      assert.ok((await w.known()).includes('broken'), 'named again by the next write');
    } finally {
      await w.broker.close();
    }
  });
});
