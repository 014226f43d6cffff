// A worker's connection that dies at the worst moment for a hand-off: the blocking pop on its inbox ran
// in Redis (the handed tasks left the list) and its reply never arrived. Either the connection dropped
// (the client reconnects at once), or it went silent with Redis still holding it (a partition, a host
// gone: no FIN, no RST), so that Redis goes on popping into it until its wait ends. Either way the worker
// must notice, reconnect, and run those tasks at their first attempt, not after their lease expired.
// On a Cluster, the shard subscriber connections (one per master) must be noticed too when they go
// silent (without the PINGs of events.ts this test times out: checked); behind
// Sentinel, a sentinel that accepts connections and never answers must not stop the broker connecting.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Celeriac, createLogger, type TaskRun } from '../../src/index.js';
import { startRedisCluster } from '../support/redis-cluster.js';
import { startRedisSentinel } from '../support/redis-sentinel.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startReplyDroppingProxy, type ReplyDroppingProxy } from '../support/reply-dropping-proxy.js';
import { openMonitor } from '../support/monitor.js';
import { within } from '../support/wait.js';

let server: RedisServer;
let proxy: ReplyDroppingProxy;
let direct: Redis;
before(async () => {
  server = await startRedisServer();
  proxy = await startReplyDroppingProxy(server.port);
  direct = new Redis(server.port);
});
after(async () => {
  direct.disconnect();
  await proxy.close();
  await server.stop();
});

/**
 * A producer straight to Redis and a worker through the proxy, with a lease far longer than any wait
 * here: a task must reach the worker again by itself, not through rescue once its lease expired.
 * `beforeStart` runs once the worker's app is connected, before the worker starts.
 */
async function world(query = '', beforeStart?: () => void) {
  const prefix = `dead-${randomUUID().slice(0, 8)}`;
  const logger = createLogger({ level: 'silent' });
  const runs = new Map<string, number>();
  const producer = new Celeriac({ broker: `${server.url}?prefix=${prefix}`, logger });
  const workerApp = new Celeriac({ broker: `${proxy.url}?prefix=${prefix}${query}`, logger });
  workerApp.task({ name: 'count', run: (_input: unknown, ctx) => void runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1) });
  const worker = workerApp.worker({ concurrency: 2, handleSignals: false, leaseTime: '10m' });
  const inbox = `{${prefix}:default}:idle:${worker.id}`;
  // The BLMPOPs Redis received on the worker's inbox, and whether a lease registered it for hand-offs.
  let blocked = 0;
  let registered = false;
  let waiter: { count: number; resolve: () => void } | undefined;
  const monitor = await openMonitor(server.port, ({ args }) => {
    const [command, name, , key] = args;
    if (command === 'blmpop' && key === inbox) blocked++;
    else if (command === 'fcall' && name?.endsWith('_lease') && args.includes(worker.id)) registered = true;
    else return;
    if (waiter && registered && blocked >= waiter.count) waiter.resolve();
  });
  await Promise.all([producer.broker(), workerApp.broker()]);
  beforeStart?.();
  await worker.start();
  return {
    runs,
    producer,
    workerApp,
    /** Waits until the worker is registered and Redis has received its `count`-th BLMPOP on its inbox. */
    blmpop(count: number) {
      if (registered && blocked >= count) return Promise.resolve();
      return within(new Promise<void>((resolve) => (waiter = { count, resolve })), 10_000, `BLMPOP number ${count}`);
    },
    /** How many entries wait in the worker's inbox. */
    inboxLength: () => direct.llen(inbox),
    /** Every run completed and ran once; those in `atFirstAttempt` (all by default) at their first attempt. */
    async ranOnceEach(all: TaskRun<unknown>[], atFirstAttempt = all) {
      for (const run of all) await run.result({ timeout: '20s' });
      for (const run of all) assert.equal(runs.get(run.id), 1, `task ${run.id} ran once`);
      for (const run of atFirstAttempt) assert.equal((await run.status()).attempts, 1, `task ${run.id} ran at its first attempt`);
    },
    async close() {
      monitor.destroy();
      await worker.close();
      await workerApp.close();
      await producer.close();
    },
  };
}

