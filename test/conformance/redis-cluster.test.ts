// The conformance suite on a three-master Redis Cluster that the harness starts on loopback ports, with
// a random key prefix for each case. Each queue's keys share one hash tag, so every script touches one
// slot; queues spread over the shards, which the first test checks so the suite cannot pass on a
// cluster where everything happens to sit on one node.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Celeriac, createLogger } from '../../src/index.js';
import { startRedisCluster, type RedisCluster } from '../support/redis-cluster.js';
import { runBrokerConformance } from './broker-suite.js';

let cluster: Promise<RedisCluster> | undefined;
const started = () => (cluster ??= startRedisCluster());

after(async () => {
  await (await cluster)?.stop();
});

describe('redis cluster', () => {
  let url: string;
  before(async () => {
    url = `${(await started()).url}?prefix=spread-${randomUUID().slice(0, 8)}`;
  });

  it('spreads queues over the shards, and runs tasks of every queue', async () => {
    const app = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    const queues = Array.from({ length: 12 }, (_, i) => `q${i}`);
    app.task({ name: 'echo', run: (input: { queue: string }) => input.queue });
    const worker = app.worker({ queues, concurrency: 8, handleSignals: false });
    try {
      await worker.start();
      const runs = await app.enqueueMany(queues.map((queue) => ({ task: 'echo', input: { queue }, options: { queue } })));
      assert.deepEqual(await Promise.all(runs.map((run) => run.result({ timeout: '10s' }))), queues);
      const holders = new Set<number>();
      for (const node of (await started()).nodes) {
        const client = new Redis({ port: node.port, host: '127.0.0.1' });
        const keys = await client.keys('{spread-*');
        client.disconnect();
        if (keys.length > 0) holders.add(node.port);
      }
      assert.ok(holders.size >= 2, `the queues' keys all sit on ${holders.size} node(s)`);
    } finally {
      await worker.close();
      await app.close();
    }
  });
});

runBrokerConformance({
  name: 'redis cluster',
  newUrl: async () => {
    const { url } = await started();
    return { url: `${url}?prefix=test-${randomUUID().slice(0, 8)}`, cleanup: () => undefined };
  },
});
