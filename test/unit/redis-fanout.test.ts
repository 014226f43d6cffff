// Fan-out (src/brokers/redis/fanout.ts): commands over many queues go out as pipelines of 100, their
// replies come back in order, a failing command fails the whole as one command would, and a library gone
// from the server is loaded once for all of them. Then the reads built on it, over more queues than one
// pipeline holds.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { connectBroker } from '../../src/index.js';
import { fanOut } from '../../src/brokers/redis/fanout.js';
import { candidateWindow } from '../../src/brokers/redis/reads.js';
import { Keys } from '../../src/brokers/redis/keys.js';
import { scriptCommand, type RedisCommand } from '../../src/brokers/redis/scripts.js';
import { emptyCounts } from '../../src/types.js';
import { newTask } from '../conformance/suite/records.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

/** A client whose pipelines are counted. */
function countingPipelines(client: Redis): { pipelines: () => number } {
  let made = 0;
  const pipeline = client.pipeline.bind(client);
  client.pipeline = ((...args: Parameters<typeof pipeline>) => {
    made++;
    return pipeline(...args);
  }) as typeof client.pipeline;
  return { pipelines: () => made };
}

async function calls(redis: Redis, command: string): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(new RegExp(`cmdstat_${command.replace('|', '\\|')}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
}

describe('Redis fan-out', () => {
  it('sends 250 commands as three pipelines and returns each reply in its place', async () => {
    const redis = new Redis(server.port);
    const tag = randomUUID().slice(0, 8);
    try {
      const commands: RedisCommand[] = [];
      const expected: unknown[] = [];
      for (let i = 0; i < 250; i++) {
        const key = `{fan-${tag}-${i}}:k`;
        if (i % 3 === 0) {
          await redis.set(key, `v${i}`);
          commands.push(['get', key]);
          expected.push(`v${i}`);
        } else if (i % 3 === 1) {
          await redis.hset(key, 'n', String(i));
          commands.push(['hgetall', key]);
          expected.push({ n: String(i) });
        } else {
          commands.push(['exists', key]);
          expected.push(0);
        }
      }
      const counted = countingPipelines(redis);
      assert.deepEqual(await fanOut(redis, commands), expected);
      assert.equal(counted.pipelines(), 3);
      assert.deepEqual(await fanOut(redis, []), []);
      assert.deepEqual(await fanOut(redis, [['get', `{fan-${tag}-0}:k`]]), ['v0'], 'one command is sent alone');
      assert.equal(counted.pipelines(), 3);
    } finally {
      redis.disconnect();
    }
  });

  it("a failing command fails the fan-out with the server's error", async () => {
    const redis = new Redis(server.port);
    const key = `{fan-${randomUUID().slice(0, 8)}}:list`;
    try {
      await redis.rpush(key, 'x');
      const commands: RedisCommand[] = Array.from({ length: 120 }, (_, i) => ['exists', `{fan-other}:${i}`]);
      commands[110] = ['hgetall', key];
      await assert.rejects(fanOut(redis, commands), /WRONGTYPE/);
    } finally {
      redis.disconnect();
    }
  });

  it('a library gone from the server (FUNCTION FLUSH) is loaded once, and every call then runs', async () => {
    const redis = new Redis(server.port);
    const keys = new Keys(`fan-${randomUUID().slice(0, 8)}`);
    const broker = await connectBroker(`${server.url}?prefix=${keys.prefix}`);
    try {
      const queues = Array.from({ length: 150 }, (_, i) => `q${i}`);
      await broker.enqueue(queues.map((queue, i) => newTask({ queue, priority: i % 16 })));
      await redis.call('FUNCTION', 'FLUSH');
      await redis.config('RESETSTAT');
      const commands = queues.map((queue) => {
        const queueKeys = keys.queue(queue);
        return scriptCommand('count', [queueKeys.scheduled, queueKeys.queued, queueKeys.active, queueKeys.retrying, queueKeys.completed, queueKeys.failed, queueKeys.cancelled], []);
      });
      const replies = await fanOut<number[]>(redis, commands);
      assert.deepEqual(replies, queues.map(() => [0, 1, 0, 0, 0, 0, 0]));
      assert.equal(await calls(redis, 'function|load'), 1, 'loaded once for the 150 calls');
    } finally {
      redis.disconnect();
      await broker.close();
    }
  });

  it('counts, lists and finds tasks across 250 queues, more than one pipeline holds', async () => {
    const url = `${server.url}?prefix=fan-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(url);
    const reader = await connectBroker(url); // Enqueued nothing: it looks each task up in every queue.
    try {
      const queues = Array.from({ length: 250 }, (_, i) => `q${i}`);
      const tasks = queues.flatMap((queue, q) => Array.from({ length: 1 + (q % 3) }, () => newTask({ queue })));
      await broker.enqueue(tasks);
      const last = tasks.at(-1)!;
      assert.equal(await broker.cancel(last.id, 'not needed', Date.now()), 'cancelled');

      const expected: Record<string, ReturnType<typeof emptyCounts>> = {};
      queues.forEach((queue, q) => (expected[queue] = { ...emptyCounts(), queued: 1 + (q % 3) }));
      expected.q249 = { ...emptyCounts(), queued: 0 + (249 % 3), cancelled: 1 };
      assert.deepEqual(await reader.counts(), expected);
      assert.deepEqual(await reader.countFinishedSince(0), { q249: 1 });

      const listed = await reader.listTasks({ state: 'queued', limit: 1_000 });
      assert.deepEqual(listed.map((task) => task.id).sort(), tasks.slice(0, -1).map((task) => task.id).sort());
      assert.equal((await reader.getTask(last.id))?.queue, 'q249');
      assert.equal((await reader.getTask(tasks[0]!.id))?.queue, 'q0');
      assert.equal(await reader.getTask(randomUUID()), null);
    } finally {
      await reader.close();
      await broker.close();
    }
  });

  it('listTasks reads whole records only for the tasks it returns, in order', async () => {
    const redis = new Redis(server.port);
    const broker = await connectBroker(`${server.url}?prefix=fan-${randomUUID().slice(0, 8)}`);
    try {
      const t0 = Date.now();
      // Created a millisecond apart, newest first in the list's order: 40 queued, 40 scheduled, in two queues.
      const queued = Array.from({ length: 40 }, (_, i) => newTask({ queue: `q${i % 2}`, name: i % 4 === 1 ? 'other' : 'mine', createdAt: t0 - 1_000 + i }));
      const scheduled = Array.from({ length: 40 }, (_, i) => newTask({ queue: 'q0', createdAt: t0 - 2_000 + i, runAt: t0 + 60_000 + i }));
      await broker.enqueue([...queued].reverse());
      await broker.enqueue(scheduled);
      await broker.cancel(queued[0]!.id, 'gone', t0);

      await redis.config('RESETSTAT');
      const listed = await broker.listTasks({ limit: 10 });
      assert.deepEqual(listed.map((task) => task.id), scheduled.slice(0, 10).map((task) => task.id));
      assert.equal(await calls(redis, 'hgetall'), 10, 'whole records of the ten returned only');

      // Each queue's queued list holds its tasks newest first; the list comes out oldest first.
      const mine = await broker.listTasks({ state: 'queued', name: 'mine', limit: 40 });
      assert.deepEqual(mine.map((task) => task.id), queued.filter((task, i) => i > 0 && task.name === 'mine').map((task) => task.id));
      const all = await broker.listTasks({ state: 'queued', limit: 40 });
      assert.deepEqual(all.map((task) => task.id), queued.slice(1).map((task) => task.id));
      assert.equal((await broker.listTasks({ state: 'cancelled' })).length, 1);

      // At most `limit` candidates per queue and state, taken in lease order across the priority lists.
      const low = Array.from({ length: 2 }, (_, i) => newTask({ queue: 'p', priority: 1, createdAt: t0 + i }));
      const high = Array.from({ length: 3 }, (_, i) => newTask({ queue: 'p', priority: 9, createdAt: t0 + 10 + i }));
      await broker.enqueue([...low, ...high]);
      await redis.config('RESETSTAT');
      const sampled = await broker.listTasks({ queue: 'p', state: 'queued', limit: 4 });
      assert.deepEqual(sampled.map((task) => task.id), [low[0]!, ...high].map((task) => task.id));
      assert.equal(await calls(redis, 'hmget'), 4, 'four candidates read');
    } finally {
      redis.disconnect();
      await broker.close();
    }
  });

  it('a list by name reads up to ten times deeper, so that other names in front do not hide the matches', async () => {
    const redis = new Redis(server.port);
    const broker = await connectBroker(`${server.url}?prefix=fan-${randomUUID().slice(0, 8)}`);
    try {
      const t0 = Date.now();
      const others = Array.from({ length: 80 }, (_, i) => newTask({ name: 'other', createdAt: t0 + i }));
      const mine = Array.from({ length: 30 }, (_, i) => newTask({ name: 'mine', createdAt: t0 + 100 + i }));
      await broker.enqueue([...others, ...mine]);
      await redis.config('RESETSTAT');
      const listed = await broker.listTasks({ state: 'queued', name: 'mine', limit: 10 });
      assert.deepEqual(listed.map((task) => task.id), mine.slice(0, 10).map((task) => task.id));
      assert.equal(await calls(redis, 'hmget'), 100, 'ten times the limit read, no more');
      assert.equal((await broker.listTasks({ state: 'queued', name: 'other', limit: 5 })).length, 5);
    } finally {
      redis.disconnect();
      await broker.close();
    }
  });

  it('purge of every queue takes each in batches of 1,000 until it is empty (a queue of 2,500 beside 149 others)', async () => {
    const broker = await connectBroker(`${server.url}?prefix=fan-${randomUUID().slice(0, 8)}`);
    try {
      const deep = Array.from({ length: 2_500 }, () => newTask({ queue: 'deep' }));
      const spread = Array.from({ length: 149 }, (_, i) => newTask({ queue: `q${i}`, runAt: Date.now() + 60_000 }));
      await broker.enqueue(deep);
      await broker.enqueue(spread);
      assert.equal(await broker.purge(undefined, Date.now()), 2_649);
      assert.deepEqual(await broker.counts(), {});
      assert.equal(await broker.purge(undefined, Date.now()), 0);
    } finally {
      await broker.close();
    }
  });

  it('the window of a list by name shrinks with the number of queues and states, never below the limit', () => {
    assert.equal(candidateWindow(100, 7, false), 100);
    assert.equal(candidateWindow(100, 1, true), 1_000);
    assert.equal(candidateWindow(100, 7, true), 1_000);
    assert.equal(candidateWindow(100, 20, true), 500);
    assert.equal(candidateWindow(100, 700, true), 100);
    assert.equal(candidateWindow(5_000, 7, true), 5_000);
  });
});
