// The conformance suite on a three-master Redis Cluster that the harness starts on loopback ports, with
// a random key prefix for each case. Each queue's keys share one hash tag, so every script touches one
// slot; queues spread over the shards, which the first test checks so the suite cannot pass on a
// cluster where everything happens to sit on one node.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import { Celeriac, connectBroker, createLogger } from '../../src/index.js';
import { runSequence } from '../support/broker-differential.js';
import { recordBroker } from '../support/events.js';
import { openMonitor } from '../support/monitor.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { within } from '../support/wait.js';
import { fanOut } from '../../src/brokers/redis/fanout.js';
import { toStoredId } from '../../src/brokers/redis/ids.js';
import { FORGET_UNUSED_QUEUE_MS } from '../../src/brokers/redis/maintenance.js';
import type { RedisCommand } from '../../src/brokers/redis/scripts.js';
import { runBrokerConformance } from './broker-suite.js';
import { enqueueOne, leaseRequest } from './suite/records.js';

let cluster: Promise<RedisCluster> | undefined;
const started = () => (cluster ??= startRedisCluster());

after(async () => {
  await (await cluster)?.stop();
});

describe('redis cluster', () => {
  let url: string;
  before(async () => {
    url = `${(await started()).url}?prefix=spread-${randomUUID().slice(0, 8)}`;
  });

  it("keeps the order of one queue's task events, and of one publisher's worker events", async () => {
    const broker = await connectBroker(url);
    const recorder = await recordBroker(broker);
    try {
      const ids: string[] = [];
      for (let n = 0; n < 20; n++) {
        const id = await enqueueOne(broker, { queue: 'ordered' });
        await broker.lease(leaseRequest('w1', { queues: ['ordered'] }));
        await broker.publish([{ type: 'worker.heartbeat', workerId: 'w1', timestamp: Date.now(), active: 1, processed: n, failed: 0 }]);
        await broker.settle([{ kind: 'complete', taskId: id, workerId: 'w1', result: n, now: Date.now() }]);
        ids.push(id);
      }
      const events = await recorder.waitFor((event) => event.type === 'task.completed' || event.type === 'worker.heartbeat', 40);
      const taskEvents = recorder.matching((event) => event.type.startsWith('task.'));
      assert.equal(events.length, 40);
      assert.deepEqual(
        taskEvents.map((event) => `${event.type} ${'taskId' in event ? ids.indexOf(event.taskId) : -1}`),
        ids.flatMap((_, n) => [`task.queued ${n}`, `task.started ${n}`, `task.completed ${n}`]),
      );
      const beats = recorder.matching((event) => event.type === 'worker.heartbeat');
      assert.deepEqual(beats.map((event) => (event.type === 'worker.heartbeat' ? event.processed : -1)), [...ids.keys()]);
    } finally {
      recorder.stop();
      await broker.close();
    }
  });

  it('spreads queues over the shards, and runs tasks of every queue', async () => {
    const app = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    const queues = Array.from({ length: 12 }, (_, i) => `q${i}`);
    app.task({ name: 'echo', run: (input: { queue: string }) => input.queue });
    const worker = app.worker({ queues, concurrency: 8, handleSignals: false });
    try {
      await worker.start();
      const runs = await app.enqueueMany(queues.map((queue) => ({ task: 'echo', input: { queue }, options: { queue } })));
      assert.deepEqual(await Promise.all(runs.map((run) => run.result({ timeout: '10s' }))), queues);
      const holders = new Set<number>();
      for (const node of (await started()).nodes) {
        const client = new Redis({ port: node.port, host: '127.0.0.1' });
        const keys = await client.keys('{spread-*');
        client.disconnect();
        if (keys.length > 0) holders.add(node.port);
      }
      assert.ok(holders.size >= 2, `the queues' keys all sit on ${holders.size} node(s)`);
    } finally {
      await worker.close();
      await app.close();
    }
  });

  it('keeps each event on the shard of its queue (no PUBLISH crosses the cluster), and a listener hears queues created after it subscribed', async () => {
    const prefix = `shard-${randomUUID().slice(0, 8)}`;
    const queueUrl = `${(await started()).url}?prefix=${prefix}`;
    const nodes = (await started()).nodes;
    const admins = nodes.map((node) => new Redis({ port: node.port, host: '127.0.0.1' }));
    const quiet = { logger: createLogger({ level: 'silent' }) };
    const app = new Celeriac({ broker: queueUrl, ...quiet });
    const listener = new Celeriac({ broker: queueUrl, ...quiet });
    const queues = Array.from({ length: 12 }, (_, i) => `s${i}`);
    app.task({ name: 'echo', run: (input: { queue: string }) => input.queue });
    const worker = app.worker({ queues, concurrency: 8, handleSignals: false });
    const heard = new Set<string>();
    let heardAll: () => void = () => undefined;
    const all = new Promise<void>((resolve) => (heardAll = resolve));
    const off = listener.on('task.completed', (event) => {
      heard.add(event.queue);
      if (heard.size === queues.length) heardAll();
    });
    try {
      await listener.subscribed(); // Before any of the queues exists.
      await Promise.all(admins.map((admin) => admin.config('RESETSTAT')));
      await worker.start();
      const runs = await app.enqueueMany(queues.map((queue) => ({ task: 'echo', input: { queue }, options: { queue } })));
      assert.deepEqual(await Promise.all(runs.map((run) => run.result({ timeout: '10s' }))), queues);
      await within(all, 10_000, `the listener hearing a completion in every queue (heard ${heard.size})`);
      const stats = await Promise.all(admins.map((admin) => admin.info('commandstats')));
      assert.deepEqual(stats.filter((text) => /^cmdstat_publish:/m.test(text)), [], 'no node ran a PUBLISH');
      const sharded = stats.filter((text) => /^cmdstat_spublish:calls=[1-9]/m.test(text));
      assert.ok(sharded.length >= 2, `the events went out on the shards of their queues (${sharded.length} node(s))`);
    } finally {
      off();
      await worker.close();
      await app.close();
      await listener.close();
      for (const admin of admins) admin.disconnect();
    }
  });

  it("run.result() hears the finish of a task in a queue its process had not heard of (no notice came)", async () => {
    const prefix = `unheard-${randomUUID().slice(0, 8)}`;
    const queueUrl = `${(await started()).url}?prefix=${prefix}`;
    const quiet = { logger: createLogger({ level: 'silent' }) };
    const waiter = new Celeriac({ broker: queueUrl, ...quiet });
    const producer = new Celeriac({ broker: queueUrl, ...quiet });
    const names = new Cluster([{ host: '127.0.0.1', port: (await started()).nodes[0]!.port }]);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let began: () => void = () => undefined;
    const running = new Promise<void>((resolve) => (began = resolve));
    producer.task({ name: 'gated', run: async () => (began(), await gate, 'done') });
    const worker = producer.worker({ queues: ['unheard'], handleSignals: false });
    let monitor: Socket | undefined;
    try {
      waiter.on('task.completed', () => undefined);
      await waiter.subscribed(); // The waiter's app listens, and has read the known queues.
      // Named by hand first: the producer's naming adds nothing, so no notice tells the waiter's app of it.
      await names.sadd(`{${prefix}}:queues`, 'unheard');
      await worker.start();
      const run = await producer.enqueue('gated', {}, { queue: 'unheard' });
      await within(running, 10_000, 'the task started');
      // The wait's read of the task's outcome, seen on its node: the task finishes only after it.
      const taskKey = `{${prefix}:unheard}:t:${toStoredId(run.id)}`;
      let read: () => void = () => undefined;
      const readDone = new Promise<void>((resolve) => (read = resolve));
      const { master } = await (await started()).shardOf(taskKey);
      monitor = await openMonitor(master.port, ({ source, args: [command, key, field] }) => {
        if (source !== 'lua' && command === 'hmget' && key === taskKey && field === 'state') read();
      });
      const waiting = waiter.run(run.id).result({ timeout: '3s' }); // Its rereads come only after 5 s.
      await within(readDone, 10_000, "the wait's read");
      release();
      assert.equal(await waiting, 'done');
    } finally {
      monitor?.destroy();
      release();
      await worker.close();
      await producer.close();
      await waiter.close();
      names.disconnect();
    }
  });

  it('forgets queues that held nothing for the grace, though their keys and their names sit on different shards', async () => {
    const prefix = `forget-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(`${(await started()).url}?prefix=${prefix}`);
    const { master } = await (await started()).shardOf(`{${prefix}}:queues`);
    const names = new Redis({ port: master.port, host: '127.0.0.1' });
    try {
      const t0 = Date.now();
      const used = Array.from({ length: 6 }, (_, i) => `once-${i}`);
      for (const queue of used) {
        const id = await enqueueOne(broker, { queue });
        await broker.lease(leaseRequest('w1', { queues: [queue] }));
        await broker.settle([{ kind: 'complete', taskId: id, workerId: 'w1', result: null, now: t0 }]);
      }
      const shards = await Promise.all(used.map(async (queue) => (await (await started()).shardOf(`{${prefix}:${queue}}:queued`)).master.port));
      assert.ok(shards.some((port) => port !== master.port), 'a queue whose keys sit on another shard than the names');
      await enqueueOne(broker, { queue: 'waiting', runAt: t0 + 100 * FORGET_UNUSED_QUEUE_MS });
      const retention = { resultTtlMs: 1, eventTtlMs: 86_400_000, workerTtlMs: 86_400_000 };
      assert.equal((await broker.prune(t0 + 2, retention)).pruned, used.length);
      assert.equal((await names.smembers(`{${prefix}}:queues`)).length, used.length + 1);
      await broker.prune(t0 + 2 + FORGET_UNUSED_QUEUE_MS, retention);
      assert.deepEqual(await names.smembers(`{${prefix}}:queues`), ['waiting']);
      assert.deepEqual(await names.smembers(`{${prefix}}:forgetting`), []);
    } finally {
      names.disconnect();
      await broker.close();
    }
  });

  it('a fan-out sends one pipeline per master, and gets every reply when its map of the slots is stale', async () => {
    const nodes = (await started()).nodes;
    const client = new Cluster([{ host: '127.0.0.1', port: nodes[0]!.port }]);
    const tag = randomUUID().slice(0, 8);
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `{fan-${tag}-${i}}:k`);
      for (const [i, key] of keys.entries()) await client.set(key, String(i));
      const masters = new Set(await Promise.all(keys.map(async (key) => (await (await started()).shardOf(key)).master.port)));
      assert.ok(masters.size >= 2, 'the keys sit on several masters');
      let pipelines = 0;
      const pipeline = client.pipeline.bind(client);
      client.pipeline = ((...args: Parameters<typeof pipeline>) => (pipelines++, pipeline(...args))) as typeof client.pipeline;
      const commands: RedisCommand[] = keys.map((key) => ['get', key]);
      const values = keys.map((_, i) => String(i));
      assert.deepEqual(await fanOut(client, commands), values);
      assert.equal(pipelines, masters.size);

      // Every slot believed served by one master. First only in the map fanout.ts groups by: ioredis
      // refuses the mixed pipeline, and each command goes alone.
      const slots = client.slots.map((nodes) => [...nodes]);
      const groups = [...client._groupsBySlot];
      const one = client.slots[calculateSlot(keys[0]!)]!;
      client.slots.fill(one);
      assert.deepEqual(await fanOut(client, commands), values);
      // Then in ioredis's own map too: the pipeline goes to that master, which answers MOVED for the
      // other slots' commands, each sent again alone.
      client.slots.splice(0, client.slots.length, ...slots.map(() => one));
      client._groupsBySlot.fill(groups[calculateSlot(keys[0]!)]!);
      assert.deepEqual(await fanOut(client, commands), values);
    } finally {
      client.disconnect();
    }
  });

  it('agrees with SQLite over random call sequences: every reply, record and event (test/support/broker-differential.ts)', async () => {
    for (const seed of [1, 2, 3]) await runSequence((await started()).url, seed, 300);
  });

  it('a lost blocking connection: the inbox delivers what was popped for it and never received', async () => {
    const prefix = `reclaim-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(`${(await started()).url}?prefix=${prefix}`);
    const producer = await connectBroker(`${(await started()).url}?prefix=${prefix}`);
    const inboxKey = `{${prefix}:default}:idle:reader`;
    const { master } = await (await started()).shardOf(inboxKey);
    const redis = new Redis({ port: master.port, host: '127.0.0.1' });
    let delivered: (ids: string[]) => void = () => undefined;
    const reclaimed = new Promise<string[]>((resolve) => (delivered = resolve));
    const inbox = await broker.openInbox!('reader', ['default'], (tasks) => delivered(tasks.map((task) => task.id)), () => []);
    assert.ok(inbox);
    try {
      const now = Date.now();
      await broker.lease(leaseRequest('reader', { limit: 5, handoffUntil: now + 60_000 }));
      const lost = await enqueueOne(producer);
      assert.ok(await redis.lpop(inboxKey), 'popped, as by a BLMPOP whose reply never came');
      let sent: () => void = () => undefined;
      const blmpop = new Promise<void>((resolve) => (sent = resolve));
      const monitor = await openMonitor(master.port, ({ args: [command, , , key] }) => {
        if (command === 'blmpop' && key === inboxKey) sent();
      });
      const waiting = inbox.take();
      waiting.catch(() => undefined);
      await within(blmpop, 10_000, 'the inbox waiting on its shard');
      monitor.destroy();
      // The inbox's connection to the shard, blocked on its inbox: killed; the client opens a new one.
      const clients = ((await redis.call('CLIENT', 'LIST')) as string).split('\n');
      const blocked = clients.find((line) => / flags=b /.test(line) && / cmd=blmpop /.test(line));
      assert.ok(blocked, 'a client blocked in BLMPOP');
      await redis.call('CLIENT', 'KILL', 'ID', /^id=(\d+) /.exec(blocked)![1]!);
      assert.deepEqual(await within(reclaimed, 10_000, 'the reclaimed task'), [lost]);
    } finally {
      inbox.dispose();
      redis.disconnect();
      await producer.close();
      await broker.close();
    }
  });
});

runBrokerConformance({
  name: 'redis cluster',
  newUrl: async () => {
    const { url } = await started();
    return { url: `${url}?prefix=test-${randomUUID().slice(0, 8)}`, cleanup: () => undefined };
  },
  skip: Object.fromEntries(
    [
      'subscribers receive events published after subscribing, in order',
      'subscribers receive events written by another broker instance on the same URL, in order',
    ].map((name) => [
      name,
      "a Cluster orders events per shard only (docs/redis.md): a queue's task events are published on its shard and worker events on the prefix's, so a subscriber can hear a heartbeat before a task event published just before it; the order the Cluster does keep is checked by 'keeps the order of one queue's task events, and of one publisher's worker events' above",
    ]),
  ),
});
