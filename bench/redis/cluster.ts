// What each node of a Redis Cluster spends per task: CPU (INFO cpu, user + sys) of the master holding
// the queue and of the others, while BENCH_CLUSTER_TASKS (5,000) tasks are enqueued one at a time (16
// in flight) into one queue and run by a worker in this process, with an `app.on('*')` listener in
// another app of the process. A fresh three-master Cluster (test/support/redis-cluster.ts) per run;
// each node's idle CPU, measured over 2 s before, is subtracted. Events stay on the queue's shard (shard
// channels, docs/redis.md): the other masters should spend next to nothing on tasks they do not hold.
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { Celeriac, createLogger } from '../../src/index.js';
import { startRedisCluster } from '../../test/support/redis-cluster.js';

export interface ClusterNodeCost {
  tasks: number;
  /** CPU per task of the master holding the queue, in us, per round. */
  holderUs: number[];
  /** CPU per task of the busiest other master, in us, per round. */
  othersUs: number[];
  /** Events the listener heard per round (three per task, and those of the first task). */
  heard: number[];
}

async function cpuOf(admins: Redis[]): Promise<number[]> {
  return Promise.all(
    admins.map(async (admin) => {
      const text = await admin.info('cpu');
      return Number(/used_cpu_sys:([\d.]+)/.exec(text)![1]) + Number(/used_cpu_user:([\d.]+)/.exec(text)![1]);
    }),
  );
}

export async function clusterNodeCost(rounds = 3): Promise<ClusterNodeCost> {
  const tasks = Number(process.env.BENCH_CLUSTER_TASKS ?? 5_000);
  const result: ClusterNodeCost = { tasks, holderUs: [], othersUs: [], heard: [] };
  for (let round = 0; round < rounds; round++) {
    const cluster = await startRedisCluster();
    const admins = cluster.nodes.map((node) => new Redis({ port: node.port, host: '127.0.0.1' }));
    const url = `${cluster.url}?prefix=bench`;
    const logger = createLogger({ level: 'silent' });
    const app = new Celeriac({ broker: url, logger });
    const listener = new Celeriac({ broker: url, logger });
    let heard = 0;
    listener.on('*', () => heard++);
    app.task({ name: 'bench.noop', run: () => null });
    const worker = app.worker({ queues: ['one'], concurrency: 50, handleSignals: false });
    try {
      await listener.subscribed();
      await worker.start();
      await (await app.enqueue('bench.noop', null, { queue: 'one' })).result({ timeout: '10s' });
      const idleFrom = await cpuOf(admins);
      const idleStart = performance.now();
      await sleep(2_000);
      const idleTo = await cpuOf(admins);
      const idlePerSecond = idleTo.map((cpu, n) => (cpu - idleFrom[n]!) / ((performance.now() - idleStart) / 1_000));
      const from = await cpuOf(admins);
      const start = performance.now();
      let next = 0;
      const runs: Array<Promise<unknown>> = [];
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next < tasks) {
            next++;
            runs.push((await app.enqueue('bench.noop', null, { queue: 'one' })).result({ timeout: '60s' }));
          }
        }),
      );
      await Promise.all(runs);
      const seconds = (performance.now() - start) / 1_000;
      const to = await cpuOf(admins);
      const holder = (await cluster.shardOf('{bench:one}:queued')).master.port;
      const perTask = to.map((cpu, n) => ((cpu - from[n]! - idlePerSecond[n]! * seconds) / tasks) * 1e6);
      const masters = new Set(await Promise.all(cluster.nodes.map(async (_, n) => ((await admins[n]!.info('replication')).includes('role:master') ? n : -1))));
      result.holderUs.push(perTask[cluster.nodes.findIndex((node) => node.port === holder)]!);
      result.othersUs.push(Math.max(...perTask.filter((_, n) => masters.has(n) && cluster.nodes[n]!.port !== holder)));
      result.heard.push(heard);
    } finally {
      await worker.close();
      await app.close();
      await listener.close();
      for (const admin of admins) admin.disconnect();
      await cluster.stop();
    }
  }
  return result;
}
