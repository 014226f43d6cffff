// SIGTERM / SIGINT to a worker process with active tasks: tasks that finish within the shutdown timeout
// complete, the rest are aborted and handed back at once, the process exits 0, nothing is left active,
// and a new worker runs the handed-back tasks.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import { pino } from 'pino';
import { Celeriac, type CeleriacEvent, type TaskStartedEvent } from '../../src/index.js';
import { Children } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { collectEvents, until } from '../support/wait.js';

const QUICK = 5;
const STUBBORN = 5;

const dir = tempDir('celeriac-e2e-shutdown-');
const children = new Children();
const apps: Celeriac[] = [];

// Each test's children die with it, pass or fail.
afterEach(() => children.killAll());

after(async () => {
  await children.killAll();
  await Promise.all(apps.map((app) => app.close()));
  dir.cleanup();
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`${signal}: finishes what it can, hands back the rest, exits 0; a new worker completes them`, async () => {
    const brokerUrl = `sqlite:${join(dir.path, `${signal}.db`)}`;
    const app = new Celeriac({ broker: brokerUrl, logger: pino({ level: 'silent' }) });
    apps.push(app);
    await app.broker();

    const w = children.startWorker(brokerUrl, {
      name: 'W@%h',
      concurrency: QUICK + STUBBORN,
      shutdownTimeout: '2s',
      hang: true,
      logLevel: 'info',
    });
    const online = await w.online();

    const started = collectEvents<TaskStartedEvent>(app, (event) => event.type === 'task.started', QUICK + STUBBORN, 30_000);
    const quick = await app.enqueueMany(Array.from({ length: QUICK }, (_, i) => ({ task: 'e2e.gate', input: { i } })));
    const stubborn = await app.enqueueMany(Array.from({ length: STUBBORN }, (_, i) => ({ task: 'e2e.stubborn', input: { i } })));
    await started;

    const seen: CeleriacEvent[] = [];
    const offSeen = app.on('*', (event) => seen.push(event));
    w.child.signal(signal);
    // Once shutdown has begun, release the quick tasks: they finish within the shutdown timeout.
    await w.child.waitForStderr('shutting down gracefully', 15_000);
    w.child.send('go');
    const exit = await w.child.waitForExit(20_000);
    assert.deepEqual(exit, { code: 0, signal: null }, w.child.tail());
    assert.match(w.child.stderr, /handing back active tasks/);

    // Nothing is left active: the quick ones completed, the stubborn ones are back in their queue.
    assert.equal((await app.listTasks({ state: 'active' })).length, 0);
    for (const run of quick) {
      const info = (await app.getTask(run.id))!;
      assert.equal(info.state, 'completed', `quick task ${run.id} is ${info.state}`);
      assert.equal(info.result, 1);
    }
    for (const run of stubborn) {
      const info = (await app.getTask(run.id))!;
      assert.equal(info.state, 'queued', `stubborn task ${run.id} is ${info.state}`);
      assert.equal(info.attempts, 0, 'a handed-back attempt is not counted');
      assert.equal(info.workerId, undefined);
    }
    await until(app, () => seen.some((event) => event.type === 'worker.offline' && event.workerId === online.workerId), 10_000);
    offSeen();
    // The quick tasks completed while the worker was shutting down, before it went offline.
    const offlineAt = seen.findIndex((event) => event.type === 'worker.offline');
    for (const run of quick) {
      const at = seen.findIndex((event) => event.type === 'task.completed' && event.taskId === run.id);
      assert.ok(at >= 0 && at < offlineAt, `quick task ${run.id} completed at event ${at}, offline at ${offlineAt}`);
    }
    assert.ok(!w.child.stderr.includes('"level":50'), `errors logged:\n${w.child.tail()}`);
    assert.ok(!(await app.listWorkers()).some((worker) => worker.id === online.workerId), 'the worker unregistered');

    // A new worker (whose stubborn tasks complete) takes the handed-back tasks.
    const completed = collectEvents(
      app,
      (event) => event.type === 'task.completed' && stubborn.some((run) => run.id === event.taskId),
      STUBBORN,
      30_000,
    );
    const w2 = children.startWorker(brokerUrl, { name: 'W2@%h' });
    await w2.online();
    await completed;
    for (const run of stubborn) {
      const info = (await app.getTask(run.id))!;
      assert.equal(info.state, 'completed');
      assert.equal(info.attempts, 1);
      assert.deepEqual(info.errors, []);
      assert.deepEqual(info.result, { attempt: 1 });
    }
    await w2.child.kill();
  });
}
