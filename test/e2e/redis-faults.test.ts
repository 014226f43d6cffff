// Real worker processes on a real redis-server: three workers share 5,000 tasks with none lost or run
// twice; kill -9 of a worker mid-run, and of an idle worker that tasks were handed to; every connection
// cut again and again mid-run; and a redis-server restart (AOF on) mid-run. Every task ends completed,
// once. After a restart, a worker of two queues is handed tasks again.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { BrokerError, Celeriac, type TaskStartedEvent } from '../../src/index.js';
import { deferred } from '../support/deferred.js';
import { Children } from '../support/processes.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';
import { startReplyDroppingProxy, type ReplyDroppingProxy } from '../support/reply-dropping-proxy.js';
import { tempDir } from '../support/tmp.js';
import { collectEvents, until, within } from '../support/wait.js';

const silent = pino({ level: 'silent' });
const dir = tempDir('celeriac-e2e-redis-');
const children = new Children();
const apps: Celeriac[] = [];
let server: RedisServer;

before(async () => {
  server = await startRedisServer();
});

afterEach(async () => {
  await children.killAll();
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

after(async () => {
  await server?.stop();
  dir.cleanup();
});

function freshUrl(base = server.url): string {
  return `${base}?prefix=e2e-${randomUUID().slice(0, 8)}`;
}

function openApp(url: string): Celeriac {
  const app = new Celeriac({ broker: url, logger: silent });
  apps.push(app);
  return app;
}

/** Waits until every id is completed: run.result() waits on events and re-reads after a lost one. */
async function allCompleted(app: Celeriac, ids: string[], timeoutMs: number): Promise<void> {
  await Promise.all(ids.map((id) => app.run(id).result({ timeout: timeoutMs })));
}

/**
 * Enqueues `total` e2e.record tasks as a stream of calls, single enqueues and batches of 10 in turn, up to
 * four calls in flight; `between(sent, settled)` runs after each call is sent (to cut connections, kill a
 * worker, ...), `settled()` waiting for the calls in flight. Returns the ids acknowledged and the failures.
 */
async function streamTasks(
  app: Celeriac,
  total: number,
  between: (sent: number, settled: () => Promise<void>) => Promise<void> | void,
): Promise<{ acknowledged: string[]; failures: unknown[] }> {
  const acknowledged: string[] = [];
  const failures: unknown[] = [];
  const inFlight = new Set<Promise<void>>();
  const settled = () => Promise.all(inFlight).then(() => undefined);
  for (let sent = 0; sent < total; sent += 10) {
    const inputs = Array.from({ length: 10 }, (_, k) => ({ i: sent + k }));
    const call = (
      (sent / 10) % 2 === 0
        ? Promise.all(inputs.map((input) => app.enqueue('e2e.record', input)))
        : app.enqueueMany(inputs.map((input) => ({ task: 'e2e.record', input })))
    ).then(
      (runs) => void acknowledged.push(...runs.map((run) => run.id)),
      (error: unknown) => void failures.push(error),
    );
    inFlight.add(call);
    void call.finally(() => inFlight.delete(call));
    await between(sent + 10, settled);
    if (inFlight.size >= 4) await Promise.race(inFlight);
  }
  await settled();
  return { acknowledged, failures };
}

test('three worker processes share 5,000 tasks: none lost, none run twice', async () => {
  const url = freshUrl();
  const app = openApp(url);
  const logs = ['a', 'b', 'c'].map((name) => join(dir.path, `${name}-${randomUUID()}.log`));
  const workers = logs.map((log, i) => children.startWorker(url, { name: `r${i}@%h`, concurrency: 32, log }));
  await Promise.all(workers.map((worker) => worker.online()));
  await app.broker();

  const completed = new Set<string>();
  app.on('task.completed', (event) => completed.add(event.taskId));
  const runs = await app.enqueueMany(Array.from({ length: 5_000 }, (_, i) => ({ task: 'e2e.record', input: { i } })));
  const ids = new Set(runs.map((run) => run.id));
  await until(app, () => completed.size >= ids.size, 90_000);

  const lines = logs.flatMap((log) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []));
  assert.equal(lines.length, 5_000, 'handler runs');
  assert.equal(new Set(lines).size, 5_000, 'distinct tasks run');
  for (const id of ids) {
    const task = await app.getTask(id);
    assert.equal(task?.state, 'completed', `task ${id} is ${task?.state}`);
    assert.equal(task?.attempts, 1, `task ${id} ran ${task?.attempts} attempts`);
  }
  assert.ok(logs.filter((log) => existsSync(log)).length >= 2, 'work was shared');
});

test('kill -9 of a worker mid-run: its tasks run again elsewhere after the lease expires', async () => {
  const url = freshUrl();
  const app = openApp(url);
  const a = children.startWorker(url, { name: 'A@%h', concurrency: 50, leaseTime: '2s', hang: true });
  const onlineA = await a.online();
  await app.broker();
  const started = collectEvents<TaskStartedEvent>(app, (e) => e.type === 'task.started' && e.workerId === onlineA.workerId, 50, 30_000);
  const runs = await app.enqueueMany(Array.from({ length: 50 }, (_, i) => ({ task: 'e2e.hang', input: { i } })));
  await started;
  a.child.signal('SIGKILL');
  await a.child.waitForExit(10_000);

  const b = children.startWorker(url, { name: 'B@%h', concurrency: 50, leaseTime: '2s' });
  const onlineB = await b.online();
  await allCompleted(app, runs.map((run) => run.id), 60_000);
  for (const run of runs) {
    const task = (await app.getTask(run.id))!;
    assert.equal(task.attempts, 2, `task ${run.id} attempts`);
    assert.equal(task.errors[0]?.type, 'WorkerLostError');
    assert.deepEqual(task.result, { attempt: 2, pid: onlineB.pid });
  }
});

test('kill -9 of an idle worker: tasks handed to it meanwhile run elsewhere once its registration lapses, not after their lease', async () => {
  const url = freshUrl();
  const app = openApp(url);
  // A 10-minute lease: tasks left in the dead worker's inbox would otherwise wait that long.
  const a = children.startWorker(url, { name: 'A@%h', leaseTime: '10m', pollInterval: '2s' });
  const onlineA = await a.online();
  // One task run proves A is registered for hand-offs (it stays registered while idle, renewing every 2 s
  // for 5 s).
  const warmUp = await app.enqueue('e2e.hang', {});
  await warmUp.result({ timeout: '20s' });
  assert.equal((await warmUp.status()).workerId, onlineA.workerId);
  a.child.signal('SIGKILL');
  await a.child.waitForExit(10_000);

  const runs = await Promise.all(Array.from({ length: 5 }, (_, i) => app.enqueue('e2e.hang', { i })));
  for (const run of runs) {
    const info = await run.status();
    assert.equal(info.workerId, onlineA.workerId, 'handed to the dead worker, whose registration had not lapsed yet');
    assert.equal(info.state, 'active');
  }
  const b = children.startWorker(url, { name: 'B@%h' });
  const onlineB = await b.online();
  await allCompleted(app, runs.map((run) => run.id), 90_000);
  for (const run of runs) {
    const task = (await app.getTask(run.id))!;
    assert.equal(task.attempts, 2, `task ${run.id} attempts`);
    assert.equal(task.errors[0]?.type, 'WorkerLostError');
    assert.match(task.errors[0]!.message, /stopped waiting for tasks/);
    assert.deepEqual(task.result, { attempt: 2, pid: onlineB.pid });
  }
});

/**
 * Two worker processes (concurrency 16) and a producer, all through a proxy in front of the server, while
 * `total` tasks go out as a stream of calls (single enqueues and batches of 10, up to four in flight) and
 * `fault` strikes the proxy every `every` tasks sent. Checks that every call succeeded, that the fault
 * struck each time, that every task completed within `withinMs` and ran exactly once (with
 * `firstAttempts`, at its first attempt), and that the workers survived.
 */
async function streamThroughFaults(options: {
  name: string;
  query?: string;
  leaseTime?: string;
  total: number;
  every: number;
  fault: (proxy: ReplyDroppingProxy) => number;
  withinMs: number;
  firstAttempts?: boolean;
}): Promise<void> {
  const proxy = await startReplyDroppingProxy(server.port);
  try {
    const url = `${freshUrl(proxy.url)}${options.query ?? ''}`;
    const app = openApp(url);
    const logs = ['a', 'b'].map((name) => join(dir.path, `${options.name}-${name}-${randomUUID()}.log`));
    const workers = logs.map((log, i) =>
      children.startWorker(url, { name: `${options.name}${i}@%h`, concurrency: 16, leaseTime: options.leaseTime, log }),
    );
    await Promise.all(workers.map((worker) => worker.online()));
    await app.broker();

    let struck = 0;
    const { acknowledged: ids, failures } = await streamTasks(app, options.total, (sent) => {
      if (sent % options.every === 0 && options.fault(proxy) > 0) struck++;
    });
    assert.deepEqual(failures, [], 'every call succeeded');
    assert.equal(struck, options.total / options.every, 'the fault struck connections each time');
    await allCompleted(app, ids, options.withinMs);

    const lines = logs.flatMap((log) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []));
    assert.equal(new Set(lines).size, options.total, 'every task ran');
    assert.equal(lines.length, options.total, 'no task ran twice');
    if (options.firstAttempts) {
      const attempts = await Promise.all(ids.map(async (id) => (await app.getTask(id))?.attempts));
      assert.deepEqual(attempts.filter((n) => n !== 1), [], 'every task ran at its first attempt');
    }
    assert.ok(workers.every((worker) => worker.child.alive), 'the workers survived');
  } finally {
    await proxy.close();
  }
}

