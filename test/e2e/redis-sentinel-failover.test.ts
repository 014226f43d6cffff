// Sentinel failovers with a producer and a worker running. A forced failover: both follow the new master
// at once (SentinelWatch), so what they write after the switch is kept; without it they stayed on the old
// master until the sentinel demoted it, about 10 s later, and what they wrote meanwhile was lost when it
// resynced from the new master. The same when the watches' connections to the sentinel were silenced
// before the switch (a partition): a liveness PING finds them dead, and the reconnected watch asks for the
// master. A master that dies: calls fail until the sentinel elects the replica,
// then work again, with everything written before the death kept (ioredis's own failover detector, tried
// first, ended the connections for good there).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { BrokerError, Celeriac, type TaskRun } from '../../src/index.js';
import { startRedisSentinel, type RedisSentinel } from '../support/redis-sentinel.js';
import { startReplyDroppingProxy, type ReplyDroppingProxy } from '../support/reply-dropping-proxy.js';

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

/** The role (`master` or `slave`) a server reports. */
async function roleOf(port: number): Promise<string> {
  const admin = new Redis(port);
  try {
    return String(((await admin.call('ROLE')) as unknown[])[0]);
  } finally {
    admin.disconnect();
  }
}

interface GroupOptions {
  sentinelPassword?: string;
  /** The apps reach the sentinel through a proxy that can silence their connections to it. */
  proxied?: boolean;
  /** `socket_timeout` of the URL, in seconds. */
  socketTimeout?: number;
}

interface Group {
  group: RedisSentinel;
  producer: Celeriac;
  before: TaskRun[];
  proxy?: ReplyDroppingProxy;
}

/** A Sentinel group with a replica, a producer and a started worker on it, ten tasks run, then `body`. */
async function withGroup(name: string, options: GroupOptions, body: (world: Group) => Promise<void>): Promise<void> {
  const group = await startRedisSentinel({ replica: true, ...options });
  const proxy = options.proxied ? await startReplyDroppingProxy(group.sentinelPort) : undefined;
  const auth = options.sentinelPassword ? `&sentinelPassword=${encodeURIComponent(options.sentinelPassword)}` : '';
  const timeout = options.socketTimeout ? `&socket_timeout=${options.socketTimeout}` : '';
  const base = proxy ? group.url.replace(`:${group.sentinelPort}/`, `:${proxy.port}/`) : group.url;
  const url = `${base}?prefix=${name}-${randomUUID().slice(0, 8)}${auth}${timeout}`;
  const producer = new Celeriac({ broker: url, logger: silent });
  const workerApp = new Celeriac({ broker: url, logger: silent });
  workerApp.task({ name: 'echo', run: (input: { i: number }) => input.i });
  const worker = workerApp.worker({ handleSignals: false });
  try {
    await worker.start();
    const before = await producer.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ task: 'echo', input: { i } })));
    assert.deepEqual(await allResults(before), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await body({ group, producer, before, ...(proxy ? { proxy } : {}) });
  } finally {
    await worker.close();
    await workerApp.close();
    await producer.close();
    await proxy?.close();
    await group.stop();
  }
}

test('a Sentinel failover: producer and worker move to the new master at once, and tasks enqueued after it are kept', async () => {
  // Through a sentinel that requires a password: the broker's connections and its failover watch log in.
  await withGroup('failover', { sentinelPassword: 'sentinel+pw' }, async ({ group, producer, before }) => {
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
  });
});

test("a Sentinel failover the watch's connections miss (silenced, as by a partition): they are found dead, the master is asked again, and producer and worker move before the old master is demoted", async () => {
  await withGroup('missed', { proxied: true, socketTimeout: 2 }, async ({ group, producer, proxy }) => {
    const connections = await celeriacConnections(group.master.port);
    // Each app's watch holds one connection to the sentinel; ioredis's own sentinel connections are closed
    // once they named the master.
    assert.ok(proxy!.silenceAll() >= 2, 'the watches are connected through the proxy');

    await group.failover();
    // The sentinel demotes the old master (and cuts its clients) about 10 s after the switch; the
    // connections must have moved before that, found by the watch, not by the demotion.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const [onOld, onNew] = await Promise.all([celeriacConnections(group.master.port), celeriacConnections(group.replica!.port)]);
      if (onOld === 0 && onNew >= connections) break;
      assert.equal(await roleOf(group.master.port), 'master', `the old master was demoted with ${onOld} connections still on it`);
      assert.ok(Date.now() < deadline, `connections still on the old master after 15 s: ${onOld} (new master: ${onNew})`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(await roleOf(group.master.port), 'master', 'moved before the demotion');

    const after = await producer.enqueueMany(Array.from({ length: 10 }, (_, i) => ({ task: 'echo', input: { i: 10 + i } })));
    assert.deepEqual(await allResults(after), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
  });
});

test('a Sentinel master that dies: calls fail until the replica is elected, then producer and worker carry on', async () => {
  await withGroup('death', {}, async ({ group, producer, before }) => {
    const watch = await group.watchSwitch();
    try {
      await group.replicated();

      await group.master.stop();
      await watch.switched; // The sentinel saw the master down for 5 s and promoted the replica.
      // Calls made while the connections find the new master may still fail (their retries run out);
      // within a few reconnection attempts one goes through.
      let run: TaskRun | undefined;
      const deadline = Date.now() + 20_000;
      while (!run) {
        run = await producer.enqueue('echo', { i: 99 }).catch((error: unknown) => {
          assert.ok(error instanceof BrokerError, String(error));
          assert.ok(Date.now() < deadline, `enqueue still failing 20 s after the switch: ${error.message}`);
          return undefined;
        });
      }
      assert.equal(await run.result({ timeout: '20s' }), 99, 'the worker runs tasks again');
      for (const earlier of before) {
        assert.equal((await producer.getTask(earlier.id))?.state, 'completed', `task ${earlier.id} is kept on the new master`);
      }
    } finally {
      watch.close();
    }
  });
});
