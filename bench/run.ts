// npm run bench: runs every benchmark, prints a table and writes bench/results/latest.json.
// Environment: BENCH_TASKS (20000), BENCH_ROUNDS (3), BENCH_LATENCY_SAMPLES (1000), BENCH_LATENCY_ROUNDS (5, the Redis latency rounds), BENCH_LATENCY_GAP_MS (2, the pause before each task of the Redis "spaced" latency runs), BENCH_LATENCY_WARM_TASKS (2000, the untimed tasks before the Redis "warm" latency runs), BENCH_MEMORY_TASKS (100000), BENCH_SINGLE_PRODUCERS (16, the producers of the Redis "one at a time" run), BENCH_WORKER_NODE_OPTIONS (none; node options for the Redis benchmark's worker processes, every library alike: a diagnostic),
// BENCH_ONLY=name,name to run some (the Redis comparison: `redis` in one process, `redis-x` with the worker in
// another; both share one redis-server started here; `redis-idle` counts an idle worker's commands;
// `redis-cluster` measures each Cluster node's CPU per task), BENCH_CLUSTER_TASKS (5000).
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { clusterNodeCost } from './redis/cluster.js';
import { redisIdleWorker } from './redis/idle.js';
import { formatTable, ratios } from './redis/report.js';
import { runRedisBenchmarks } from './redis/scenarios.js';
import * as sqlite from './sqlite/scenarios.js';
import { formatRate } from './support.js';

const only = process.env.BENCH_ONLY?.split(',');
const want = (name: string) => !only || only.includes(name);
const results: Record<string, unknown> = {
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  at: new Date().toISOString(),
};
if (process.env.BENCH_WORKER_NODE_OPTIONS) {
  // A diagnostic (bench/redis/scenarios.ts): say so, so that its figures are not taken for the usual ones.
  results.workerNodeOptions = process.env.BENCH_WORKER_NODE_OPTIONS;
  console.log(`worker processes run with node ${process.env.BENCH_WORKER_NODE_OPTIONS} (BENCH_WORKER_NODE_OPTIONS), every library alike`);
}
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

if (want('enqueue')) {
  const r = await sqlite.bulkEnqueue();
  results.bulkEnqueue = r;
  console.log(`sqlite  bulk enqueue         ${formatRate(r.perSecond)}  (rounds: ${r.rounds.map(formatRate).join(', ')})`);
}
if (want('processing')) {
  const r = await sqlite.processing();
  results.processing = r;
  console.log(`sqlite  processing (c=50)    ${formatRate(r.perSecond)}  (rounds: ${r.rounds.map(formatRate).join(', ')})`);
}
if (want('latency')) {
  const r = await sqlite.latencyInProcess();
  results.latencyInProcess = r;
  console.log(`sqlite  latency in-process   p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms`);
}
if (want('latency-x')) {
  const r = await sqlite.latencyCrossProcess();
  results.latencyCrossProcess = r;
  console.log(`sqlite  latency cross-proc   p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms`);
}
if (want('memory')) {
  const r = await sqlite.memory();
  results.memory = r;
  const first = r.samples[0]!;
  const last = r.samples[r.samples.length - 1]!;
  console.log(
    `sqlite  worker memory        heap ${mb(first.heapUsed)} after ${first.ran} -> ${mb(last.heapUsed)} after ${last.ran}; ` +
      `rss ${mb(first.rss)} -> ${mb(last.rss)}`,
  );
}
if (want('idle')) {
  const r = await sqlite.idleWorker();
  results.idleWorker = r;
  console.log(`sqlite  idle worker CPU      ${r.cpuMsPerSecond.toFixed(2)} ms per second (over ${r.seconds} s)`);
}
if (want('depth')) {
  const r = await sqlite.leaseAtDepth();
  results.leaseAtDepth = r;
  console.log(
    `sqlite  lease+ack 50 tasks     ${r.shallowMs.toFixed(3)} ms with 10,000 queued, ${r.deepMs.toFixed(3)} ms with ` +
      `${r.depth.toLocaleString('en-US')} queued (filled at ${formatRate(r.enqueuePerSecond)})`,
  );
}
if (want('redis-idle')) {
  const runs = [
    { key: 'redisIdleWorker', queues: ['default'], pollInterval: undefined },
    { key: 'redisIdleWorkerTwoQueues', queues: ['high', 'default'], pollInterval: undefined },
    { key: 'redisIdleWorkerPoll2s', queues: ['default'], pollInterval: '2s' },
  ] as const;
  for (const { key, queues, pollInterval } of runs) {
    const r = await redisIdleWorker([...queues], pollInterval);
    results[key] = r;
    const top = Object.entries(r.byCommand).map(([name, n]) => `${name} ${n}`).join(', ');
    const what = `idle worker, ${queues.length} queue${queues.length > 1 ? 's' : ''}${pollInterval ? `, poll ${pollInterval}` : ''}`;
    console.log(`redis   ${what.padEnd(30)} ${r.perSecond.toFixed(1)} commands per second over ${r.seconds} s (${top})`);
  }
}
if (want('redis-cluster')) {
  const r = await clusterNodeCost();
  results.redisClusterNodeCost = r;
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const us = (values: number[]) => `${median(values).toFixed(1)} us (rounds: ${values.map((v) => v.toFixed(1)).join(', ')})`;
  console.log(`redis   cluster, CPU per task  the queue's master ${us(r.holderUs)}; busiest other master ${us(r.othersUs)}`);
}
let exitNow = false;
if (want('redis') || want('redis-x')) {
  const r = await runRedisBenchmarks({ inProcess: want('redis'), crossProcess: want('redis-x') });
  const ratio = ratios(r);
  results.redis = { ...r, ratios: ratio ?? null };
  console.log(`\nredis ${r.redisVersion}: ${r.tasks.toLocaleString('en-US')} no-op tasks, concurrency ${r.concurrency}, median of ${r.rounds} rounds (latency: ${r.latencyRounds}; a latency ratio is the median of the rounds' ratios, [lowest-highest])`);
  for (const line of formatTable(r, ratio)) console.log(line);
  if (!ratio) console.log('celeriac: broker not available; ratios skipped');
  const failed = Object.entries(r.libraries).filter(([, lib]) => lib.errors);
  if (failed.length > 0) process.exitCode = 1;
  exitNow = r.leftOpen;
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(new URL('./results/latest.json', import.meta.url), JSON.stringify(results, null, 2));
// A scenario that overran its deadline may have left a client open; do not wait for it.
if (exitNow) process.exit();