test('every connection cut again and again mid-run, the server staying up: no task lost, none run twice', async () => {
  // Every 200 tasks sent, every connection (producer's and workers') is cut, catching calls at every
  // stage: the ones Redis ran but had not answered are sent again by the client. A short lease: the tasks
  // of a lease whose reply was lost in a cut return within seconds.
  await streamThroughFaults({ name: 'cut', leaseTime: '2s', total: 2_000, every: 200, fault: (proxy) => proxy.cutAll(), withinMs: 120_000 });
});

test('every connection silenced again and again mid-run, Redis keeping them open: no task lost, none run twice', async () => {
  // Every 250 tasks sent, every connection (producer's and workers') goes silent: what was on its way is
  // lost, Redis still holds them (a blocked BLMPOP still pops), and each side has to notice. A short
  // socket timeout: each silenced connection is noticed within 2 s and replaced. Well within the 30 s
  // lease: nothing may wait for a lease to expire.
  await streamThroughFaults({
    name: 'silence',
    query: '&socket_timeout=2',
    total: 1_500,
    every: 250,
    fault: (proxy) => proxy.silenceAll(),
    withinMs: 25_000,
    firstAttempts: true,
  });
});

test('a redis-server restart mid-run (AOF on): workers reconnect and every task completes', async () => {
  const aofDir = tempDir('celeriac-e2e-aof-');
  const durable = await startRedisServer({ dir: aofDir.path, args: ['--appendonly', 'yes', '--appendfsync', 'always'] });
  try {
    const url = freshUrl(durable.url);
    const app = openApp(url);
    const log = join(dir.path, `restart-${randomUUID()}.log`);
    // A short lease: a lease whose reply was lost in the restart returns to the queue within seconds.
    const worker = children.startWorker(url, { name: 'R@%h', concurrency: 8, leaseTime: '3s', log });
    await worker.online();
    const first = await app.enqueueMany(Array.from({ length: 500 }, (_, i) => ({ task: 'e2e.record', input: { i } })));

    await durable.stop({ keepDir: true });
    const restarted = await startRedisServer({
      port: durable.port,
      dir: aofDir.path,
      args: ['--appendonly', 'yes', '--appendfsync', 'always'],
    });
    try {
      const second = await app.enqueueMany(Array.from({ length: 500 }, (_, i) => ({ task: 'e2e.record', input: { i: 500 + i } })));
      const ids = [...first, ...second].map((run) => run.id);
      await allCompleted(app, ids, 90_000);
      assert.ok(worker.child.alive, 'the worker survived the restart');
      const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
      assert.equal(new Set(lines).size, ids.length, 'every task ran');
      assert.equal(lines.length, ids.length, 'no task ran twice');
    } finally {
      await restarted.stop();
    }
  } finally {
    await durable.stop();
    aofDir.cleanup();
  }
});

