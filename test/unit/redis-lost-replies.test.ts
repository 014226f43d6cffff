// A command whose reply is lost: the connection drops after Redis ran it. ioredis reconnects and sends
// the command again (autoResendUnfulfilledCommands), so every script must be safe to run twice with the
// same arguments: a task enqueued by a call whose reply was lost runs once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import type { Settlement } from '../../src/broker/broker.js';
import { Celeriac, connectBroker, createLogger } from '../../src/index.js';
import { newTask } from '../conformance/suite/records.js';
import { toStoredId } from '../../src/brokers/redis/ids.js';
import { recordApp } from '../support/events.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startReplyDroppingProxy, type ReplyDroppingProxy } from '../support/reply-dropping-proxy.js';

let server: RedisServer;
let proxy: ReplyDroppingProxy;
before(async () => {
  server = await startRedisServer();
  proxy = await startReplyDroppingProxy(server.port);
});
after(async () => {
  await proxy.close();
  await server.stop();
});

/** A producer through the proxy, a worker (concurrency 1) straight to Redis, and each task's runs. */
async function world() {
  const prefix = `lost-${randomUUID().slice(0, 8)}`;
  const runs = new Map<string, number>();
  const logger = createLogger({ level: 'silent' });
  const workerApp = new Celeriac({ broker: `${server.url}?prefix=${prefix}`, logger });
  workerApp.task({ name: 'count', run: (_input: unknown, ctx) => void runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1) });
  const worker = workerApp.worker({ concurrency: 1, handleSignals: false });
  const producer = new Celeriac({ broker: `${proxy.url}?prefix=${prefix}`, logger });
  await producer.broker();
  return {
    runs,
    worker,
    producer,
    /** How many entries the default queue's lists hold. */
    async queuedEntries() {
      const redis = new Redis(server.port);
      try {
        const lengths = await Promise.all(Array.from({ length: 16 }, (_, p) => redis.llen(`{${prefix}:default}:queued:${p}`)));
        return lengths.reduce((sum, n) => sum + n, 0);
      } finally {
        redis.disconnect();
      }
    },
    /**
     * Enqueues a last task straight to Redis and waits for it: the worker takes one task at a time in
     * the order they reached it, so any second run of an earlier task has happened by then.
     */
    async drain() {
      const last = await workerApp.enqueue('count', {});
      await last.result({ timeout: '10s' });
    },
    async close() {
      await worker.close();
      await workerApp.close();
      await producer.close();
    },
  };
}

/**
 * A producer straight to Redis, and a started worker (concurrency 1) through the proxy whose task 'flaky'
 * fails its first attempt (a retry settlement, with `retry`) and completes its second; the warnings logged.
 */
async function flakyWorld() {
  const prefix = `lost-${randomUUID().slice(0, 8)}`;
  const warnings: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (text: string) => void warnings.push((JSON.parse(text) as { msg: string }).msg) });
  const producer = new Celeriac({ broker: `${server.url}?prefix=${prefix}`, logger });
  const workerApp = new Celeriac({ broker: `${proxy.url}?prefix=${prefix}`, logger });
  const retry = { retry: { maxRetries: 1, backoff: 'fixed', delay: 10, jitter: false } } as const;
  workerApp.task({
    name: 'flaky',
    run: (_input: unknown, ctx) => {
      if (ctx.attempt === 1) throw new Error('first attempt fails');
      return 'done';
    },
  });
  const worker = workerApp.worker({ concurrency: 1, handleSignals: false, leaseTime: '10m' });
  await workerApp.broker(); // Connected (and the library loaded) before a trap is set.
  await worker.start();
  const close = async () => {
    await worker.close();
    await workerApp.close();
    await producer.close();
  };
  return { warnings, producer, worker, retry, close };
}

