// Bad input and faults against a real worker process on a SQLite file: invalid payloads, unknown task
// names, undecodable records, unusable broker URLs and a broker that is briefly locked.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, test } from 'node:test';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { z } from 'zod';
import { BrokerError, Celeriac, type TaskFailedEvent, ValidationError } from '../../src/index.js';
import { Children } from '../support/processes.js';
import { tempDir } from '../support/tmp.js';
import { nextEvent } from '../support/wait.js';

const dir = tempDir('celeriac-e2e-bad-');
const children = new Children();
const apps: Celeriac[] = [];

// Each test's children die with it, pass or fail.
afterEach(() => children.killAll());

after(async () => {
  await children.killAll();
  await Promise.all(apps.map((app) => app.close()));
  dir.cleanup();
});

const silent = pino({ level: 'silent' });

/** A fresh database file and a producer app on it (the app does not know the worker's tasks). */
async function world(name: string): Promise<{ brokerUrl: string; app: Celeriac; file: string }> {
  const file = join(dir.path, `${name}.db`);
  const brokerUrl = `sqlite:${file}`;
  const app = new Celeriac({ broker: brokerUrl, logger: silent });
  apps.push(app);
  await app.broker();
  return { brokerUrl, app, file };
}

/** Enqueues a valid task and waits for the (still running) worker to complete it. */
async function assertStillWorks(app: Celeriac): Promise<void> {
  const run = await app.enqueue('e2e.typed', { n: 21 });
  assert.equal(await run.result({ timeout: '20s' }), 42);
}

test('invalid input at enqueue: ValidationError naming each issue, nothing queued', async () => {
  const { app } = await world('validation');
  app.task({
    name: 'e2e.typed',
    input: z.object({ n: z.number(), label: z.string().min(1) }),
    run: (input) => input.n,
  });
  await assert.rejects(
    app.enqueue('e2e.typed', { n: 'seven', label: '' }),
    (error: unknown) => {
      assert.ok(error instanceof ValidationError, `got ${String(error)}`);
      assert.equal(error.taskName, 'e2e.typed');
      assert.deepEqual(error.issues.map((issue) => issue.path).sort(), ['label', 'n']);
      assert.match(error.message, /e2e\.typed/);
      assert.match(error.message, /\bn: /);
      assert.match(error.message, /\blabel: /);
      return true;
    },
  );
  // A batch with one bad item stores none of them.
  await assert.rejects(
    app.enqueueMany([
      { task: 'e2e.typed', input: { n: 1, label: 'ok' } },
      { task: 'e2e.typed', input: { n: 2 } },
    ]),
    ValidationError,
  );
  assert.deepEqual(await app.listTasks({}), []);
  assert.equal((await app.stats()).total.counts.queued, 0);
});

test('input that the worker rejects (enqueued by name, unvalidated): fails with ValidationError, worker keeps running', async () => {
  const { app, brokerUrl } = await world('worker-validation');
  const worker = children.startWorker(brokerUrl);
  await worker.online();
  const run = await app.enqueue('e2e.typed', { n: 'not a number' });
  const info = await app.waitForTask(run.id, 20_000);
  assert.equal(info.state, 'failed');
  assert.equal(info.error?.type, 'ValidationError');
  assert.match(info.error!.message, /invalid input for task 'e2e\.typed': n: /);
  assert.equal(info.attempts, 1, 'no retry of a validation failure');
  await assertStillWorks(app);
  assert.ok(worker.child.alive);
});

test('unknown task name: the worker fails it with a clear error and keeps running', async () => {
  const { app, brokerUrl } = await world('unknown');
  const worker = children.startWorker(brokerUrl);
  await worker.online();
  const failed = nextEvent<TaskFailedEvent>(app, (event) => event.type === 'task.failed', 20_000);
  const run = await app.enqueue('no.such.task', { x: 1 }, { retry: { maxRetries: 3 } });
  const event = await failed;
  assert.equal(event.taskId, run.id);
  assert.match(event.error.message, /no task named 'no\.such\.task'/);
  const info = (await app.getTask(run.id))!;
  assert.equal(info.state, 'failed');
  assert.equal(info.attempts, 1, 'an unknown name is not retried');
  assert.match(info.error!.message, /no task named 'no\.such\.task'/);
  await assertStillWorks(app);
  assert.ok(worker.child.alive);
});

