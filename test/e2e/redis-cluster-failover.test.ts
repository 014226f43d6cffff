// Redis Cluster failovers with a producer and a worker running, on a cluster of three masters with a
// replica each: a manual failover of the queue's shard is invisible to them; a master that dies (of
// the queue's shard, or of the shard holding the prefix's global keys) makes calls fail with a
// BrokerError until its replica has taken over, then both carry on; the master a queue's event
// subscription is connected to dying moves the subscription to the replica that takes over, and so does
// the death of the master that carries the notices of new queues. Nothing is lost or run twice in any of them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { BrokerError, Celeriac, type TaskRun } from '../../src/index.js';
import { deferred, type Deferred } from '../support/deferred.js';
import { recordApp } from '../support/events.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import type { RedisServer } from '../support/redis-server.js';

const silent = pino({ level: 'silent' });

interface World {
  cluster: RedisCluster;
  prefix: string;
  producer: Celeriac;
  /** How many times the worker ran each task, by its input `i`. */
  runs: Map<number, number>;
  /** Tasks whose `i` is below `held.count` wait for `held.release` once started; `held.started` resolves when all have. */
  held: { count: number; started: Deferred<void>; release: Deferred<void> };
}

/**
 * A cluster (failover after 2 s of silence), a producer and a started worker (concurrency 10) of one
 * echo task on a prefix of their own, then `body`. Everything is stopped after.
 */
async function withCluster(
  name: string,
  options: { hold?: number; password?: string },
  body: (world: World) => Promise<void>,
): Promise<void> {
  const { hold = 0, password } = options;
  const cluster = await startRedisCluster({ replicas: 1, nodeTimeoutMs: 2_000, ...(password ? { password } : {}) });
  const prefix = `${name}-${randomUUID().slice(0, 8)}`;
  const url = `${cluster.url.replace('://', password ? `://:${encodeURIComponent(password)}@` : '://')}?prefix=${prefix}`;
  const producer = new Celeriac({ broker: url, logger: silent });
  const workerApp = new Celeriac({ broker: url, logger: silent });
  const runs = new Map<number, number>();
  const held = { count: hold, started: deferred(), release: deferred() };
  let startedHeld = 0;
  if (hold === 0) held.started.resolve();
  workerApp.task({
    name: 'echo',
    run: async (input: { i: number }) => {
      runs.set(input.i, (runs.get(input.i) ?? 0) + 1);
      if (input.i < hold) {
        if (++startedHeld === hold) held.started.resolve();
        await held.release.promise;
      }
      return input.i;
    },
  });
  const worker = workerApp.worker({ handleSignals: false, concurrency: 10 });
  try {
    await worker.start();
    await body({ cluster, prefix, producer, runs, held });
  } finally {
    held.release.resolve();
    await worker.close();
    await workerApp.close();
    await producer.close();
    await cluster.stop();
  }
}

/**
 * Enqueues `echo` tasks one after another, numbered from `from`, a few milliseconds apart (a steady
 * trickle, not a backlog), until stopped; keeps the runs and the failures.
 */
