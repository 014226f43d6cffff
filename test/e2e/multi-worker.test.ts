// Two worker processes on one SQLite file share a queue: both take from it, and of 2,000 tasks every one
// runs exactly once and none is lost.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { Celeriac } from '../../src/index.js';
import { Children } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { until } from '../support/wait.js';

const TASKS = 2_000;

const dir = tempDir('celeriac-e2e-multi-');
const brokerUrl = `sqlite:${join(dir.path, 'celeriac.db')}`;
const children = new Children();
let app: Celeriac;

before(() => {
  app = new Celeriac({ broker: brokerUrl, logger: pino({ level: 'silent' }) });
});

after(async () => {
  await children.killAll();
  await app.close();
  dir.cleanup();
});

test('two worker processes share a queue and run 2,000 tasks: none twice, none lost', async () => {
  const logs = [join(dir.path, 'a.log'), join(dir.path, 'b.log')];
  const workers = logs.map((log, i) =>
    children.startWorker(brokerUrl, { name: `w${i}@%h`, concurrency: 16, log }),
  );
  const online = await Promise.all(workers.map((worker) => worker.online()));
  assert.notEqual(online[0]!.pid, online[1]!.pid);

  const started = new Map<string, number>();
  const completed = new Set<string>();
  let completedEvents = 0;
  const gateWorkers = new Map<string, string>(); // gate task id -> the worker that started it
  let gateIds = new Set<string>();
  const off = app.on('*', (event) => {
    if (event.type === 'task.started' && gateIds.has(event.taskId)) gateWorkers.set(event.taskId, event.workerId);
    if (event.type === 'task.started' && !gateIds.has(event.taskId)) started.set(event.taskId, (started.get(event.taskId) ?? 0) + 1);
    if (event.type === 'task.completed' && !gateIds.has(event.taskId)) {
      completedEvents++;
      completed.add(event.taskId);
    }
  });

  // Both take from the queue: 24 gate tasks outnumber one worker's 16 slots (nothing has finished yet,
  // so it holds none waiting), so the other worker must start the rest. They finish once all started.
  const gates = await app.enqueueMany(Array.from({ length: 24 }, () => ({ task: 'e2e.gate', input: {} })));
  gateIds = new Set(gates.map((run) => run.id));
  await until(app, () => gateWorkers.size === gates.length, 20_000);
  assert.equal(new Set(gateWorkers.values()).size, 2, 'both workers started gate tasks');
  for (const worker of workers) worker.child.send('go');
  await Promise.all(gates.map((run) => run.result({ timeout: '20s' })));

  const items = Array.from({ length: TASKS }, (_, i) => ({ task: 'e2e.record', input: { i } }));
  const runs = [];
  for (let i = 0; i < TASKS; i += 500) runs.push(...(await app.enqueueMany(items.slice(i, i + 500))));
  const ids = new Set(runs.map((run) => run.id));
  assert.equal(ids.size, TASKS);

  await until(app, () => completed.size >= TASKS, 50_000);
  off();

  // The broker's view: every task completed on its first attempt, by one of the two processes.
  const tasks = (await app.listTasks({ limit: TASKS * 2 })).filter((task) => !gateIds.has(task.id));
  assert.equal(tasks.length, TASKS);
  const pids = new Set(online.map((line) => line.pid));
  for (const task of tasks) {
    assert.ok(ids.has(task.id), `unexpected task ${task.id}`);
    assert.equal(task.state, 'completed', `task ${task.id} is ${task.state}`);
    assert.equal(task.attempts, 1, `task ${task.id} ran ${task.attempts} attempts`);
    assert.deepEqual(task.errors, []);
    const pid = task.result as number;
    assert.ok(pids.has(pid), `task ${task.id} completed by unknown pid ${pid}`);
  }

  // The handlers' own record: 2,000 ids across the two logs, none twice.
  const lines = logs.flatMap((log) => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []));
  assert.equal(lines.length, TASKS, 'handler runs');
  assert.equal(new Set(lines).size, TASKS, 'distinct task ids run');
  for (const line of lines) assert.ok(ids.has(line), `a handler ran unknown task ${line}`);

  // The events agree: one start and one completion per task.
  assert.equal(completedEvents, TASKS);
  assert.equal(started.size, TASKS);
  for (const [id, count] of started) assert.equal(count, 1, `task ${id} started ${count} times`);

  for (const worker of workers) assert.ok(worker.child.alive, 'worker died');
});
