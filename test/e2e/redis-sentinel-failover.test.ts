// A Sentinel failover with a producer and a worker running: both follow the new master at once (ioredis's
// failover detector, connection.ts), so what they write after the switch is kept. Without it they stayed
// on the old master until the sentinel demoted it, about 10 s later, and what they wrote meanwhile was
// lost when it resynced from the new master.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { Celeriac, type TaskRun } from '../../src/index.js';
import { startRedisSentinel } from '../support/redis-sentinel.js';

const silent = pino({ level: 'silent' });

/** How many connections named `celeriac` (every connection the broker opens) a server has. */
async function celeriacConnections(port: number): Promise<number> {
  const admin = new Redis(port);
  try {
    const list = (await admin.call('CLIENT', 'LIST')) as string;
    return list.split('\n').filter((line) => / name=celeriac /.test(line)).length;
  } finally {
    admin.disconnect();
  }
}

async function allResults(runs: TaskRun[]): Promise<unknown[]> {
  return Promise.all(runs.map((run) => run.result({ timeout: '10s' })));
}

test('a Sentinel failover: producer and worker move to the new master at once, and tasks enqueued after it are kept', async () => {
  const group = await startRedisSentinel({ replica: true });
  const url = `${group.url}?prefix=failover-${randomUUID().slice(0, 8)}`;
  const producer = new Celeriac({ broker: url, logger: silent });
  const workerApp = new Celeriac({ broker: url, logger: silent });
  workerApp.task({ name: 'echo', run: (input: { i: number }) => input.i });
  const worker = workerApp.worker({ handleSignals: false });
  try {
    await worker.start();
    const before = await producer.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ task: 'echo', input: { i } })));
    assert.deepEqual(await allResults(before), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const connections = await celeriacConnections(group.master.port);
    assert.ok(connections >= 5, `the apps' connections are on the master (${connections})`);

    await group.failover();
    // No event tells when a client has reconnected: look at the servers' client lists until every
    // connection has moved, within a deadline far shorter than the old master's demotion.
    const deadline = Date.now() + 5_000;
    for (;;) {
      const [onOld, onNew] = await Promise.all([celeriacConnections(group.master.port), celeriacConnections(group.replica!.port)]);
      if (onOld === 0 && onNew >= connections) break;
      assert.ok(Date.now() < deadline, `connections still on the old master after 5 s: ${onOld} (new master: ${onNew})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    const after = await producer.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ task: 'echo', input: { i: 10 + i } })));
    assert.deepEqual(await allResults(after), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
    for (const run of [...before, ...after]) {
      assert.equal((await producer.getTask(run.id))?.state, 'completed', `task ${run.id} is kept on the new master`);
    }
  } finally {
    await worker.close();
    await workerApp.close();
    await producer.close();
    await group.stop();
  }
});