describe('Redis: a worker connection lost while Redis handed it tasks', () => {
  it('a BLMPOP whose reply was lost: the tasks it popped run at once, at their first attempt', async () => {
    let lost!: Promise<void>;
    // The worker's first BLMPOP pops the task below; its reply is dropped with the connection.
    const w = await world('', () => (lost = proxy.dropReplyTo('BLMPOP')));
    try {
      await w.blmpop(1);
      const popped = await w.producer.enqueue('count', { n: 1 });
      await lost;
      assert.equal(await w.inboxLength(), 0, 'the task left the inbox in the lost reply');
      assert.equal((await popped.status()).state, 'active', 'handed to the worker');
      const later = await w.producer.enqueue('count', { n: 2 });
      await w.ranOnceEach([popped, later]);
    } finally {
      await w.close();
    }
  });

  it('connections gone silent, Redis still holding them: the worker reconnects, what Redis popped into the dead one runs at its first attempt, and events are heard again', async () => {
    const w = await world('&socket_timeout=4');
    // The worker's own heartbeats (every 2 s), as its app hears them.
    let silenced = false;
    let heardAgain: () => void = () => undefined;
    const beatAfterSilence = new Promise<void>((resolve) => (heardAgain = resolve));
    const off = w.workerApp.on('worker.heartbeat', () => {
      if (silenced) heardAgain();
    });
    try {
      await w.workerApp.subscribed();
      const first = await w.producer.enqueue('count', { n: 0 });
      await first.result({ timeout: '10s' });
      await w.blmpop(2); // Waiting again after the first task.
      assert.ok(proxy.silenceAll() >= 3, 'the worker has a command, a subscriber and a blocking connection');
      silenced = true;
      const popped = await w.producer.enqueue('count', { n: 1 });
      assert.equal(await w.inboxLength(), 0, 'popped by the silenced BLMPOP');
      // Handed over while the worker is cut off: they wait in its inbox, unless its registration lapses
      // first and a rescue returns them to the queue (a second attempt, rightly).
      const later = await w.producer.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ task: 'count', input: { n: 2 + n } })));
      await w.ranOnceEach([first, popped, ...later], [first, popped]);

      // The worker's app hears events again: its subscriber, silent too (nothing it received since came
      // through), was replaced.
      await within(beatAfterSilence, 20_000, "the worker's app hearing a heartbeat again");
    } finally {
      off();
      await w.close();
    }
  });
});

describe('Redis Cluster: the shard subscriber connections gone silent', () => {
  it('are noticed and replaced: the app hears events again', async () => {
    // Every client connection goes through a proxy; silencing them all leaves Redis holding them open.
    const cluster = await startRedisCluster({ proxied: true });
    const app = new Celeriac({
      broker: `${cluster.url}?prefix=silent-${randomUUID().slice(0, 8)}&socket_timeout=2`,
      logger: createLogger({ level: 'silent' }),
    });
    const worker = app.worker({ concurrency: 1, handleSignals: false });
    // The worker's heartbeats (every 2 s), as its app hears them.
    let silenced = false;
    let heardBefore: () => void = () => undefined;
    let heardAfter: () => void = () => undefined;
    const before = new Promise<void>((resolve) => (heardBefore = resolve));
    const after = new Promise<void>((resolve) => (heardAfter = resolve));
    const off = app.on('worker.heartbeat', () => (silenced ? heardAfter() : heardBefore()));
    try {
      await worker.start();
      await app.subscribed();
      await within(before, 10_000, 'a heartbeat before the silence');
      const silencedCount = cluster.proxies.reduce((sum, proxy) => sum + proxy.silenceAll(), 0);
      silenced = true;
      assert.ok(silencedCount >= 3, `the app has command, subscriber and blocking connections (${silencedCount} silenced)`);
      // The worker's own connections time out and reconnect; its heartbeats are published again. Only a
      // new subscriber connection hears them: the silenced one never will.
      await within(after, 20_000, 'a heartbeat heard after the silence');
    } finally {
      off();
      await worker.close();
      await app.close();
      await cluster.stop();
    }
  });
});

describe('Redis Sentinel: a sentinel that accepts connections and never answers', () => {
  it('is given up for the next sentinel, which names the master', async () => {
    const group = await startRedisSentinel();
    // Listed first, so asked first: it takes the connection, reads what is sent, and never answers.
    const held = new Set<net.Socket>();
    const hung = net.createServer((socket) => void held.add(socket.on('data', () => undefined)));
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    const hungPort = (hung.address() as net.AddressInfo).port;
    const url = group.url.replace('redis+sentinel://', `redis+sentinel://127.0.0.1:${hungPort},`);
    const app = new Celeriac({ broker: `${url}?prefix=hung-${randomUUID().slice(0, 8)}`, logger: createLogger({ level: 'silent' }) });
    try {
      const run = await app.enqueue('anything', { n: 1 });
      assert.equal((await app.getTask(run.id))?.state, 'queued');
      assert.ok(held.size > 0, 'the hung sentinel was asked first');
    } finally {
      await app.close();
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => hung.close(() => resolve()));
      await group.stop();
    }
  });
});
