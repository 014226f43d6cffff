// What the maintenance services send on Redis: the leader's leadership call returns the queue names, and
// the pass right after it looks at those queues without reading them again, one call per queue (an idle
// leader's most frequent calls); a process that did not just take the lead reads them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { connectBroker } from '../../src/index.js';
import { newTask } from '../conformance/suite/records.js';
import { recordCommands } from '../support/monitor.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

describe('Redis maintenance reads', () => {
  it("the leader's leadership call brings the queue names: its job reads none, and a queue made since is not missed", async () => {
    const url = `${server.url}?prefix=maint-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(url);
    const other = await connectBroker(url);
    try {
      await broker.enqueue([newTask({ queue: 'a' }), newTask({ queue: 'b' })]);
      let commands = await recordCommands(server.port);
      assert.equal(await broker.acquireLeadership!('maintainer', 'me', 10_000), true);
      assert.deepEqual(await broker.maintain(Date.now()), { rescued: 0, promoted: 0, nextDueAt: null });
      assert.deepEqual(await commands.stop(), ['acquire_leadership', 'maintain', 'maintain'], 'one call per queue');

      // A queue this instance made since the leadership call: its jobs read the names again at once.
      const runAt = Date.now() + 60_000;
      await broker.enqueue([newTask({ queue: 'c', runAt })]);
      assert.equal((await broker.maintain(Date.now())).nextDueAt, runAt);
      // And the next leadership call names it.
      commands = await recordCommands(server.port);
      assert.equal(await broker.acquireLeadership!('maintainer', 'me', 10_000), true);
      assert.equal((await broker.maintain(Date.now())).nextDueAt, runAt);
      assert.deepEqual(await commands.stop(), ['acquire_leadership', 'maintain', 'maintain', 'maintain']);

      // Another process, not the leader, gets no names; its own job (were it to run one) reads them.
      commands = await recordCommands(server.port);
      assert.equal(await other.acquireLeadership!('maintainer', 'someone else', 10_000), false);
      assert.equal((await other.maintain(Date.now())).nextDueAt, runAt);
      assert.deepEqual(await commands.stop(), ['acquire_leadership', 'sunion', 'maintain', 'maintain', 'maintain']);
    } finally {
      await broker.close();
      await other.close();
    }
  });

  it('a leadership reply sent before this instance registered a queue is not taken for the queue names', async () => {
    const broker = await connectBroker(`${server.url}?prefix=maint-${randomUUID().slice(0, 8)}`);
    try {
      await broker.enqueue([newTask({ queue: 'a' })]);
      // The leadership call goes out first; the enqueue registers queue 'b' before its reply comes back.
      const leads = broker.acquireLeadership!('maintainer', 'me', 10_000);
      const runAt = Date.now() + 60_000;
      const enqueued = broker.enqueue([newTask({ queue: 'b', runAt })]);
      assert.equal(await leads, true);
      await enqueued;
      assert.equal((await broker.maintain(Date.now())).nextDueAt, runAt, "queue 'b' is maintained at once");
    } finally {
      await broker.close();
    }
  });
});
