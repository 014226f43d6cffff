// App and worker cases: producing, results, validation, unknown tasks, priorities, cancellation,
// progress, results kept or not, delayed, timed and expiring tasks, idempotency.
import assert from 'node:assert/strict';
import { z } from 'zod';
import { TaskCancelledError, TaskFailedError, TimeoutError, ValidationError } from '../../../src/index.js';
import type { TaskContext } from '../../../src/index.js';
import { deferred } from '../../support/deferred.js';
import { recordApp } from '../../support/events.js';
import { KEEP_EVERYTHING } from './records.js';
import type { Cases } from './world.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function appBasicCases(cases: Cases): void {
  cases.case('enqueue returns a run whose result() is what the task returned', async (world) => {
    const app = await world.app();
    let seen: Omit<TaskContext, 'signal' | 'progress' | 'log'> | undefined;
    const add = app.task({
      name: 'conformance.add',
      queue: 'math',
      run: (input: { a: number; b: number }, ctx) => {
        assert.ok(ctx.signal instanceof AbortSignal);
        assert.equal(typeof ctx.progress, 'function');
        assert.equal(typeof ctx.log.info, 'function');
        seen = { id: ctx.id, name: ctx.name, attempt: ctx.attempt, queue: ctx.queue, priority: ctx.priority, maxRetries: ctx.maxRetries, enqueuedAt: ctx.enqueuedAt };
        return input.a + input.b;
      },
    });
    const worker = await world.worker(app, { queues: ['math'] });
    const run = await add.enqueue({ a: 1, b: 2 }, { priority: 'high' });
    assert.match(run.id, UUID);
    assert.equal(await run.result({ timeout: '10s' }), 3);
    assert.equal(seen?.id, run.id);
    assert.equal(seen?.name, 'conformance.add');
    assert.equal(seen?.attempt, 1);
    assert.equal(seen?.queue, 'math');
    assert.equal(seen?.priority, 10);
    assert.ok(seen?.enqueuedAt instanceof Date);

    const info = await run.status();
    assert.equal(info.state, 'completed');
    assert.equal(info.result, 3);
    assert.equal(info.attempts, 1);
    assert.equal(info.workerId, worker.id);
    assert.ok(info.startedAt && info.finishedAt && info.startedAt <= info.finishedAt);
    assert.deepEqual(await app.getTask(run.id), info);

    const byName = await app.enqueue('conformance.add', { a: 20, b: 22 });
    const many = await app.enqueueMany([
      { task: 'conformance.add', input: { a: 1, b: 1 } },
      { task: 'conformance.add', input: { a: 2, b: 2 }, options: { priority: 'low' } },
    ]);
    assert.equal(many.length, 2);
    assert.deepEqual(await Promise.all([byName, ...many].map((r) => r.result({ timeout: '10s' }))), [42, 2, 4]);
  });

  cases.case('input failing the schema is rejected at enqueue with a ValidationError naming each issue; nothing is queued', async (world) => {
    const app = await world.app();
    const summarize = app.task({
      name: 'conformance.summarize',
      input: z.object({ text: z.string(), words: z.number().int() }),
      run: (input) => input.text.slice(0, input.words),
    });
    const bad = { text: 5, words: 1.5 } as unknown as { text: string; words: number };
    const error = await summarize.enqueue(bad).then(
      () => assert.fail('enqueue accepted invalid input'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
    assert.deepEqual(error.issues.map((issue) => issue.path).sort(), ['text', 'words']);
    assert.match(error.message, /text/);
    assert.match(error.message, /words/);
    await assert.rejects(
      app.enqueueMany([
        { task: 'conformance.summarize', input: { text: 'fine', words: 1 } },
        { task: 'conformance.summarize', input: { text: 'missing words' } },
      ]),
      ValidationError,
    );
    assert.deepEqual(await app.listTasks({}), [], 'nothing was queued, not even the valid one');
  });

  cases.case('input that JSON cannot hold (a function) is rejected at enqueue with a clear error; nothing is queued', async (world) => {
    const app = await world.app();
    await assert.rejects(app.enqueue('conformance.anything', () => 1), /input of 'conformance\.anything' cannot be stored as JSON/);
    await assert.rejects(
      app.enqueueMany([
        { task: 'conformance.anything', input: { fine: true } },
        { task: 'conformance.anything', input: Symbol('no') },
      ]),
      TypeError,
    );
    assert.deepEqual(await app.listTasks({}), [], 'nothing was queued, not even the valid one');
  });

  cases.case('a worker validates input again and fails an invalid task without retrying', async (world) => {
    const producer = await world.app();
    const app = await world.app();
    app.task({ name: 'conformance.strict', input: z.object({ n: z.number() }), run: (input) => input.n });
    await world.worker(app);
    const run = await producer.enqueue('conformance.strict', { n: 'one' }, { retry: { maxRetries: 3, delay: 10 } });
    await assert.rejects(run.result({ timeout: '10s' }), TaskFailedError);
    const info = await run.status();
    assert.equal(info.state, 'failed');
    assert.equal(info.error?.type, 'ValidationError');
    assert.equal(info.attempts, 1);
  });

  cases.case('a task no worker knows fails with a clear error and the worker keeps running', async (world) => {
    const app = await world.app();
    const known = app.task({ name: 'conformance.known', run: () => 'still here' });
    await world.worker(app);
    const unknown = await app.enqueue('conformance.nobody-knows', { x: 1 });
    const error = await unknown.result({ timeout: '10s' }).then(
      () => assert.fail('an unknown task completed'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof TaskFailedError);
    const info = await unknown.status();
    assert.equal(info.state, 'failed');
    assert.match(info.error?.message ?? '', /conformance\.nobody-knows/);
    assert.equal(await (await known.enqueue(undefined)).result({ timeout: '10s' }), 'still here');
  });

  cases.case('a concurrency-1 worker started after enqueueing runs urgent, high, normal, then low', async (world) => {
    const app = await world.app();
    const order: string[] = [];
    const record = app.task({ name: 'conformance.record', run: (input: { label: string }) => void order.push(input.label) });
    const runs = [];
    for (const label of ['low', 'normal', 'urgent', 'high'] as const) runs.push(await record.enqueue({ label }, { priority: label }));
    await world.worker(app, { concurrency: 1 });
    await Promise.all(runs.map((run) => run.result({ timeout: '10s' })));
    assert.deepEqual(order, ['urgent', 'high', 'normal', 'low']);
    const levels = await Promise.all(runs.map(async (run) => (await run.status()).priority));
    assert.deepEqual(levels, [0, 5, 15, 10], "'low'=0, 'normal'=5, 'urgent'=15, 'high'=10");
  });

  cases.case('result() throws TimeoutError when the task does not finish in time', async (world) => {
    const app = await world.app();
    const task = app.task({ name: 'conformance.unattended', run: () => 'never run' });
    const run = await task.enqueue(undefined);
    await assert.rejects(run.result({ timeout: '30ms' }), TimeoutError);
    assert.equal((await run.status()).state, 'queued');
  });

  cases.case('cancel of a queued task cancels it and result() throws TaskFailedError', async (world) => {
    const app = await world.app();
    let ran = false;
    const task = app.task({ name: 'conformance.never', run: () => void (ran = true) });
    const run = await task.enqueue(undefined);
    assert.equal(await run.cancel(), 'cancelled');
    const error = await run.result({ timeout: '10s' }).then(
      () => assert.fail('a cancelled task produced a result'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.state, 'cancelled');
    assert.equal((await run.status()).state, 'cancelled');
    const after = await task.enqueue(undefined);
    await world.worker(app);
    await after.result({ timeout: '10s' });
    assert.equal((await run.status()).state, 'cancelled', 'a worker never picks up a cancelled task');
    assert.equal(ran, true);
  });

  cases.case('a handler may take its context apart: progress, signal and log work unbound', async (world) => {
    const app = await world.app();
    const task = app.task({
      name: 'conformance.destructured',
      run: async (_input: unknown, { id, progress, signal, log, enqueuedAt }) => {
        await progress(40, { step: 'unbound' });
        log.debug({ enqueuedAt }, 'took the context apart');
        return { id, aborted: signal.aborted, enqueuedAt: enqueuedAt.getTime() };
      },
    });
    await world.worker(app);
    const before = Date.now();
    const run = await task.enqueue(undefined);
    const result = (await run.result({ timeout: '10s' })) as { id: string; aborted: boolean; enqueuedAt: number };
    assert.equal(result.id, run.id);
    assert.equal(result.aborted, false);
    assert.ok(result.enqueuedAt >= before && result.enqueuedAt <= Date.now(), 'enqueuedAt is the creation time');
    assert.deepEqual((await run.status()).progress, { percent: 40, meta: { step: 'unbound' } });
  });

  cases.case('cancel of an active task aborts ctx.signal and the task ends cancelled', async (world) => {
    const app = await world.app();
    const started = deferred();
    const reason = deferred<unknown>();
    const task = app.task({
      name: 'conformance.cancellable',
      run: async (_input: unknown, ctx) => {
        started.resolve();
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        reason.resolve(ctx.signal.reason);
        return 'finished anyway';
      },
    });
    const events = await recordApp(app);
    // A short lease: a broker that tells the worker only through renew still cancels promptly.
    await world.worker(app, { leaseTime: '300ms' });
    const run = await task.enqueue(undefined);
    await started.promise;
    assert.equal(await run.cancel(), 'requested');
    assert.ok((await reason.promise) instanceof TaskCancelledError);
    const cancelled = await events.waitForTask(run.id, 'task.cancelled');
    assert.ok(cancelled.type === 'task.cancelled');
    await assert.rejects(run.result({ timeout: '10s' }), TaskFailedError);
    const info = await run.status();
    assert.equal(info.state, 'cancelled');
    assert.equal(info.result, undefined);
  });

  cases.case('progress is stored on TaskInfo.progress and sent as task.progress events', async (world) => {
    const app = await world.app();
    const gate = deferred();
    const task = app.task({
      name: 'conformance.progress',
      run: async (_input: unknown, ctx) => {
        await ctx.progress(40, { stage: 'reading' });
        await gate.promise;
        await ctx.progress(100);
        return 'done';
      },
    });
    const events = await recordApp(app);
    await world.worker(app);
    const run = await task.enqueue(undefined);
    const first = await events.waitForTask(run.id, 'task.progress');
    assert.ok(first.type === 'task.progress');
    assert.equal(first.percent, 40);
    assert.deepEqual(first.meta, { stage: 'reading' });
    const during = await run.status();
    assert.equal(during.state, 'active');
    assert.deepEqual(during.progress, { percent: 40, meta: { stage: 'reading' } });
    gate.resolve();
    assert.equal(await run.result({ timeout: '10s' }), 'done');
    const percents = events.ofTask(run.id).flatMap((e) => (e.type === 'task.progress' ? [e.percent] : []));
    assert.deepEqual(percents, [40, 100]);
  });

  cases.case('ignoreResult completes the task without storing its result', async (world) => {
    const app = await world.app();
    const task = app.task({ name: 'conformance.fire-and-forget', ignoreResult: true, run: () => ({ big: 'x'.repeat(1000) }) });
    const kept = app.task({ name: 'conformance.kept', run: () => ({ small: 1 }) });
    await world.worker(app);
    const run = await task.enqueue(undefined);
    assert.equal(await run.result({ timeout: '10s' }) ?? null, null);
    const info = await run.status();
    assert.equal(info.state, 'completed');
    assert.equal(info.result ?? null, null);
    const other = await kept.enqueue(undefined, { ignoreResult: true });
    await other.result({ timeout: '10s' });
    assert.equal((await other.status()).result ?? null, null, 'ignoreResult as an enqueue option');
  });

  cases.case('finished tasks are kept for the result TTL, then pruned', async (world) => {
    const app = await world.app({ resultTtl: '1h' });
    const task = app.task({ name: 'conformance.ttl', run: () => 'kept' });
    await world.worker(app);
    const run = await task.enqueue(undefined);
    await run.result({ timeout: '10s' });
    const finishedAt = (await run.status()).finishedAt!.getTime();
    const broker = await app.broker();
    const policy = { ...KEEP_EVERYTHING, resultTtlMs: app.resultTtlMs };
    assert.equal(app.resultTtlMs, 3_600_000);
    await broker.prune(finishedAt + 3_600_000 - 1_000, policy);
    assert.equal((await run.status()).result, 'kept');
    await broker.prune(finishedAt + 3_600_000 + 1_000, policy);
    assert.equal(await app.getTask(run.id), null);
    await assert.rejects(run.status(), /not found/);
  });

  cases.case('a delayed task is scheduled, then runs once its delay has passed', async (world) => {
    const app = await world.app();
    const task = app.task({ name: 'conformance.later', run: () => 'ran' });
    const events = await recordApp(app);
    const run = await task.enqueue(undefined, { delay: '50ms' });
    const scheduled = await run.status();
    assert.equal(scheduled.state, 'scheduled');
    const event = await events.waitForTask(run.id, 'task.scheduled');
    assert.ok(event.type === 'task.scheduled');
    assert.equal(event.runAt, scheduled.scheduledFor?.getTime());
    assert.ok(event.runAt >= scheduled.createdAt.getTime() + 50);
    await world.worker(app);
    assert.equal(await run.result({ timeout: '10s' }), 'ran');
    const info = await run.status();
    assert.ok(info.startedAt!.getTime() >= event.runAt, 'it did not start before it was due');
  });

  cases.case('a delayed task runs when due even when a later one is scheduled after it', async (world) => {
    const app = await world.app();
    const task = app.task({ name: 'conformance.soon', run: (input: { label: string }) => input.label });
    await world.worker(app);
    const soon = await task.enqueue({ label: 'soon' }, { delay: '60ms' });
    const later = await task.enqueue({ label: 'later' }, { delay: '1h' });
    assert.equal(await soon.result({ timeout: '5s' }), 'soon');
    assert.equal((await later.status()).state, 'scheduled');
  });

  cases.case('a task with an eta runs no earlier than the eta', async (world) => {
    const app = await world.app();
    const task = app.task({ name: 'conformance.eta', run: () => 'on time' });
    const eta = new Date(Date.now() + 80);
    const run = await task.enqueue(undefined, { eta });
    const scheduled = await run.status();
    assert.equal(scheduled.state, 'scheduled');
    assert.equal(scheduled.scheduledFor?.getTime(), eta.getTime());
    await world.worker(app);
    assert.equal(await run.result({ timeout: '10s' }), 'on time');
    assert.ok((await run.status()).startedAt!.getTime() >= eta.getTime());
  });

  cases.case('a task not started before it expires is cancelled with reason expired', async (world) => {
    const app = await world.app();
    let ran = 0;
    const task = app.task({ name: 'conformance.perishable', run: () => void ran++ });
    const events = await recordApp(app);
    await world.worker(app);
    // Due only after it has expired: it can never start in time.
    const stale = await task.enqueue(undefined, { delay: '60ms', expires: '10ms' });
    const fresh = await task.enqueue(undefined, { expires: '1h' });
    await fresh.result({ timeout: '10s' });
    const cancelled = await events.waitForTask(stale.id, 'task.cancelled');
    assert.equal(cancelled.type === 'task.cancelled' && cancelled.reason, 'expired');
    const info = await stale.status();
    assert.equal(info.state, 'cancelled');
    assert.match(info.error?.message ?? '', /expired/);
    assert.equal(ran, 1);
  });

  cases.case('enqueue with an idempotency key returns the unfinished task instead of a new one', async (world) => {
    const app = await world.app();
    const task = app.task({ name: 'conformance.once', run: (input: { n: number }) => input.n });
    const first = await task.enqueue({ n: 1 }, { key: 'invoice-7' });
    const second = await task.enqueue({ n: 2 }, { key: 'invoice-7' });
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.equal(second.id, first.id);
    await world.worker(app);
    assert.equal(await second.result({ timeout: '10s' }), 1);
    const third = await task.enqueue({ n: 3 }, { key: 'invoice-7' });
    assert.equal(third.created, true);
    assert.notEqual(third.id, first.id);
    assert.equal(await third.result({ timeout: '10s' }), 3);
  });
}
