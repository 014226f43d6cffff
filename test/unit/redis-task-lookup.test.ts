// The Redis broker finds a task by id alone (no per-task index): in the queues it knows, and in queues
// created since it last read their names.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connectBroker, type Broker } from '../../src/index.js';
import type { NewTask } from '../../src/broker/broker.js';
import { DEFAULT_EXECUTION } from '../../src/options.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

function newTask(queue: string): NewTask {
  return { id: randomUUID(), name: 'lookup', queue, priority: 5, input: { queue }, execution: DEFAULT_EXECUTION, createdAt: Date.now() };
}

describe('Redis task lookup by id', () => {
  it('finds tasks of a queue another instance created after this one read the queue names', async () => {
    const url = `${server.url}?prefix=lookup-${randomUUID().slice(0, 8)}`;
    const reader: Broker = await connectBroker(url);
    const writer: Broker = await connectBroker(url);
    try {
      const first = newTask('alpha');
      await writer.enqueue([first]);
      assert.equal((await reader.getTask(first.id))?.queue, 'alpha'); // The reader now knows ['alpha'].
      const later = newTask('beta');
      await writer.enqueue([later]);
      const found = await reader.getTask(later.id);
      assert.equal(found?.queue, 'beta');
      assert.deepEqual(found?.input, { queue: 'beta' });
      assert.equal(await reader.getTask(randomUUID()), null);
      assert.equal(await reader.cancel(later.id, 'test', Date.now()), 'cancelled');
    } finally {
      await Promise.all([reader.close(), writer.close()]);
    }
  });
});
