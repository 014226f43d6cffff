import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join } from 'node:path';
import { BrokerError, Celeriac, connectBroker, createLogger, type TaskFailedError } from '../../src/index.js';
import { createTestApp } from '../../src/testing/index.js';
import { tempDir } from '../support/tmp.js';
import { within } from '../support/wait.js';

describe('the app', () => {
  it('refuses a second task with the same name, and bad defaults at definition', () => {
    const app = createTestApp();
    app.task({ name: 'x', run: () => 1 });
    assert.throws(() => app.task({ name: 'x', run: () => 2 }), /already registered/);
    assert.throws(() => app.task({ name: 'y', priority: 99, run: () => 1 }), /priority must be an integer/);
    assert.throws(() => app.task({ name: '', run: () => 1 }), /non-empty string name/);
    assert.deepEqual(app.registeredTasks(), ['x']);
  });

  it('names the broker URL it could not use, and what is accepted', async () => {
    const app = new Celeriac({ broker: 'nonsense://x' });
    await assert.rejects(app.enqueue('t', {}), (error: Error) => {
      assert.ok(error instanceof BrokerError);
      assert.match(error.message, /unsupported broker URL 'nonsense:\/\/x'.*sqlite:<path>/);
      return true;
    });
  });

  it('rejects bad enqueue options without storing anything', async () => {
    const app = createTestApp();
    await assert.rejects(app.enqueue('t', {}, { delay: 'soon' }), /delay must look like/);
    await assert.rejects(app.enqueue('t', {}, { priority: -1 }), /priority must be an integer/);
    assert.equal((await app.listTasks()).length, 0);
    await app.close();
  });

  it('rejects input that cannot be stored as JSON, storing nothing', async () => {
    const app = createTestApp();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await assert.rejects(app.enqueueMany([{ task: 'ok', input: 1 }, { task: 't', input: circular }]), BrokerError);
    assert.equal((await app.listTasks()).length, 0);
    await app.close();
  });
  it('app.subscribed() resolves once the broker is open and listeners hear events of other apps (SQLite)', async () => {
    const dir = tempDir();
    const url = `sqlite:${join(dir.path, 'events.db')}`;
    const listening = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    const other = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
    try {
      let heard!: (taskId: string) => void;
      const queued = new Promise<string>((resolve) => (heard = resolve));
      listening.on('task.queued', (event) => heard(event.taskId));
      await listening.subscribed();
      const run = await other.enqueue('t', {});
      assert.equal(await within(queued, 10_000, "the other app's task.queued"), run.id);
    } finally {
      await listening.close();
      await other.close();
      dir.cleanup();
    }
  });

  it('a handler may return a value, throw, or return a promise or any other thenable', async () => {
    const app = new Celeriac({ broker: 'sqlite::memory:', logger: createLogger({ level: 'silent' }) });
    const thenable = (value: number): PromiseLike<number> => ({ then: (resolve) => (setImmediate(() => resolve?.(value)), undefined as never) });
    const shapes = {
      value: () => 1,
      throws: () => {
        throw new Error('thrown');
      },
      promise: async () => 3,
      rejects: () => Promise.reject(new Error('rejected')),
      thenable: () => thenable(5) as Promise<number>, // The types say a promise; plain JavaScript may return any thenable.
    };
    for (const [name, run] of Object.entries(shapes)) app.task({ name, retry: { maxRetries: 0 }, run });
    const worker = app.worker({ concurrency: 5, handleSignals: false });
    try {
      await worker.start();
      const settled = await Promise.allSettled(Object.keys(shapes).map(async (name) => (await app.enqueue(name, {})).result({ timeout: '10s' })));
      assert.deepEqual(
        settled.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value : (outcome.reason as TaskFailedError).error?.message)),
        [1, 'thrown', 3, 'rejected', 5],
      );
    } finally {
      await worker.close();
      await app.close();
    }
  });

  it('waits for many results started together with one event subscription', async () => {
    const broker = await connectBroker('sqlite::memory:');
    let open = 0;
    const subscribe = broker.subscribe.bind(broker);
    broker.subscribe = (listener, options) => {
      if (options?.forWorker) return subscribe(listener, options); // The worker's own.
      open++;
      const unsubscribe = subscribe(listener, options);
      return () => {
        open--;
        unsubscribe();
      };
    };
    const app = new Celeriac({ broker, logger: createLogger({ level: 'silent' }) });
    app.task({ name: 'double', run: (input: { n: number }) => input.n * 2 });
    try {
      const runs = await app.enqueueMany(Array.from({ length: 50 }, (_, n) => ({ task: 'double', input: { n } })));
      // All started in one tick, before the app has its broker: they must share one subscription (each
      // used to make its own, which every later event was then delivered to, for the app's lifetime).
      const results = runs.map((run) => run.result({ timeout: '10s' }));
      const worker = app.worker({ concurrency: 10, handleSignals: false });
      await worker.start();
      assert.deepEqual(await Promise.all(results), runs.map((_, n) => n * 2));
      assert.equal(open, 1, 'one subscription for every wait of the app');
      await worker.close();
    } finally {
      await app.close();
    }
  });

  it('app.subscribed() rejects when the broker cannot be opened', async () => {
    await assert.rejects(new Celeriac({ broker: 'nonsense://x' }).subscribed(), BrokerError);
  });
  it('app.subscribed() waits for the broker to confirm the subscription', async () => {
    const broker = await connectBroker('sqlite::memory:');
    let confirm!: () => void;
    const confirmed = new Promise<void>((resolve) => (confirm = resolve));
    broker.subscribed = () => confirmed; // A broker that subscribes in the background, as Redis does.
    const app = new Celeriac({ broker, logger: createLogger({ level: 'silent' }) });
    try {
      let settled = false;
      const waiting = app.subscribed().then(() => (settled = true));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled, false, 'not before the broker confirmed');
      confirm();
      await waiting;
      assert.equal(settled, true);
    } finally {
      await app.close();
    }
  });
});