function enqueueStream(producer: Celeriac, from: number) {
  const enqueued: TaskRun[] = [];
  const failures: unknown[] = [];
  let stopped = false;
  const done = (async () => {
    for (let i = from; !stopped && i < from + 20_000; i++) {
      try {
        enqueued.push(await producer.enqueue('echo', { i }));
      } catch (error) {
        failures.push(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  })();
  /** Resolves once `count` more tasks than now were enqueued (within 30 s). */
  const more = async (count: number) => {
    const target = enqueued.length + count;
    const deadline = Date.now() + 30_000;
    while (enqueued.length < target) {
      assert.ok(Date.now() < deadline, `only ${enqueued.length}/${target} tasks enqueued after 30 s (${failures.length} failures)`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  return { enqueued, failures, more, stop: () => ((stopped = true), done) };
}

/** Every run's result equals its input, and the worker ran each exactly once. */
async function assertRanOnce(runs: TaskRun[], counts: Map<number, number>): Promise<void> {
  const results = await Promise.all(runs.map((run) => run.result({ timeout: '30s' })));
  const twice = [...counts].filter(([, times]) => times > 1).map(([i]) => i);
  assert.deepEqual(twice, [], 'no task ran twice');
  assert.equal(new Set(results).size, runs.length, 'every task completed with its own input as result');
}

test('a manual Cluster failover of the queue shard: no call fails, every task runs once', async () => {
  // On nodes that require a password: the broker's connections, its subscriber and replication log in.
  await withCluster('manual', { password: 'cluster+pw' }, async ({ cluster, prefix, producer, runs }) => {
    const stream = enqueueStream(producer, 0);
    await stream.more(200);
    const { master, replica } = await cluster.failover(`{${prefix}:default}`);
    assert.equal((await cluster.shardOf(`{${prefix}:default}`)).master, replica, 'the replica serves the queue now');
    assert.notEqual(master, replica);
    await stream.more(200);
    await stream.stop();
    // A manual failover pauses the master's clients until the replica has everything, then ioredis
    // follows MOVED to the new master: nothing to see for the producer.
    assert.deepEqual(stream.failures.map(String), []);
    await assertRanOnce(stream.enqueued, runs);
  });
});

for (const [shard, key] of [
  ['the queue shard', (prefix: string) => `{${prefix}:default}`],
  ["the shard of the prefix's global keys", (prefix: string) => `{${prefix}}`],
] as const) {
  test(`a Cluster master that dies (${shard}): calls that need it fail with a BrokerError until its replica takes over, then producer and worker carry on`, async () => {
    await withCluster('death', { hold: 10 }, async ({ cluster, prefix, producer, runs, held }) => {
      // Ten tasks running (held by their handlers), so the worker holds leases and has results to
      // store across the death; everything written so far is on the replica.
      const running = await producer.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ task: 'echo', input: { i } })));
      await held.started.promise;
      await cluster.replicated(key(prefix));
      const { master } = await cluster.shardOf(key(prefix));

      const stream = enqueueStream(producer, 1_000);
      await stream.more(50);
      await cluster.stopNode(master); // Returns once the replica serves the shard's slots.
      await stream.more(100); // Enqueues work again.
      held.release.resolve();
      await stream.stop();

      for (const failure of stream.failures) {
        assert.ok(failure instanceof BrokerError, String(failure));
        assert.match(failure.message, /a Cluster node is unreachable or its shard is failing over/);
      }
      // An enqueue acknowledged in the moment before the death may not have reached the replica
      // (replication is asynchronous; docs/redis.md). On loopback that window is tiny, and none was lost in the runs made.
      await assertRanOnce([...running, ...stream.enqueued], runs);
    });
  });
}

/** The live nodes on which some connection subscribes to the shard channel `channel`. */
async function subscribedOn(nodes: RedisServer[], channel: string): Promise<RedisServer[]> {
  const counts = await Promise.all(
    nodes.map(async (node) => {
      const admin = new Redis(node.port);
      try {
        const [, count] = (await admin.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
        return count;
      } finally {
        admin.disconnect();
      }
    }),
  );
  return nodes.filter((_, n) => counts[n]! > 0);
}

test("the master holding the producer's subscription to its queue dies: it subscribes on the replica that took over, and events reach it again", async () => {
  await withCluster('subscriber', {}, async ({ cluster, prefix, producer, runs }) => {
    const recorder = await recordApp(producer);
    const before = await producer.enqueue('echo', { i: 100_000 }); // The queue exists: the producer's app has joined its channel.
    await before.result({ timeout: '10s' });
    const channel = `{${prefix}:default}:events`;
    const [holder, ...others] = await subscribedOn(cluster.nodes, channel);
    assert.ok(holder && others.length === 0, "the queue's events channel is subscribed on one node, its master");
    assert.equal((await cluster.shardOf(channel)).master.port, holder.port);
    await cluster.stopNode(holder);
    // ioredis subscribes again on the shard's new master once its replica has taken over; no event says
    // when, so look (PUBSUB SHARDNUMSUB) with a deadline. Events published before that are missed, as documented.
    const live = cluster.nodes.filter((node) => node !== holder);
    const deadline = Date.now() + 20_000;
    while ((await subscribedOn(live, channel)).length === 0) {
      assert.ok(Date.now() < deadline, 'no node has the subscription 20 s after its master died');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const after = await producer.enqueueMany(Array.from({ length: 20 }, (_, i) => ({ task: 'echo', input: { i } })));
    const ids = new Set(after.map((run) => run.id));
    const completed = await recorder.waitFor((event) => event.type === 'task.completed' && ids.has(event.taskId), 20, 20_000);
    assert.equal(completed.length, 20);
    await assertRanOnce(after, runs);
    recorder.stop();
  });
});

test("the master of the prefix's global shard dies: once its replica took over, a listener hears the first events of a queue created after", async () => {
  await withCluster('notices', {}, async ({ cluster, prefix, producer }) => {
    const listener = new Celeriac({ broker: `${cluster.url}?prefix=${prefix}`, logger: silent });
    try {
      const recorder = await recordApp(listener);
      const notices = `{${prefix}}:events:queues`;
      const { master } = await cluster.shardOf(notices);
      await cluster.stopNode(master); // Returns once the replica serves the shard's slots.
      // ioredis subscribes again on the new master; no event says when, so look with a deadline.
      const live = cluster.nodes.filter((node) => node !== master);
      const deadline = Date.now() + 20_000;
      while ((await subscribedOn(live, notices)).length === 0) {
        assert.ok(Date.now() < deadline, 'nobody subscribes to the notices of new queues 20 s after their master died');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      // A queue nobody knew of: the listener is told of it (through the new master) and joins its channel
      // before the producer writes the first task there.
      const run = await producer.enqueue('echo', { i: 1 }, { queue: 'fresh' });
      const [queued] = await recorder.waitFor((event) => event.type === 'task.queued' && event.taskId === run.id, 1, 10_000);
      assert.equal(queued?.type === 'task.queued' && queued.queue, 'fresh');
      recorder.stop();
    } finally {
      await listener.close();
    }
  });
});
