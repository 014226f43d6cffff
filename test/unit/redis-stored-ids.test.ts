// Task ids in Redis: UUIDs in 22 characters, anything else as '~' and the id; users only ever see their ids.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { connectBroker } from '../../src/index.js';
import { fromStoredId, toStoredId } from '../../src/brokers/redis/ids.js';
import { newTaskId, timeOfTaskId } from '../../src/ids.js';
import { recordBroker } from '../support/events.js';
import { newTask } from '../conformance/suite/records.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

describe('Redis stored task ids', () => {
  it('round-trips UUIDs through 22 characters and any other id through a ~ prefix', () => {
    for (const id of [newTaskId(), randomUUID(), '00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff']) {
      const stored = toStoredId(id);
      assert.equal(stored.length, 22, id);
      assert.match(stored, /^[A-Za-z0-9_-]{22}$/);
      assert.equal(fromStoredId(stored), id);
    }
    for (const id of ['job-1', 'ABCDEFGH-1234-1234-1234-123456789ABC', 'x'.repeat(22), '~odd', '']) {
      assert.equal(toStoredId(id), `~${id}`);
      assert.equal(fromStoredId(toStoredId(id)), id);
    }
  });

  it('writes the same 22 characters as base64url of the UUID bytes, and reads them back', () => {
    const reference = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex').toString('base64url');
    for (let i = 0; i < 20_000; i++) {
      const id = i % 2 ? randomUUID() : newTaskId();
      assert.equal(toStoredId(id), reference(id), id);
      assert.equal(fromStoredId(reference(id)), id);
    }
    for (const id of ['0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5aG', '0192f3a4+5b6c-7d8e-9fa0-b1c2d3e4f5a6', '0192f3a4-5b6c-7d8e-9fa0-b1c2d3e4f5a']) {
      assert.equal(toStoredId(id), `~${id}`);
    }
  });

  it('reads the creation time out of UUIDv7 ids only', () => {
    const before = Date.now();
    const time = timeOfTaskId(newTaskId());
    assert.ok(time !== undefined && time >= before && time <= Date.now() + 1);
    assert.equal(timeOfTaskId(randomUUID()), undefined);
    assert.equal(timeOfTaskId('job-1'), undefined);
  });

  it('a task with an id that is not a UUID, and one whose creation time is not its id time, work end to end', async () => {
    const prefix = `ids-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(`${server.url}?prefix=${prefix}`);
    const redis = new Redis(server.port);
    const events = await recordBroker(broker);
    try {
      const odd = newTask({ id: 'job-1', priority: 7 });
      const early = newTask({ createdAt: 1_000, priority: 5 });
      await broker.enqueue([odd, early]);
      assert.equal(await redis.exists(`{${prefix}:default}:t:~job-1`), 1);
      assert.equal(await redis.hget(`{${prefix}:default}:t:${toStoredId(early.id)}`, 'created'), '1000');
      assert.equal(await redis.hget(`{${prefix}:default}:t:${toStoredId(early.id)}`, 'priority'), null, 'default priority left out');
      await events.waitForTask('job-1', 'task.queued');

      const leased = await broker.lease({ workerId: 'w1', queues: ['default'], limit: 5, leaseMs: 30_000, now: Date.now() });
      assert.deepEqual(leased.map((task) => [task.id, task.priority, task.createdAt]), [
        ['job-1', 7, odd.createdAt],
        [early.id, 5, 1_000],
      ]);
      assert.deepEqual(await broker.settle([{ kind: 'complete', taskId: 'job-1', workerId: 'w1', now: Date.now(), result: 'ok' }]), [true]);
      await events.waitForTask('job-1', 'task.completed');
      const info = await broker.getTask('job-1');
      assert.equal(info?.result, 'ok');
      assert.deepEqual((await broker.listTasks({ state: 'completed' })).map((task) => task.id), ['job-1']);
      assert.equal((await broker.getTask(early.id))?.createdAt.getTime(), 1_000);
    } finally {
      events.stop();
      redis.disconnect();
      await broker.close();
    }
  });
});
