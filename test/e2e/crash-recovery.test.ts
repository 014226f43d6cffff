// kill -9 of a worker process with 200 tasks running: once their leases expire, another worker process
// runs each of them again, exactly once more, and records the lost attempt as a WorkerLostError.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { Celeriac, type TaskStartedEvent } from '../../src/index.js';
import { Children } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { collectEvents, until } from '../support/wait.js';

const TASKS = 200;

const dir = tempDir('celeriac-e2e-crash-');
const brokerUrl = `sqlite:${join(dir.path, 'celeriac.db')}`;
const children = new Children();
let app: Celeriac;

before(async () => {
  app = new Celeriac({ broker: brokerUrl, logger: pino({ level: 'silent' }) });
  await app.broker();
});

after(async () => {
  await children.killAll();
  await app.close();
  dir.cleanup();
});

test('kill -9 with 200 active tasks: each runs again once on another worker and completes', async () => {
  const a = children.startWorker(brokerUrl, { name: 'A@%h', concurrency: TASKS, leaseTime: '2s', hang: true });
  const onlineA = await a.online();

  const startedOnA = collectEvents<TaskStartedEvent>(
    app,
    (event) => event.type === 'task.started' && event.workerId === onlineA.workerId,
    TASKS,
    30_000,
  );
  const runs = await app.enqueueMany(Array.from({ length: TASKS }, (_, i) => ({ task: 'e2e.hang', input: { i } })));
  const ids = new Set(runs.map((run) => run.id));
  const firstStarts = await startedOnA;
  assert.deepEqual(new Set(firstStarts.map((event) => event.taskId)), ids);
  assert.ok(firstStarts.every((event) => event.attempt === 1));

  // Every task is active on A when it dies.
  assert.equal((await app.stats()).queues.default?.counts.active, TASKS);

  a.child.signal('SIGKILL');
  const exit = await a.child.waitForExit(10_000);
  assert.equal(exit.signal, 'SIGKILL');

  // Worker B starts only now: it must rescue A's tasks once their leases expire, then run them.
  const starts: TaskStartedEvent[] = [];
  const completed = new Set<string>();
  const off = app.on('*', (event) => {
    if (event.type === 'task.started') starts.push(event);
    if (event.type === 'task.completed') completed.add(event.taskId);
  });
  const b = children.startWorker(brokerUrl, { name: 'B@%h', concurrency: 50, leaseTime: '1s' });
  const onlineB = await b.online();
  await until(app, () => completed.size >= TASKS, 40_000);
  off();

  // Re-runs: exactly one per task that was active, all on B, as attempt 2.
  assert.equal(starts.length, TASKS, `re-runs: ${starts.length}`);
  assert.deepEqual(new Set(starts.map((event) => event.taskId)), ids);
  assert.ok(starts.every((event) => event.workerId === onlineB.workerId && event.attempt === 2));

  const tasks = await app.listTasks({ limit: TASKS * 2 });
  assert.equal(tasks.length, TASKS);
  for (const task of tasks) {
    assert.equal(task.state, 'completed', `task ${task.id} is ${task.state}`);
    assert.equal(task.attempts, 2, `task ${task.id} has ${task.attempts} attempts`);
    assert.equal(task.errors.length, 1, `task ${task.id} errors: ${JSON.stringify(task.errors)}`);
    assert.equal(task.errors[0]!.type, 'WorkerLostError');
    assert.equal(task.errors[0]!.attempt, 1);
    assert.match(task.errors[0]!.message, new RegExp(onlineA.workerId));
    assert.deepEqual(task.result, { attempt: 2, pid: onlineB.pid });
  }
  assert.ok(b.child.alive);
});