test('after a redis-server restart (AOF on), a worker of two queues takes tasks of both again, handed over or leased', async () => {
  const aofDir = tempDir('celeriac-e2e-aof-');
  const args = ['--appendonly', 'yes', '--appendfsync', 'always'];
  const durable = await startRedisServer({ dir: aofDir.path, args });
  try {
    const url = freshUrl(durable.url);
    const app = openApp(url);
    const log = join(dir.path, `queues-${randomUUID()}.log`);
    // The default 30 s lease: a task handed to an inbox the worker no longer waits on would only run
    // again after it, well past each result's 20 s wait.
    const worker = children.startWorker(url, { name: 'Q@%h', queues: 'high,default', log });
    await worker.online();
    const oneByOne = async (from: number) => {
      for (let i = from; i < from + 10; i++) {
        const run = await app.enqueue('e2e.record', { i }, { queue: i % 2 === 0 ? 'high' : 'default' });
        await run.result({ timeout: '20s' });
        assert.equal((await run.status()).attempts, 1, `task ${i} ran at its first attempt`);
      }
    };
    await oneByOne(0);
    await durable.stop({ keepDir: true });
    const restarted = await startRedisServer({ port: durable.port, dir: aofDir.path, args });
    try {
      await oneByOne(10);
      assert.ok(worker.child.alive, 'the worker survived the restart');
      assert.equal(readFileSync(log, 'utf8').split('\n').filter(Boolean).length, 20, 'every task ran once');
    } finally {
      await restarted.stop();
    }
  } finally {
    await durable.stop();
    aofDir.cleanup();
  }
});

