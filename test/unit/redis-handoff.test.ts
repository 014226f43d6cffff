// Hand-off on Redis, as a worker uses it: an idle worker of one queue receives tasks through its inbox
// instead of leasing each, closing ends its registration, and the maintainer returns what a killed worker
// left unread in its inbox and clears its registration.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { LeasedTask } from '../../src/broker/broker.js';
import { celeriacLibrary } from '../../src/brokers/redis/scripts.js';
import { Celeriac, connectBroker, createLogger, type Broker } from '../../src/index.js';
import { newTask } from '../conformance/suite/records.js';
import { deferred } from '../support/deferred.js';
import { openMonitor } from '../support/monitor.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { within } from '../support/wait.js';

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

/** The commands sent (not run by scripts) while `action` runs: names, and a script call's function. */
async function commandsDuring(redis: Redis, action: () => Promise<unknown>): Promise<string[]> {
  const marker = `done-${randomUUID()}`;
  const sent: string[] = [];
  let ended: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (ended = resolve));
  const monitor = await openMonitor(server.port, ({ source, args: [command, ...args] }) => {
    if (source === 'lua') return;
    if (command === 'echo' && args[0] === marker) ended();
    else sent.push(command === 'fcall' ? `fcall ${args[0]!.replace(/^celeriac_[0-9a-f]+_/, '')}` : command!);
  });
  try {
    await action();
    await redis.echo(marker); // MONITOR shows commands in order: this one comes after the action's.
    await within(done, 10_000, 'the ECHO after the action in MONITOR');
    return sent;
  } finally {
    monitor.destroy();
  }
}

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

  it('rescue returns the tasks left unread in the inbox of a lapsed registration, and deletes it', async () => {
    const prefix = `handoff-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(`${server.url}?prefix=${prefix}`);
    const redis = new Redis(server.port);
    const idle = `{${prefix}:default}:idle`;
    try {
      const now = Date.now();
      const request = { queues: ['default'], limit: 5, leaseMs: 30_000, now };
      // 'killed' registers, is handed a task, and never reads it (a worker killed while idle).
      await broker.lease({ ...request, workerId: 'killed', handoffUntil: now + 10_000 });
      const handed = newTask();
      await broker.enqueue([handed]);
      assert.equal((await broker.getTask(handed.id))?.workerId, 'killed', 'handed to the registered worker');
      assert.equal(await redis.llen(`${idle}:killed`), 1);
      await broker.lease({ ...request, workerId: 'alive', handoffUntil: now + 60_000 });
      await redis.sadd(`{${prefix}}:queues`, 'default');

      assert.equal((await broker.maintain(now + 500)).rescued, 0, 'nothing while the registration is live');
      assert.equal((await broker.getTask(handed.id))?.state, 'active');

      assert.equal((await broker.maintain(now + 11_000)).rescued, 1, 'returned once the registration lapsed, long before its lease');
      const info = (await broker.getTask(handed.id))!;
      assert.equal(info.state, 'queued');
      assert.equal(info.workerId, undefined);
      assert.equal(info.errors.length, 1);
      assert.equal(info.errors[0]!.type, 'WorkerLostError');
      assert.match(info.errors[0]!.message, /worker killed stopped waiting for tasks/);
      assert.deepEqual(await redis.hkeys(idle), ['alive'], 'the lapsed registration is deleted, the live one kept');
      assert.equal(await redis.exists(`${idle}:killed`), 0, 'and its inbox');
      assert.equal(await redis.zscore(`{${prefix}:default}:active`, handed.id), null, 'no lease left behind');

      const [leased] = await broker.lease({ ...request, workerId: 'alive', limit: 1, now: Date.now() });
      assert.equal(leased?.id, handed.id, 'a live worker leases it');
      assert.equal(leased.attempt, 2);
    } finally {
      redis.disconnect();
      await broker.close();
    }
  });

  it('rescue leaves what a worker received from its inbox, and keeps a registration until rescue looks at its inbox', async () => {
    const prefix = `handoff-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(`${server.url}?prefix=${prefix}`);
    const redis = new Redis(server.port);
    const idle = `{${prefix}:default}:idle`;
    const inbox = await broker.openInbox!('reader', ['default']);
    assert.ok(inbox);
    try {
      const now = Date.now();
      const request = { queues: ['default'], limit: 5, leaseMs: 30_000, now };
      await redis.sadd(`{${prefix}}:queues`, 'default');
      await broker.lease({ ...request, workerId: 'reader', handoffUntil: now + 60_000 });
      const received = newTask();
      await broker.enqueue([received]);
      const taken = await inbox.take();
      assert.deepEqual(taken?.map((task) => task.id), [received.id]);
      const unread = newTask();
      await broker.enqueue([unread]);
      // The registration lapses (a lease that registers with a time already past) with one entry unread.
      await broker.lease({ ...request, workerId: 'reader', handoffUntil: now - 1 });
      const later = newTask();
      await broker.enqueue([later]);
      assert.equal((await broker.getTask(later.id))?.state, 'queued', 'nothing is handed to a lapsed registration');
      assert.equal(await redis.hexists(idle, 'reader'), 1, 'the enqueue kept it: its inbox holds a task');

      assert.equal((await broker.maintain(now)).rescued, 1);
      assert.equal((await broker.getTask(received.id))?.state, 'active', 'what the worker received stays its own');
      assert.equal((await broker.getTask(unread.id))?.state, 'queued');
      assert.equal(await redis.hexists(idle, 'reader'), 0);
    } finally {
      inbox.dispose();
      redis.disconnect();
      await broker.close();
    }
  });
  it('after its blocking connection is replaced, an inbox delivers what was popped for it and never received, once', async () => {
    const prefix = `handoff-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(`${server.url}?prefix=${prefix}`);
    // Another process's enqueues: this broker's own would hand the tasks to its worker in memory.
    const producer = await connectBroker(`${server.url}?prefix=${prefix}`);
    const redis = new Redis(server.port);
    const inboxKey = `{${prefix}:default}:idle:reader`;
    const delivered: string[][] = [];
    const unconfirmed: Array<boolean | undefined> = [];
    let reclaimed: () => void = () => undefined;
    const deliveredOnce = new Promise<void>((resolve) => (reclaimed = resolve));
    const held = newTask();
    const inbox = await broker.openInbox!(
      'reader',
      ['default'],
      (tasks) => {
        delivered.push(tasks.map((task) => task.id));
        unconfirmed.push(...tasks.map((task) => task.unconfirmed));
        reclaimed();
      },
      () => [held.id],
    );
    assert.ok(inbox);
    try {
      const now = Date.now();
      await redis.sadd(`{${prefix}}:queues`, 'default');
      await broker.lease({ workerId: 'reader', queues: ['default'], limit: 5, leaseMs: 30_000, now, handoffUntil: now + 60_000 });
      const lost = newTask();
      const waiting = newTask();
      await producer.enqueue([held]);
      await producer.enqueue([lost]);
      // Popped, as by a BLMPOP whose reply never came; `held` the worker holds; `waiting` stays in the inbox.
      const [heldEntry, lostEntry] = (await redis.lpop(inboxKey, 2)) ?? [];
      assert.ok(heldEntry && lostEntry);
      await producer.enqueue([waiting]);
      // Every plain connection (the brokers' command and blocking ones) is closed; they reconnect.
      assert.ok(Number(await redis.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')) >= 2);
      await within(deliveredOnce, 10_000, 'the reclaimed task');
      assert.deepEqual(delivered, [[lost.id]], 'only the task neither held nor in the inbox');
      assert.deepEqual(unconfirmed, [true], 'as unconfirmed: the worker may have received it since it said what it held');

      // Its entry arrives after all (a reply delayed, not lost): skipped; what waits in the inbox is not.
      await redis.rpush(inboxKey, lostEntry);
      const taken = await inbox.take();
      assert.deepEqual(taken?.map((task) => task.id), [waiting.id]);
      assert.deepEqual(delivered, [[lost.id]]);
    } finally {
      inbox.dispose();
      redis.disconnect();
      await producer.close();
      await broker.close();
    }
  });

  it("a lease whose reply waited for another queue's call while a reclaim delivered its tasks returns them unconfirmed", async () => {
    const prefix = `handoff-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(`${server.url}?prefix=${prefix}`);
    const reclaimed: LeasedTask[] = [];
    const reclaimedOnce = deferred();
    const inbox = await broker.openInbox!(
      'w',
      ['a'],
      (tasks) => {
        reclaimed.push(...tasks);
        reclaimedOnce.resolve();
      },
      () => [],
    );
    assert.ok(inbox);
    // Queue b's lease call is held up (as a call sent again after its connection dropped would be), so
    // queue a's reply, with its task, waits in memory for it.
    const lease = celeriacLibrary().functions.lease;
    const client = (broker as unknown as { ctx: { client: { fcall: (...args: unknown[]) => Promise<unknown> } } }).ctx.client;
    const fcall = client.fcall.bind(client);
    const leasedA = deferred();
    const releaseB = deferred();
    client.fcall = async (...args: unknown[]) => {
      const queue = args[0] === lease ? String(args[2]).match(/:(a|b)\}:queued$/)?.[1] : undefined;
      if (queue === 'b') await releaseB.promise;
      const reply = await fcall(...args);
      if (queue === 'a') leasedA.resolve();
      return reply;
    };
    try {
      const task = newTask({ queue: 'a' });
      const other = newTask({ queue: 'b' });
      await broker.enqueue([task]);
      await broker.enqueue([other]);
      const leasing = broker.lease({ workerId: 'w', queues: ['a', 'b'], limit: 5, leaseMs: 30_000, now: Date.now() });
      await leasedA.promise;
      // Meanwhile the inbox's connection is replaced: its reclaim finds the task active for the worker and
      // not held, and delivers it.
      (inbox as unknown as { blocking: { emit(event: string): void } }).blocking.emit('ready');
      await within(reclaimedOnce.promise, 10_000, 'the reclaim');
      releaseB.resolve();
      const leased = await leasing;
      assert.deepEqual(reclaimed.map((t) => [t.id, t.unconfirmed]), [[task.id, true]]);
      assert.deepEqual(leased.map((t) => [t.id, t.unconfirmed]), [[task.id, true], [other.id, true]], 'the worker must confirm them before running them');

      // Without a reclaim meanwhile, a lease is taken as it is.
      const control = newTask({ queue: 'a' });
      await broker.enqueue([control]);
      const plain = await broker.lease({ workerId: 'w', queues: ['a', 'b'], limit: 5, leaseMs: 30_000, now: Date.now() });
      assert.deepEqual(plain.map((t) => [t.id, t.unconfirmed]), [[control.id, undefined]]);
    } finally {
      releaseB.resolve();
      inbox.dispose();
      await broker.close();
    }
  });

  it('a lease of several queues with an inbox: one call per queue when all are empty, by priority across them when not', async () => {
    const prefix = `handoff-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(`${server.url}?prefix=${prefix}`);
    const redis = new Redis(server.port);
    const idle = (queue: string) => `{${prefix}:${queue}}:idle`;
    const request = (limit: number) => ({ workerId: 'w', queues: ['a', 'b'], limit, leaseMs: 30_000, now: Date.now(), handoffUntil: Date.now() + 60_000 });
    try {
      const low = [newTask({ queue: 'a', priority: 1 }), newTask({ queue: 'a', priority: 1 })];
      const high = [newTask({ queue: 'b', priority: 9 }), newTask({ queue: 'b', priority: 9 })];
      await broker.enqueue([...low, ...high]);

      const first = await broker.lease(request(3));
      assert.deepEqual(first.map((task) => task.id), [high[0]!.id, high[1]!.id, low[0]!.id], 'the highest priority first, across queues');
      assert.deepEqual([await redis.hexists(idle('a'), 'w'), await redis.hexists(idle('b'), 'w')], [0, 0], 'a full lease registers nowhere');

      const second = await broker.lease(request(3));
      assert.deepEqual(second.map((task) => task.id), [low[1]!.id]);
      assert.match((await redis.hget(idle('a'), 'w'))!, /^2\|/, 'registered in a with the room left');
      assert.match((await redis.hget(idle('b'), 'w'))!, /^2\|/, 'and in b');

      const sent = await commandsDuring(redis, () => broker.lease(request(3)));
      assert.deepEqual(sent, ['fcall lease', 'fcall lease'], 'an idle poll: one script call per queue, nothing else');
      assert.match((await redis.hget(idle('a'), 'w'))!, /^3\|/, 'every registration renewed with the whole room');
      assert.match((await redis.hget(idle('b'), 'w'))!, /^3\|/);
    } finally {
      redis.disconnect();
      await broker.close();
    }
  });
  it('a worker of several queues that hand-offs filled ends its registrations, and registers again once it has room', async () => {
    const prefix = `handoff-${randomUUID().slice(0, 8)}`;
    const url = `${server.url}?prefix=${prefix}`;
    const app = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    app.task({ name: 'gated', run: async (input: { n: number }) => (await gate, input.n) });
    const broker = await app.broker();
    let registeredFirst!: () => void;
    const firstLease = new Promise<void>((resolve) => (registeredFirst = resolve));
    let ended!: () => void;
    const registrationsEnded = new Promise<void>((resolve) => (ended = resolve));
    const lease = broker.lease.bind(broker);
    broker.lease = async (request) => {
      const leased = await lease(request);
      if (request.handoffUntil !== undefined) (request.limit === 0 ? ended : registeredFirst)();
      return leased;
    };
    // A registration's room is at most half of what the worker holds (LeaseBudget): concurrency 2 registers
    // room 1 in each of three queues, which together could hand it 3.
    const queues = ['a', 'b', 'c'];
    const worker = app.worker({ queues, concurrency: 2, prefetch: 0, handleSignals: false, pollInterval: '1h' });
    const other = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    const redis = new Redis(server.port);
    const registered = () => Promise.all(queues.map((queue) => redis.hexists(`{${prefix}:${queue}}:idle`, worker.id)));
    try {
      await worker.start();
      await within(firstLease, 10_000, "the worker's first lease");
      assert.deepEqual(await registered(), [1, 1, 1], 'idle: registered in every queue');
      const first = [await other.enqueue('gated', { n: 1 }, { queue: 'a' }), await other.enqueue('gated', { n: 2 }, { queue: 'b' })];
      for (const run of first) assert.equal((await run.status()).workerId, worker.id, 'handed to the idle worker');
      await within(registrationsEnded, 10_000, 'the lease of limit 0');
      assert.deepEqual(await registered(), [0, 0, 0], 'full: registered nowhere');
      const later = await other.enqueue('gated', { n: 3 }, { queue: 'c' });
      assert.equal((await later.status()).state, 'queued', 'queue c no longer hands tasks to the full worker');
      open();
      assert.deepEqual(await Promise.all([...first, later].map((run) => app.run(run.id).result({ timeout: '10s' }))), [1, 2, 3]);
      assert.equal((await later.status()).workerId, worker.id, 'leased once the worker had room');
    } finally {
      open();
      redis.disconnect();
      await worker.close();
      await other.close();
      await app.close();
    }
  });
});