test('undecodable stored record: the task fails with "cannot be decoded", the worker keeps running', async () => {
  const { app, brokerUrl, file } = await world('garbage');
  const run = await app.enqueue('e2e.typed', { n: 1 });
  const db = new Database(file);
  try {
    assert.equal(db.prepare(`UPDATE tasks SET input = '{not json' WHERE id = ?`).run(run.id).changes, 1);
  } finally {
    db.close();
  }
  // Reading the damaged record does not throw either.
  assert.equal((await app.getTask(run.id))?.state, 'queued');

  const worker = children.startWorker(brokerUrl);
  await worker.online();
  const info = await app.waitForTask(run.id, 20_000);
  assert.equal(info.state, 'failed');
  assert.match(info.error!.message, /cannot be decoded/);
  assert.match(info.error!.message, new RegExp(run.id));
  assert.match(info.error!.message, /stored input/);
  assert.equal(info.attempts, 1);
  await assertStillWorks(app);
  assert.ok(worker.child.alive);
});

test('broker file that cannot be created or opened: enqueue rejects with BrokerError', async () => {
  // A regular file where a directory should be: mkdir fails even as root.
  const blocker = join(dir.path, 'not-a-dir');
  writeFileSync(blocker, 'a file');
  const cases = [
    { url: `sqlite:${join(blocker, 'sub', 'celeriac.db')}`, reason: /ENOTDIR|EEXIST|not a directory/i },
    // A directory where the database file should be.
    { url: `sqlite:${dir.path}`, reason: /unable to open|directory|SQLITE_CANTOPEN/i },
    // A file that is not a SQLite database.
    { url: `sqlite:${blocker}`, reason: /not a database/i },
  ];
  if (process.getuid?.() !== 0) {
    // Without root, permissions are enforced: a directory without write permission.
    const locked = join(dir.path, 'locked');
    mkdirSync(locked, { mode: 0o500 });
    cases.push({ url: `sqlite:${join(locked, 'celeriac.db')}`, reason: /unable to open|readonly|EACCES/i });
  }
  for (const { url, reason } of cases) {
    const app = new Celeriac({ broker: url, logger: silent });
    apps.push(app);
    await assert.rejects(app.enqueue('anything', {}), (error: unknown) => {
      assert.ok(error instanceof BrokerError, `${url}: got ${String(error)}`);
      assert.match(error.message, /cannot open SQLite broker at /);
      assert.ok(error.message.includes(url.slice('sqlite:'.length)), `${url}: ${error.message}`);
      assert.match(error.message, reason);
      return true;
    });
  }
});

test('unsupported broker URL: BrokerError naming the URL and the accepted forms', async () => {
  const app = new Celeriac({ broker: 'nonsense://x', logger: silent });
  apps.push(app);
  await assert.rejects(app.enqueue('anything', {}), (error: unknown) => {
    assert.ok(error instanceof BrokerError, `got ${String(error)}`);
    assert.match(error.message, /'nonsense:\/\/x'/);
    assert.match(error.message, /sqlite:<path>/);
    assert.match(error.message, /sqlite::memory:/);
    return true;
  });
});

test('a worker whose broker is locked for a while logs it, keeps running, and works again after', async () => {
  const { app, brokerUrl, file } = await world('locked');
  const worker = children.startWorker(brokerUrl, { pollInterval: '100ms', logLevel: 'info' });
  await worker.online();
  // Hold the write lock from another connection until the worker reports it cannot write.
  const db = new Database(file);
  try {
    db.exec('BEGIN EXCLUSIVE');
    await worker.child.waitForStderr('database is locked', 40_000);
  } finally {
    db.exec('ROLLBACK');
    db.close();
  }
  // Whichever operation hit the lock first (fetch, heartbeat, maintenance) said so and will retry.
  const complaint = worker.child
    .stderrLines()
    .find((line) => line.level === 50 && JSON.stringify(line.err ?? '').includes('database is locked'));
  assert.ok(complaint, worker.child.tail());
  assert.match(String(complaint.msg), /retry/);
  await assertStillWorks(app);
  assert.ok(worker.child.alive);
});