/** A logger whose lines a test can wait for (no event tells when a worker logged a retry). */
function capturingLogger() {
  const lines: Array<{ msg?: string }> = [];
  const waiting: Array<{ match: (line: { msg?: string }) => boolean; resolve: () => void }> = [];
  const logger = pino(
    { level: 'warn' },
    {
      write(text: string) {
        const line = JSON.parse(text) as { msg?: string };
        lines.push(line);
        for (const waiter of waiting.filter((entry) => entry.match(line))) {
          waiting.splice(waiting.indexOf(waiter), 1);
          waiter.resolve();
        }
      },
    },
  );
  const logged = (match: (line: { msg?: string }) => boolean, what: string): Promise<void> =>
    lines.some(match) ? Promise.resolve() : within(new Promise<void>((resolve) => waiting.push({ match, resolve })), 20_000, what);
  return { logger, logged };
}

test('a full Redis (maxmemory, noeviction): enqueues fail saying so, a running worker rides it out, a worker started meanwhile comes online, purge frees room, and every task acknowledged runs once', async () => {
  const full = await startRedisServer({ args: ['--maxmemory', '4mb'] });
  try {
    const url = freshUrl(full.url);
    const producer = openApp(url);
    const { logger, logged } = capturingLogger();
    const workerApp = new Celeriac({ broker: url, logger });
    apps.push(workerApp);
    const runs = new Map<number, number>();
    const gate = deferred();
    const started = deferred();
    const pad = 'x'.repeat(500);
    workerApp.task({
      name: 'echo',
      run: async (input: { i: number }) => {
        runs.set(input.i, (runs.get(input.i) ?? 0) + 1);
        if (input.i === 0) {
          started.resolve();
          await gate.promise;
        }
        return input.i;
      },
    });
    await workerApp.worker({ concurrency: 1, handleSignals: false }).start();
    const junk = 'x'.repeat(2_000); // Enough for the purge below to make room for the late worker's connections too.
    await producer.enqueueMany(Array.from({ length: 300 }, (_, i) => ({ task: 'echo', input: { i: -1 - i, pad: junk }, options: { queue: 'junk' } })));
    const acknowledged = [await producer.enqueue('echo', { i: 0 })];
    await started.promise; // The worker is busy with task 0 until the gate opens.

    let refusal: unknown;
    for (let i = 1; i < 100_000 && refusal === undefined; i++) {
      await producer.enqueue('echo', { i, pad }).then(
        (run) => acknowledged.push(run),
        (error: unknown) => (refusal = error),
      );
    }
    assert.ok(refusal instanceof BrokerError, `a full Redis refuses the enqueue with a BrokerError: ${String(refusal)}`);
    assert.match(refusal.message, /OOM command not allowed.*Redis is full: it refuses writes over maxmemory\. Deleting still works/);

    // While full: a new process opens the broker and reads; the worker cannot store task 0's result and retries.
    const reader = openApp(url);
    assert.equal((await reader.getTask(acknowledged[0]!.id))?.state, 'active');
    gate.resolve();
    await logged((line) => line.msg === 'cannot store task results; will retry', "the worker's retry of a refused result");

    // A worker started while full comes online (before the eighth session its start failed); its fetching is
    // refused and retried until there is room.
    const late = capturingLogger();
    const lateApp = new Celeriac({ broker: url, logger: late.logger });
    apps.push(lateApp);
    lateApp.task({ name: 'late', run: () => 'run by the late worker' });
    await lateApp.worker({ queues: ['late'], concurrency: 1, handleSignals: false }).start();
    await late.logged((line) => line.msg === 'cannot fetch tasks; retrying', "the late worker's retry of a refused fetch");
    const online = await reader.listWorkers();
    assert.deepEqual(online.map((worker) => worker.queues.join()).sort(), ['default', 'late'], 'both workers are registered');

    // Deleting is allowed while full: purging the other queue frees room, and enqueues work again.
    assert.equal(await reader.purge('junk'), 300);
    acknowledged.push(await producer.enqueue('echo', { i: 1_000_000 }));

    // With room to spare, everything acknowledged completes, each once.
    const admin = new Redis(full.port);
    await admin.config('SET', 'maxmemory', '0').finally(() => admin.disconnect());
    await allCompleted(producer, acknowledged.map((run) => run.id), 60_000);
    const lateRun = await producer.enqueue('late', undefined, { queue: 'late' });
    assert.equal(await lateRun.result({ timeout: '20s' }), 'run by the late worker', 'the late worker fetches again by itself');
    assert.deepEqual([...runs].filter(([, times]) => times !== 1), [], 'every task ran once');
    assert.equal(runs.size, acknowledged.length, 'no task of the purged queue ran, nor any refused one');
  } finally {
    await Promise.all(apps.splice(0).map((app) => app.close()));
    await full.stop();
  }
});

