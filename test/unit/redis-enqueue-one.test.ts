// The single enqueue's own script (enqueue_one.lua) must store and publish exactly what the general one
// (enqueue.lua, used for several tasks at once) does: compared here field by field, entry by entry and
// event by event, for a task that joins the queue and for one handed to an idle worker.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { NewTask } from '../../src/broker/broker.js';
import { toStoredId } from '../../src/brokers/redis/ids.js';
import { newTaskId, timeOfTaskId } from '../../src/ids.js';
import { connectBroker, type Broker, type CeleriacEvent } from '../../src/index.js';
import { newTask } from '../conformance/suite/records.js';
import { recordBroker } from '../support/events.js';
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

/** A new task whose creation time is its id's (as the app makes them), so tasks made apart compare alike. */
function alike(overrides: Partial<NewTask>): NewTask {
  const id = newTaskId();
  return newTask({ ...overrides, id, createdAt: timeOfTaskId(id)! });
}

/** What a task's hash holds, with the times that depend on when it was stored replaced. */
async function storedHash(redis: Redis, prefix: string, id: string): Promise<Record<string, string>> {
  const hash = await redis.hgetall(`{${prefix}:default}:t:${toStoredId(id)}`);
  if (hash.started) hash.started = '<now>';
  return hash;
}

/** An event without what differs between two tasks stored one after the other. */
function comparable(event: CeleriacEvent): Record<string, unknown> {
  const { timestamp: _timestamp, taskId: _taskId, ...rest } = event as CeleriacEvent & { taskId?: string };
  return rest;
}

/**
 * Enqueues `tasks` in one call; returns their events (as comparable as above) by type, and the event
 * types that the call's published message named.
 */
async function enqueueAndRecord(broker: Broker, redis: Redis, prefix: string, tasks: NewTask[]) {
  const subscriber = redis.duplicate();
  await subscriber.subscribe(`${prefix}:events`);
  const message = new Promise<string>((resolve) => subscriber.once('message', (_channel: string, text: string) => resolve(text)));
  const recorder = await recordBroker(broker);
  try {
    await broker.enqueue(tasks);
    await recorder.waitFor((event) => event.type === 'task.queued', tasks.length);
    const types = (await message).split(' ')[1]!.split(',').sort().join(',');
    // A hand-off's task.started events travel in the same message as the task.queued ones.
    const of = (type: string) => recorder.matching((event) => event.type === type).map(comparable);
    return { queued: of('task.queued'), started: of('task.started'), types };
  } finally {
    recorder.stop();
    subscriber.disconnect();
  }
}

describe('Redis single enqueue (enqueue_one.lua)', () => {
  for (const handOff of [false, true]) {
    it(`stores and publishes what the general enqueue does, for a task ${handOff ? 'handed to an idle worker' : 'that joins the queue'}`, async () => {
      const prefix = `one-${randomUUID().slice(0, 8)}`;
      const broker = await connectBroker(`${server.url}?prefix=${prefix}`);
      const redis = new Redis(server.port);
      const idle = `{${prefix}:default}:idle`;
      try {
        if (handOff) {
          // An empty queue's lease registers the worker with room for 10.
          const now = Date.now();
          await broker.lease({ workerId: 'w1', queues: ['default'], limit: 10, leaseMs: 30_000, now, handoffUntil: now + 60_000 });
        }
        const room = async () => Number((await redis.hget(idle, 'w1'))?.split('|')[0]);
        const spec = { name: 'same', priority: 7, input: { text: 'héllo "quoted"' } };
        const one = alike(spec);
        const alone = await enqueueAndRecord(broker, redis, prefix, [one]);
        const roomAfterOne = handOff ? await room() : undefined;
        const pair = [alike(spec), alike(spec)];
        const together = await enqueueAndRecord(broker, redis, prefix, pair);

        assert.deepEqual(await storedHash(redis, prefix, one.id), await storedHash(redis, prefix, pair[0]!.id));
        assert.equal((await storedHash(redis, prefix, one.id)).state, handOff ? 'active' : 'queued');
        assert.equal(alone.queued.length, 1);
        assert.deepEqual(together.queued, [alone.queued[0], alone.queued[0]]);
        assert.equal(alone.started.length, handOff ? 1 : 0);
        assert.deepEqual(together.started, alone.started.length ? [alone.started[0], alone.started[0]] : []);
        assert.equal(alone.types, handOff ? 'task.queued,task.started' : 'task.queued');
        assert.equal(together.types, alone.types);

        if (handOff) {
          assert.equal(roomAfterOne, 9);
          assert.equal(await room(), 7);
          const inbox = (await redis.lrange(`${idle}:w1`, 0, -1)).map((entry) => JSON.parse(entry) as unknown[]);
          assert.equal(inbox.length, 3);
          // [id, name, priority, execution, attempt, createdAt, lease expiry, input]: all but the id and
          // the lease expiry alike.
          const [first, second] = inbox.map(([id, ...rest]) => ({ id, rest: [...rest.slice(0, 5), typeof rest[5], rest[6]] }));
          assert.equal(first!.id, toStoredId(one.id));
          assert.deepEqual(first!.rest, second!.rest);
          const [name, priority, , attempt, , leaseAt, input] = first!.rest;
          assert.deepEqual([name, priority, attempt, leaseAt, input], ['same', '7', '1', 'string', spec.input]);
          assert.ok((await redis.pttl(`${idle}:w1`)) > 0, 'the inbox expires if nobody reads it');
          const active = await redis.zrange(`{${prefix}:default}:active`, '0', '-1');
          assert.deepEqual(active.sort(), [one, ...pair].map((task) => toStoredId(task.id)).sort());
        } else {
          assert.deepEqual(await redis.lrange(`{${prefix}:default}:queued:7`, 0, -1), [one, ...pair].map((task) => toStoredId(task.id)));
        }
      } finally {
        redis.disconnect();
        await broker.close();
      }
    });
  }

  it('leaves tasks with an idempotency key, a delay or an expiry to the general enqueue', async () => {
    const prefix = `one-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(`${server.url}?prefix=${prefix}`);
    const redis = new Redis(server.port);
    const calls: string[] = [];
    let pinged: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (pinged = resolve));
    const monitor = await openMonitor(server.port, ({ args: [command, ...args] }) => {
      if (command === 'fcall') calls.push(args[0]!.replace(/^celeriac_[0-9a-f]+_/, ''));
      if (command === 'echo' && args[0] === 'enqueues-done') pinged();
    });
    try {
      const now = Date.now();
      await broker.enqueue([newTask({ key: 'k1' })]);
      await broker.enqueue([newTask({ runAt: now + 60_000 })]);
      await broker.enqueue([newTask({ expiresAt: now + 60_000 })]);
      await broker.enqueue([newTask()]);
      await broker.enqueue([newTask(), newTask()]);
      await redis.echo('enqueues-done'); // MONITOR shows commands in order: this one comes after the enqueues.
      await within(done, 10_000, 'the ECHO after the enqueues in MONITOR');
      assert.deepEqual(
        calls.filter((name) => name.startsWith('enqueue')),
        ['enqueue', 'enqueue', 'enqueue', 'enqueue_one', 'enqueue'],
      );
    } finally {
      monitor.destroy();
      redis.disconnect();
      await broker.close();
    }
  });
});