describe('Redis: a reply lost after the command ran', () => {
  for (const waiting of [true, false]) {
    it(`a single enqueue runs its task once (${waiting ? 'handed to an idle worker' : 'queued, no worker yet'})`, async () => {
      const w = await world();
      try {
        if (waiting) await w.worker.start();
        const lost = proxy.dropReplyTo('enqueue_one');
        const run = await w.producer.enqueue('count', { n: 1 });
        await lost;
        if (!waiting) {
          assert.equal(await w.queuedEntries(), 1, 'queued once');
          await w.worker.start();
        }
        await run.result({ timeout: '10s' });
        await w.drain();
        assert.equal(w.runs.get(run.id), 1);
      } finally {
        await w.close();
      }
    });
  }

  it("a single enqueue handed to the producer's own worker runs its task once, without waiting for its lease", async () => {
    const prefix = `lost-${randomUUID().slice(0, 8)}`;
    const app = new Celeriac({ broker: `${proxy.url}?prefix=${prefix}`, logger: createLogger({ level: 'silent' }) });
    const runs = new Map<string, number>();
    app.task({ name: 'count', run: (_input: unknown, ctx) => void runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1) });
    // A lease far longer than the wait below: the task must come from the retried call, not from rescue.
    const worker = app.worker({ concurrency: 1, handleSignals: false, leaseTime: '10m' });
    try {
      await worker.start();
      const lost = proxy.dropReplyTo('enqueue_one');
      const run = await app.enqueue('count', { n: 1 });
      await lost;
      await run.result({ timeout: '10s' });
      const last = await app.enqueue('count', {});
      await last.result({ timeout: '10s' });
      assert.equal(runs.get(run.id), 1);
      const info = await app.getTask(run.id);
      assert.equal(info?.attempts, 1, 'handed over once, not rescued');
    } finally {
      await worker.close();
      await app.close();
    }
  });

  it('a bulk enqueue runs each task once', async () => {
    const w = await world();
    try {
      await w.worker.start();
      const lost = proxy.dropReplyTo('_enqueue');
      const runs = await w.producer.enqueueMany(Array.from({ length: 20 }, (_, n) => ({ task: 'count', input: { n } })));
      await lost;
      for (const run of runs) await run.result({ timeout: '10s' });
      await w.drain();
      assert.deepEqual(
        runs.map((run) => w.runs.get(run.id)),
        runs.map(() => 1),
      );
    } finally {
      await w.close();
    }
  });

  it('a cancel whose reply was lost reports the task cancelled', async () => {
    const w = await world();
    try {
      const run = await w.producer.enqueue('count', { n: 1 });
      const lost = proxy.dropReplyTo('_cancel');
      assert.equal(await run.cancel(), 'cancelled');
      await lost;
      assert.equal((await w.producer.getTask(run.id))?.state, 'cancelled');
    } finally {
      await w.close();
    }
  });

  it('a purge whose reply was lost reports, sent again, the tasks its first run deleted', async () => {
    const w = await world();
    try {
      await w.producer.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ task: 'count', input: { n } })));
      const lost = proxy.dropReplyTo('_purge');
      assert.equal(await w.producer.purge('default'), 5);
      await lost;
      assert.equal((await w.producer.stats()).queues.default?.counts.queued ?? 0, 0);
    } finally {
      await w.close();
    }
  });

  it('a progress update and a heartbeat whose reply was lost publish their event once', async () => {
    const prefix = `lost-${randomUUID().slice(0, 8)}`;
    const logger = createLogger({ level: 'silent' });
    const listener = new Celeriac({ broker: `${server.url}?prefix=${prefix}`, logger });
    const workerApp = new Celeriac({ broker: `${proxy.url}?prefix=${prefix}`, logger });
    const events = await recordApp(listener);
    workerApp.task({
      name: 'report',
      run: async (_input: unknown, ctx) => {
        await ctx.progress(50, { step: 'half' });
        await ctx.progress(100);
      },
    });
    const worker = workerApp.worker({ concurrency: 1, handleSignals: false, heartbeatInterval: '100ms' });
    try {
      await workerApp.broker(); // Connected (and the library loaded) before the traps are set.
      const lostBeat = proxy.dropReplyTo('_heartbeat');
      await worker.start();
      await lostBeat;
      const lostProgress = proxy.dropReplyTo('_progress');
      const run = await listener.enqueue('report', {});
      await lostProgress;
      await run.result({ timeout: '10s' });
      await events.waitForTask(run.id, 'task.completed');
      // Two more heartbeats after the lost one: the one sent again was published (or not) before them.
      const beats = () => events.matching((event) => event.type === 'worker.heartbeat');
      const seen = beats().length;
      await events.waitFor((event) => event.type === 'worker.heartbeat', seen + 2);
      const progress = events.ofTask(run.id).filter((event) => event.type === 'task.progress');
      assert.deepEqual(
        progress.map((event) => (event.type === 'task.progress' ? event.percent : -1)),
        [50, 100],
      );
      const times = beats().map((event) => event.timestamp);
      assert.equal(new Set(times).size, times.length, 'no heartbeat published twice');
    } finally {
      events.stop();
      await worker.close();
      await workerApp.close();
      await listener.close();
    }
  });

  it("a worker's worker.online and worker.offline whose reply was lost are published once", async () => {
    const prefix = `lost-${randomUUID().slice(0, 8)}`;
    const logger = createLogger({ level: 'silent' });
    const listener = new Celeriac({ broker: `${server.url}?prefix=${prefix}`, logger });
    const workerApp = new Celeriac({ broker: `${proxy.url}?prefix=${prefix}`, logger });
    const events = await recordApp(listener);
    workerApp.task({ name: 'noop', run: () => undefined });
    const worker = workerApp.worker({ concurrency: 1, handleSignals: false });
    try {
      await workerApp.broker(); // Connected (and the library loaded) before the trap is set.
      const lostOnline = proxy.dropReplyTo('_publish');
      await worker.start(); // After the call sent again was answered.
      await lostOnline;
      const lostOffline = proxy.dropReplyTo('_publish');
      await worker.close();
      await lostOffline;
      // Published after both calls (and on the same channel): heard after anything they published.
      const last = await listener.enqueue('noop', {});
      await events.waitForTask(last.id, 'task.queued');
      const of = (type: string) => events.matching((event) => event.type === type && 'workerId' in event && event.workerId === worker.id);
      assert.equal(of('worker.online').length, 1);
      assert.equal(of('worker.offline').length, 1);
    } finally {
      events.stop();
      await worker.close();
      await workerApp.close();
      await listener.close();
    }
  });

  it('a settle whose reply was lost reports, sent again, that it stored the outcome: no lease lost is warned of', async () => {
    // The first task loses its retry's reply, the second its first settlement's (a retry's too, or with
    // it a completion's: one call stores what the worker finished in one turn).
    const { warnings, producer, retry, close } = await flakyWorld();
    try {
      const lostRetry = proxy.dropReplyTo('_settle');
      const run = await producer.enqueue('flaky', {}, retry);
      await lostRetry;
      assert.equal(await run.result({ timeout: '10s' }), 'done');
      assert.equal((await run.status()).attempts, 2);
      const lostComplete = proxy.dropReplyTo('_settle');
      const second = await producer.enqueue('flaky', {}, retry);
      await lostComplete;
      assert.equal(await second.result({ timeout: '10s' }), 'done');
      assert.deepEqual(warnings.filter((msg) => /lease lost/.test(msg)), []);
    } finally {
      await close();
    }
  });

  it('a retry whose reply was lost, sent again after its task was promoted, reports that it stored the outcome', async () => {
    const { warnings, producer, retry, close } = await flakyWorld();
    try {
      const lostRetry = proxy.dropReplyTo('_settle', { thenHold: true });
      const run = await producer.enqueue('flaky', {}, retry);
      await lostRetry;
      // The worker's connection is held at the proxy: the retry is promoted before its settle comes again.
      const broker = await producer.broker();
      assert.equal((await broker.maintain(Date.now() + 60_000)).promoted, 1);
      assert.equal((await run.status()).state, 'queued');
      proxy.releaseHeld();
      assert.equal(await run.result({ timeout: '10s' }), 'done');
      const info = await run.status();
      assert.equal(info.attempts, 2);
      assert.deepEqual(info.errors.map((error) => [error.message, error.attempt]), [['first attempt fails', 1]], 'recorded once');
      assert.deepEqual(warnings.filter((msg) => /lease lost/.test(msg)), []);
    } finally {
      proxy.releaseHeld();
      await close();
    }
  });

  it('a retry settlement run again reports it stored, even once its task was promoted and leased again; another is refused', async () => {
    const broker = await connectBroker(`${server.url}?prefix=lost-${randomUUID().slice(0, 8)}`);
    try {
      const task = newTask();
      await broker.enqueue([task]);
      const t0 = Date.now();
      const [first] = await broker.lease({ workerId: 'w1', queues: ['default'], limit: 1, leaseMs: 60_000, now: t0 });
      assert.equal(first?.attempt, 1);
      const retry: Settlement = { kind: 'retry', taskId: task.id, workerId: 'w1', attempt: 1, now: t0 + 10, error: { type: 'Error', message: 'boom' }, runAt: t0 + 20 };
      assert.deepEqual(await broker.settle([retry]), [true]);
      assert.equal((await broker.maintain(t0 + 30)).promoted, 1);
      assert.deepEqual(await broker.settle([retry]), [true], 'promoted since: the same call, sent again');
      const [second] = await broker.lease({ workerId: 'w1', queues: ['default'], limit: 1, leaseMs: 60_000, now: t0 + 40 });
      assert.equal(second?.attempt, 2);
      assert.deepEqual(await broker.settle([retry]), [true], 'leased again since, even by the same worker');
      assert.deepEqual(await broker.settle([{ ...retry, now: t0 + 50 }]), [false], 'another settlement of the first attempt: refused');
      const info = await broker.getTask(task.id);
      assert.equal(info?.state, 'active', 'the second attempt goes on');
      assert.equal(info?.attempts, 2);
      assert.deepEqual(info?.errors.map((error) => error.attempt), [1], 'the retry recorded once');
      assert.deepEqual(await broker.settle([{ ...retry, attempt: 2, now: t0 + 60, runAt: t0 + 70 }]), [true]);
      assert.deepEqual(await broker.settle([retry]), [true], 'the task retrying again, in its second attempt');
      assert.deepEqual((await broker.getTask(task.id))?.errors.map((error) => error.attempt), [1, 2]);
    } finally {
      await broker.close();
    }
  });

  it("two lease calls of one worker sent again after both ran (both in flight when the connection dropped) each return what they leased", async () => {
    const prefix = `lost-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(`${server.url}?prefix=${prefix}`);
    const raw = new Redis(server.port);
    // The lease calls as the broker sends them, to send them again as ioredis would after a reconnection.
    const sent: Array<Array<string | Buffer | number>> = [];
    const sendCommand = Redis.prototype.sendCommand;
    Redis.prototype.sendCommand = function (this: Redis, command, stream) {
      if (command.name === 'fcall' && String(command.args[0]).endsWith('_lease')) sent.push([...command.args] as Array<string | Buffer | number>);
      return sendCommand.call(this, command, stream);
    };
    try {
      const tasks = Array.from({ length: 6 }, () => newTask());
      await broker.enqueue(tasks);
      const now = Date.now();
      const request = { workerId: 'w1', queues: ['default'], limit: 2, leaseMs: 60_000, now };
      const [first, second] = await Promise.all([broker.lease(request), broker.lease(request)]);
      Redis.prototype.sendCommand = sendCommand;
      assert.equal(sent.length, 2);
      const ids = (reply: unknown) => (JSON.parse(String(reply)) as unknown[]).filter((_, i) => i % 7 === 0);
      const stored = (leased: Array<{ id: string }>) => leased.map((task) => toStoredId(task.id));
      assert.deepEqual(ids(await raw.call('fcall', ...sent[0]!)), stored(first), 'the first call, sent again');
      assert.deepEqual(ids(await raw.call('fcall', ...sent[1]!)), stored(second), 'the second call, sent again');
      const rest = await broker.lease({ ...request, workerId: 'w2', limit: 10 });
      assert.deepEqual(rest.map((task) => task.id), tasks.slice(4).map((task) => task.id), 'nothing more was leased');
      await broker.enqueue([newTask()]);
      assert.equal((await broker.lease(request)).length, 1);
      const record = await raw.get(`{${prefix}:default}:active:call:w1`);
      assert.equal(record?.split('\n').length, 2, "the record keeps the worker's last two calls");
    } finally {
      Redis.prototype.sendCommand = sendCommand;
      raw.disconnect();
      await broker.close();
    }
  });

  for (const [script, marker] of [
    ['lease', '_lease'],
    ['settle', '_settle'],
  ] as const) {
    it(`a worker whose ${script} reply was lost runs each task once`, async () => {
      const prefix = `lost-${randomUUID().slice(0, 8)}`;
      const logger = createLogger({ level: 'silent' });
      const producer = new Celeriac({ broker: `${server.url}?prefix=${prefix}`, logger });
      const workerApp = new Celeriac({ broker: `${proxy.url}?prefix=${prefix}`, logger });
      const runs = new Map<string, number>();
      workerApp.task({ name: 'count', run: (_input: unknown, ctx) => void runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1) });
      // A lease far longer than the waits below: the tasks must come from the call sent again, not from
      // rescue once the lease expired.
      const worker = workerApp.worker({ concurrency: 1, handleSignals: false, leaseTime: '10m' });
      try {
        const queued = await producer.enqueueMany(Array.from({ length: 5 }, (_, n) => ({ task: 'count', input: { n } })));
        await workerApp.broker(); // Connected (and the library loaded) before the trap is set.
        const lost = proxy.dropReplyTo(marker);
        await worker.start();
        await lost;
        for (const run of queued) await run.result({ timeout: '10s' });
        const last = await producer.enqueue('count', {});
        await last.result({ timeout: '10s' });
        assert.deepEqual(
          queued.map((run) => runs.get(run.id)),
          queued.map(() => 1),
        );
        const attempts = await Promise.all(queued.map(async (run) => (await producer.getTask(run.id))?.attempts));
        assert.deepEqual(attempts, queued.map(() => 1), 'each ran at its first attempt');
      } finally {
        await worker.close();
        await workerApp.close();
        await producer.close();
      }
    });
  }
});
