// Fault injection on Redis, many faults in one run: a producer and three worker processes, all through
// proxies, while 2,000 tasks go out (single enqueues and batches, two queues, priorities, delays, planned
// failures that retry, cancellations right after enqueue) and a fault strikes every 150 tasks sent, in a
// fixed turn: every connection cut, every connection silenced, a worker killed with SIGKILL, a worker
// stopped with SIGTERM, and the server restarted (one server, AOF on) or a shard failed over (a
// Cluster). Each worker is replaced as it goes. The workers log every run of every task (start, planned
// failure, finish), and the test checks:
// - every call was acknowledged, and every task not cancelled completed with its own result;
// - no attempt of a task started twice, and its attempts count every start;
// - a task ran again only after a planned failure, in a process that was killed, or after its worker
//   said it lost the lease (logged); every run in a process that lived ended; an outcome that was
//   stored was never reported lost to its worker;
// - a task cancelled while waiting never started afterwards, one asked to stop while running never
//   started again once a run had ended, and a cancellation ended as it said.
// A soak of this kind (random faults, many seeds) found the bugs the seventeenth session fixed; see that
// session's note and docs/guide.md, Delivery. To soak: `CHAOS_SEEDS=16-22 CHAOS_TASKS=3000 node --import
// tsx --test --test-force-exit --test-name-pattern seed test/e2e/redis-chaos.test.ts` adds a test per
// seed on one server (CHAOS_CLUSTER_SEEDS: on a Cluster), each with its own tasks and its faults in an
// order drawn from the seed (CONTRIBUTING.md, "Tests"). CHAOS_LOG_LEVEL sets the workers' log level (warn);
// CHAOS_DUMP names a file to write their logs to when a soak finds a violation.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { Celeriac, type EnqueueOptions } from '../../src/index.js';
import { Children, type Child } from '../support/processes.js';
import { startRedisCluster } from '../support/redis-cluster.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startReplyDroppingProxy } from '../support/reply-dropping-proxy.js';
import { tempDir } from '../support/tmp.js';

const TOTAL = Number(process.env.CHAOS_TASKS ?? 2_000);
if (!(Number.isInteger(TOTAL / 10) && TOTAL > 0)) throw new Error(`CHAOS_TASKS must be a positive multiple of 10, got ${process.env.CHAOS_TASKS}`);
const FAULT_EVERY = 150;
/** Seeds of extra soaks ('16-22' or '3,9'), on one server and on a Cluster; none in `npm test`. */
const SEEDS = parseSeeds('CHAOS_SEEDS');
const CLUSTER_SEEDS = parseSeeds('CHAOS_CLUSTER_SEEDS');
const silent = pino({ level: 'silent' });
const dir = tempDir('celeriac-e2e-chaos-');
const children = new Children();
const apps: Celeriac[] = [];


afterEach(async () => {
  await children.killAll();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

after(() => dir.cleanup());

/** A small deterministic generator, so a failure can be run again with the same tasks. */
function generator(seed: number): () => number {
  let state = seed;
  return () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
}

/** The seeds an environment variable names, as '16-22' or '3,9'. */
function parseSeeds(variable: string): number[] {
  return (process.env[variable] ?? '').split(',').filter(Boolean).flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number);
    if (!Number.isInteger(from) || !Number.isInteger(to) || to! < from!) throw new Error(`${variable}: bad part '${part}'`);
    return Array.from({ length: to! - from! + 1 }, (_, k) => from! + k);
  });
}

/** One fault per FAULT_EVERY tasks, drawn from `kinds` with `seed`: every kind once, in a random order, then at random. */
function randomOrder(kinds: string[], seed: number): string[] {
  const random = generator(seed * 7919 + 1);
  const order = [...kinds];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  while (order.length < Math.floor(TOTAL / FAULT_EVERY)) order.push(kinds[Math.floor(random() * kinds.length)]!);
  return order;
}

interface Run {
  kind: 'S' | 'X' | 'F';
  attempt: number;
  pid: number;
  at: number;
}

/**
 * Three workers and a producer on `url` while TOTAL tasks go out and `faults` strike in `order`, one every
 * FAULT_EVERY tasks sent ('kill' and 'term' are provided here). Then the checks at the top of this file.
 */
