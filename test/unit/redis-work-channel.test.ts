// The work channel on Redis: a worker subscribes to what it acts on only (P:events:work), so a process
// that only runs workers does not receive the whole event stream; the events channel is subscribed to
// once a listener needs it.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Celeriac, connectBroker, createLogger, type CeleriacEvent } from '../../src/index.js';
import { newTask } from '../conformance/suite/records.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { within } from '../support/wait.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

/** Subscriber counts of the events channel and the work channel. */
async function subscribers(redis: Redis, prefix: string): Promise<{ events: number; work: number }> {
  const reply = (await redis.call('PUBSUB', 'NUMSUB', `${prefix}:events`, `${prefix}:events:work`)) as Array<string | number>;
  return { events: Number(reply[1]), work: Number(reply[3]) };
}

describe('Redis work channel', () => {
  it('a process that only runs a worker subscribes to the work channel, not to the event stream', async () => {
    const prefix = `work-${randomUUID().slice(0, 8)}`;
    const url = `${server.url}?prefix=${prefix}`;
    const workerApp = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    workerApp.task({ name: 'work.echo', run: (input: { n: number }) => input.n });
    const worker = workerApp.worker({ handleSignals: false });
    const producer = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    const redis = new Redis(server.port);
    try {
      await worker.start();
      assert.deepEqual(await subscribers(redis, prefix), { events: 0, work: 1 });
      const run = await producer.enqueue('work.echo', { n: 7 });
      assert.equal(await run.result({ timeout: '5s' }), 7);
      assert.deepEqual(await subscribers(redis, prefix), { events: 1, work: 1 }, "the producer's result() subscribed to events");
    } finally {
      redis.disconnect();
      await worker.close();
      await workerApp.close();
      await producer.close();
    }
  });

  it('carries what a worker acts on: tasks waiting in a list, scheduled, retrying, revoked; not tasks handed over', async () => {
    const prefix = `work-${randomUUID().slice(0, 8)}`;
    const url = `${server.url}?prefix=${prefix}`;
    const listening = await connectBroker(url);
    const acting = await connectBroker(url);
    const redis = new Redis(server.port);
    const heard: Array<[string, string]> = [];
    let marker = '';
    let heardMarker!: () => void;
    const markerHeard = new Promise<void>((resolve) => (heardMarker = resolve));
    try {
      listening.subscribe(
        (events: CeleriacEvent[]) => {
          for (const event of events) {
            if (!('taskId' in event)) continue;
            heard.push([event.type, event.taskId]);
            if (event.taskId === marker) heardMarker();
          }
        },
        { types: ['task.queued', 'task.scheduled', 'task.retrying', 'task.revoked'], forWorker: true },
      );
      await listening.subscribed!();

      const now = Date.now();
      const [a] = await acting.enqueue([newTask()]);
      const [b] = await acting.enqueue([newTask({ runAt: now + 60_000 })]);
      const [leasedA] = await acting.lease({ workerId: 'w1', queues: ['default'], limit: 1, leaseMs: 30_000, now });
      assert.equal(leasedA?.id, a!.id);
      const retry = { kind: 'retry', taskId: a!.id, workerId: 'w1', now, runAt: now + 60_000, error: { type: 'Error', message: 'again' } } as const;
      assert.deepEqual(await acting.settle([retry]), [true]);
      const [c] = await acting.enqueue([newTask()]);
      await acting.lease({ workerId: 'w1', queues: ['default'], limit: 1, leaseMs: 30_000, now });
      assert.equal(await acting.cancel(c!.id, 'revoked', Date.now()), 'requested');

      // A worker waiting for hand-offs: tasks enqueued now are handed to it and need no worker woken, one
      // alone (enqueue_one.lua) or several at once (enqueue.lua).
      const inbox = await acting.openInbox!('w2', ['default']);
      assert.ok(inbox);
      const parkedAt = Date.now();
      assert.deepEqual(await acting.lease({ workerId: 'w2', queues: ['default'], limit: 5, leaseMs: 30_000, now: parkedAt, handoffUntil: parkedAt + 60_000 }), []);
      const [d] = await acting.enqueue([newTask()]);
      assert.deepEqual((await inbox.take())?.map((task) => task.id), [d!.id]);
      const both = (await acting.enqueue([newTask(), newTask()])).map((outcome) => outcome.id);
      assert.deepEqual((await inbox.take())?.map((task) => task.id), both);
      await inbox.close();
      inbox.dispose();
      // Published after everything above, by the same connection: once it is heard, so is all before it.
      const [e] = await acting.enqueue([newTask({ queue: 'other' })]);
      marker = e!.id;
      if (heard.some(([, id]) => id === marker)) heardMarker();
      await markerHeard;

      assert.deepEqual(heard, [
        ['task.queued', a!.id],
        ['task.scheduled', b!.id],
        ['task.retrying', a!.id],
        ['task.queued', c!.id],
        ['task.revoked', c!.id],
        ['task.queued', e!.id],
      ]);
      assert.equal((await subscribers(redis, prefix)).events, 0, 'nobody subscribed to the event stream');
    } finally {
      redis.disconnect();
      await listening.close();
      await acting.close();
    }
  });
  it('app.subscribed() resolves once listeners added with app.on() hear the events of other processes', async () => {
    const prefix = `work-${randomUUID().slice(0, 8)}`;
    const url = `${server.url}?prefix=${prefix}`;
    const listening = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    const other = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    const redis = new Redis(server.port);
    try {
      const queued: string[] = [];
      let heard!: () => void;
      const heardOne = new Promise<void>((resolve) => (heard = resolve));
      listening.on('task.queued', (event) => {
        queued.push(event.taskId);
        heard();
      });
      await listening.subscribed();
      assert.equal((await subscribers(redis, prefix)).events, 1, 'Redis has confirmed the subscription');
      const run = await other.enqueue('work.echo', { n: 1 });
      await within(heardOne, 10_000, "the other app's task.queued");
      assert.deepEqual(queued, [run.id]);
    } finally {
      redis.disconnect();
      await listening.close();
      await other.close();
    }
  });
});