test('chaos in one run: every connection cut now and then, a worker killed and replaced, and a redis-server restart (AOF on) while tasks stream in', async () => {
  const aofDir = tempDir('celeriac-e2e-chaos-');
  const args = ['--appendonly', 'yes', '--appendfsync', 'always'];
  let redis = await startRedisServer({ dir: aofDir.path, args });
  const proxy = await startReplyDroppingProxy(redis.port);
  try {
    const url = freshUrl(proxy.url);
    const app = openApp(url);
    const log = (name: string) => join(dir.path, `chaos-${name}-${randomUUID()}.log`);
    const start = (name: string) => {
      const file = log(name);
      return { file, worker: children.startWorker(url, { name: `${name}@%h`, concurrency: 16, leaseTime: '2s', log: file }) };
    };
    const workers = ['a', 'b', 'c'].map(start);
    await Promise.all(workers.map(({ worker }) => worker.online()));
    await app.broker();

    let killed: string | undefined;
    const { acknowledged, failures } = await streamTasks(app, 3_000, async (sent, settled) => {
      if (sent % 300 === 0) proxy.cutAll();
      if (sent === 1_000) {
        workers[0]!.worker.child.signal('SIGKILL'); // Mid-run: its tasks return when their 2 s leases expire.
        killed = workers[0]!.file;
        const replacement = start('d');
        workers.push(replacement);
        await replacement.worker.online();
      }
      if (sent === 2_000) {
        await settled();
        await redis.stop({ keepDir: true });
        redis = await startRedisServer({ port: redis.port, dir: aofDir.path, args });
      }
    });
    for (const failure of failures) assert.ok(failure instanceof BrokerError, String(failure));
    await allCompleted(app, acknowledged, 120_000);

    const ranBy = new Map<string, string[]>();
    for (const { file } of workers) {
      for (const id of existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : []) {
        ranBy.set(id, [...(ranBy.get(id) ?? []), file]);
      }
    }
    for (const id of acknowledged) assert.ok(ranBy.has(id), `task ${id} ran`);
    // Only the killed worker's runs may be repeated (elsewhere, once its lease expired).
    const twice = [...ranBy].filter(([, files]) => files.length > 1 && !(files.length === 2 && files.includes(killed!)));
    assert.deepEqual(twice, [], 'no task ran twice on live workers');
    assert.ok(workers.slice(1).every(({ worker }) => worker.child.alive), 'the other workers survived');
  } finally {
    await proxy.close();
    await redis.stop();
    aofDir.cleanup();
  }
});