async function soak(
  t: TestContext,
  url: string,
  faults: Record<string, () => Promise<unknown> | unknown>,
  order: string[],
  seed = 17,
): Promise<void> {
  const log = join(dir.path, `runs-${randomUUID()}.log`);
  const workers: Child[] = [];
  const killed = new Set<number>();
  let named = 0;
  const startWorker = async () => {
    const worker = children.startWorker(url, { name: `c${named++}@%h`, concurrency: 16, leaseTime: '15s', shutdownTimeout: '10s', queues: 'high,default', log, logLevel: process.env.CHAOS_LOG_LEVEL });
    workers.push(worker.child);
    await worker.online(60_000);
  };
  await Promise.all([startWorker(), startWorker(), startWorker()]);
  const oldestLive = () => workers.find((worker) => worker.alive)!;
  const strike: Record<string, () => Promise<unknown> | unknown> = {
    ...faults,
    kill: async () => {
      const victim = oldestLive();
      killed.add(victim.pid);
      await victim.kill();
      await startWorker();
    },
    term: async () => {
      const victim = oldestLive();
      victim.signal('SIGTERM');
      assert.deepEqual(await victim.waitForExit(30_000), { code: 0, signal: null }, 'a worker stops gracefully on SIGTERM');
      await startWorker();
    },
  };

  const app = new Celeriac({ broker: url, logger: silent });
  apps.push(app);
  await app.broker();
  const random = generator(seed);
  const expected = new Map<string, number>();
  const cancels = new Map<string, { outcome: string; at: number }>();
  const failures: unknown[] = [];
  const inFlight = new Set<Promise<unknown>>();
  const track = (promise: Promise<unknown>) => {
    inFlight.add(promise);
    void promise.finally(() => inFlight.delete(promise));
  };
  let struck = 0;
  for (let sent = 0; sent < TOTAL; sent += 10) {
    const items = Array.from({ length: 10 }, (_, k) => {
      const options: EnqueueOptions = {
        queue: random() < 0.3 ? 'high' : 'default',
        priority: Math.floor(random() * 16),
        retry: { maxRetries: 2, backoff: 'fixed', delay: 100, jitter: false },
      };
      if (random() < 0.15) options.delay = Math.floor(random() * 800);
      const input = { i: sent + k, ms: Math.floor(random() * 40), failUntil: random() < 0.1 ? 1 : 0 };
      return { task: 'e2e.chaos', input, options, cancel: random() < 0.03 };
    });
    const call = (sent / 10) % 2 === 0 ? Promise.all(items.map((item) => app.enqueue(item.task, item.input, item.options))) : app.enqueueMany(items);
    track(
      call.then(
        (runs) =>
          runs.forEach((run, k) => {
            expected.set(run.id, items[k]!.input.i);
            // Cancelled as soon as acknowledged: waiting, handed to a worker, running, or done already.
            if (items[k]!.cancel) {
              track(app.cancel(run.id).then((outcome) => void cancels.set(run.id, { outcome, at: Date.now() }), (error: unknown) => void failures.push(error)));
            }
          }),
        (error: unknown) => void failures.push(error),
      ),
    );
    if ((sent + 10) % FAULT_EVERY === 0) await strike[order[struck++ % order.length]!]!();
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  while (inFlight.size > 0) await Promise.all(inFlight);
  assert.deepEqual(failures, [], 'every call succeeded');
  assert.equal(expected.size, TOTAL);

  const outcomes = await Promise.allSettled([...expected.keys()].map((id) => app.run(id).result({ timeout: 120_000 })));
  const violations: string[] = [];
  const ids = [...expected.keys()];
  for (const [k, outcome] of outcomes.entries()) {
    const id = ids[k]!;
    if (cancels.has(id)) continue;
    if (outcome.status === 'rejected') violations.push(`${id} did not complete: ${String(outcome.reason)}`);
    else if (outcome.value !== expected.get(id)) violations.push(`${id} returned ${String(outcome.value)}`);
  }

  const runs = new Map<string, Run[]>();
  for (const line of existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []) {
    const [kind, id, attempt, pid, at] = line.split(' ');
    const entry: Run = { kind: kind as Run['kind'], attempt: Number(attempt), pid: Number(pid), at: Number(at) };
    runs.set(id!, [...(runs.get(id!) ?? []), entry]);
  }
  const warnings = workers.flatMap((worker) => worker.stderrLines().filter((line) => Number(line.level) >= 40));
  const leaseLost = new Set(warnings.filter((line) => /lease lost/.test(String(line.msg))).map((line) => String(line.taskId)));
  // An outcome the broker stored must not be reported lost to its worker (as a settle sent again after a
  // lost reply once was, for a retry whose task had been promoted meanwhile).
  for (const line of warnings.filter((line) => /lease lost before the outcome was stored/.test(String(line.msg)))) {
    const [id, attempt] = [String(line.taskId), Number(line.attempt)];
    const task = await app.getTask(id);
    const stored =
      (task?.state === 'completed' && task.attempts === attempt) ||
      task?.errors.some((error) => error.attempt === attempt && error.message === 'planned failure');
    if (stored) violations.push(`attempt ${attempt}'s outcome was stored, yet its worker was told the lease was lost: ${id} ${JSON.stringify(task?.errors)}`);
  }
  const warned: Record<string, number> = {};
  for (const line of warnings) warned[String(line.msg).slice(0, 60)] = (warned[String(line.msg).slice(0, 60)] ?? 0) + 1;
  const stateCounts: Record<string, number> = {};
  for (const id of ids) {
    const lines = runs.get(id) ?? [];
    const starts = lines.filter((line) => line.kind === 'S').sort((a, b) => a.attempt - b.attempt);
    const ended = (start: Run) => lines.some((line) => line.kind !== 'S' && line.attempt === start.attempt && line.pid === start.pid);
    const task = await app.getTask(id);
    const cancel = cancels.get(id);
    stateCounts[`${cancel?.outcome ?? 'not cancelled'} -> ${task?.state}`] = (stateCounts[`${cancel?.outcome ?? 'not cancelled'} -> ${task?.state}`] ?? 0) + 1;
    const show = `${id} ${JSON.stringify(lines)}`;
    if (new Set(starts.map((start) => start.attempt)).size !== starts.length) violations.push(`an attempt started twice: ${show}`);
    if ((task?.attempts ?? 0) < starts.length) violations.push(`${task?.attempts} attempts counted for ${starts.length} starts: ${show}`);
    for (const start of starts.slice(0, -1)) {
      const planned = lines.some((line) => line.kind === 'X' && line.attempt === start.attempt && line.pid === start.pid);
      if (!planned && !killed.has(start.pid) && !leaseLost.has(id)) violations.push(`ran again after a run in a live worker: ${show}`);
    }
    for (const start of starts) if (!ended(start) && !killed.has(start.pid)) violations.push(`a run in a live worker never ended: ${show}`);
    if (!cancel) {
      if (starts.length === 0) violations.push(`never ran: ${id}`);
      continue;
    }
    // 'finished' may also be a task cancelled by its worker: the cancel's first run asked it to stop, and
    // its reply was lost; sent again, the call found the task finished.
    const want = { cancelled: ['cancelled'], requested: ['cancelled', 'completed'], finished: ['completed', 'cancelled'] }[cancel.outcome] ?? [];
    if (!want.includes(task?.state ?? '')) violations.push(`cancel said ${cancel.outcome}, the task ended ${task?.state}: ${show}`);
    if (cancel.outcome === 'cancelled' && starts.some((start) => start.at > cancel.at && !killed.has(start.pid))) {
      violations.push(`cancelled while waiting, then started: ${show}`);
    }
    // Asked to stop while running: once a run has ended after that, no other starts (not even a retry).
    const endedAfter = lines.filter((line) => line.kind !== 'S' && line.at > cancel.at).map((line) => line.at);
    if (cancel.outcome === 'requested' && starts.some((start) => endedAfter.some((at) => start.at > at) && !killed.has(start.pid))) {
      violations.push(`asked to stop while it ran, then started again: ${show}`);
    }
  }
  t.diagnostic(`seed ${seed}, ${TOTAL} tasks; faults: ${order.join(', ')} (in turn, ${struck} in all); workers killed: ${killed.size}; tasks whose lease a worker lost: ${leaseLost.size}`);
  t.diagnostic(`cancellations and states: ${JSON.stringify(stateCounts)}`);
  t.diagnostic(`workers' warnings and errors: ${JSON.stringify(warned)}`);
  if (process.env.CHAOS_DUMP && violations.length > 0) {
    writeFileSync(process.env.CHAOS_DUMP, workers.map((worker) => `### worker pid ${worker.pid}\n${worker.stderr}`).join('\n'));
  }
  assert.deepEqual(violations, []);
  assert.ok(cancels.size > 0 && struck >= order.length, 'every kind of fault struck, and some tasks were cancelled');
}

/** One server (AOF on) behind a reply-dropping proxy, and the soak with `order` and `seed`. */
async function soakOneServer(t: TestContext, order: string[], seed?: number): Promise<void> {
  const aof = tempDir('celeriac-e2e-chaos-aof-');
  const args = ['--appendonly', 'yes', '--appendfsync', 'always'];
  let server: RedisServer = await startRedisServer({ dir: aof.path, args });
  const proxy = await startReplyDroppingProxy(server.port);
  try {
    const url = `${proxy.url}?prefix=chaos-${randomUUID().slice(0, 8)}&socket_timeout=2`;
    await soak(
      t,
      url,
      {
        cut: () => assert.ok(proxy.cutAll() > 0),
        silence: () => assert.ok(proxy.silenceAll() > 0),
        restart: async () => {
          await server.stop({ keepDir: true });
          server = await startRedisServer({ port: server.port, dir: aof.path, args });
        },
      },
      order,
      seed,
    );
  } finally {
    await proxy.close();
    await server.stop();
    aof.cleanup();
  }
}

const ONE_SERVER_FAULTS = ['cut', 'kill', 'silence', 'term', 'restart'];

test('one server (AOF on): cuts, silences, kill -9, SIGTERM and a restart, with retries, delays and cancellations: nothing lost, nothing run twice', (t) =>
  soakOneServer(t, ONE_SERVER_FAULTS));

for (const seed of SEEDS) {
  test(`one server (AOF on), seed ${seed}: ${TOTAL} tasks, faults in a random order: nothing lost, nothing run twice`, (t) =>
    soakOneServer(t, randomOrder(ONE_SERVER_FAULTS, seed), seed));
}

/** A proxied three-master Cluster with a replica each, and the soak with `order` and `seed`. */
async function soakCluster(t: TestContext, order: string[], seed?: number): Promise<void> {
  const cluster = await startRedisCluster({ replicas: 1, proxied: true, nodeTimeoutMs: 2_000 });
  try {
    const prefix = `chaos-${randomUUID().slice(0, 8)}`;
    const url = `${cluster.url}?prefix=${prefix}&socket_timeout=2`;
    const shards = [`{${prefix}:default}`, `{${prefix}}`, `{${prefix}:high}`];
    let failovers = 0;
    await soak(
      t,
      url,
      {
        cut: () => assert.ok(cluster.proxies.reduce((sum, proxy) => sum + proxy.cutAll(), 0) > 0),
        silence: () => assert.ok(cluster.proxies.reduce((sum, proxy) => sum + proxy.silenceAll(), 0) > 0),
        failover: () => cluster.failover(shards[failovers++ % shards.length]!),
      },
      order,
      seed,
    );
  } finally {
    await cluster.stop();
  }
}

/**
 * Every failover before the first silence: silenced replication links (the replicas reach their masters
 * through the proxies too) stay down until Redis's replication timeout, and a manual failover waits for
 * its replica.
 */
function failoversBeforeSilences(order: string[], seed: number): string[] {
  const random = generator(seed * 104729 + 3);
  const rest = order.filter((kind) => kind !== 'silence');
  const silences = order.length - rest.length;
  for (let k = 0; k < silences; k++) {
    const after = rest.lastIndexOf('failover') + 1;
    rest.splice(after + Math.floor(random() * (rest.length - after + 1)), 0, 'silence');
  }
  return rest;
}

test('a three-master Cluster: cuts, silences, kill -9, SIGTERM and shard failovers, with retries, delays and cancellations: nothing lost, nothing run twice', (t) =>
  soakCluster(t, ['cut', 'kill', 'failover', 'term', 'cut', 'failover', 'kill', 'failover', 'term', 'silence', 'kill', 'cut', 'silence']));

for (const seed of CLUSTER_SEEDS) {
  test(`a three-master Cluster, seed ${seed}: ${TOTAL} tasks, faults in a random order: nothing lost, nothing run twice`, (t) =>
    soakCluster(t, failoversBeforeSilences(randomOrder(['cut', 'kill', 'failover', 'term', 'silence'], seed), seed), seed));
}
