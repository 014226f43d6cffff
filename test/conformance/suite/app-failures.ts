// App and worker cases: retries and backoff, non-retryable errors, time limits, leases held by live
// workers and lost by dead ones, and graceful shutdown.
import assert from 'node:assert/strict';
import {
  NonRetryableError,
  SoftTimeLimitError,
  TaskFailedError,
  TimeLimitError,
  WorkerShutdownError,
} from '../../../src/index.js';
import type { CeleriacEvent } from '../../../src/index.js';
import { deferred } from '../../support/deferred.js';
import { recordApp } from '../../support/events.js';
import type { Cases } from './world.js';

const never = () => new Promise<never>(() => undefined);

function retryingEvents(events: CeleriacEvent[]) {
  return events.flatMap((e) => (e.type === 'task.retrying' ? [e] : []));
}

export function appFailureCases(cases: Cases): void {
  cases.case('retries a failed task with exponential backoff: delay * 2^(n-1), capped by maxDelay', async (world) => {
    const app = await world.app();
    const task = app.task({
      name: 'conformance.flaky',
      retry: { maxRetries: 3, backoff: 'exponential', delay: '20ms', maxDelay: '50ms', jitter: false },
      run: (_input: unknown, ctx) => {
        throw new Error(`attempt ${ctx.attempt} failed`);
      },
    });
    const events = await recordApp(app);
    await world.worker(app);
    const run = await task.enqueue(undefined);
    await assert.rejects(run.result({ timeout: '10s' }), TaskFailedError);

    const retries = retryingEvents(events.ofTask(run.id));
    assert.deepEqual(retries.map((e) => e.runAt - e.timestamp), [20, 40, 50]);
    assert.deepEqual(retries.map((e) => e.attempt), [1, 2, 3]);
    const starts = events.ofTask(run.id).flatMap((e) => (e.type === 'task.started' ? [e] : []));
    assert.deepEqual(starts.map((e) => e.attempt), [1, 2, 3, 4]);
    retries.forEach((retry, i) => assert.ok(starts[i + 1]!.timestamp >= retry.runAt, `retry ${i + 1} started early`));

    const info = await run.status();
    assert.equal(info.state, 'failed');
    assert.equal(info.attempts, 4);
    assert.equal(info.maxRetries, 3);
    assert.equal(info.error?.message, 'attempt 4 failed');
    assert.deepEqual(
      info.errors.map((e) => [e.attempt, e.message]),
      [1, 2, 3, 4].map((n) => [n, `attempt ${n} failed`]),
    );
  });

  cases.case('with jitter, each retry waits between zero and the exponential delay', async (world) => {
    const app = await world.app();
    const task = app.task({
      name: 'conformance.jittery',
      retry: { maxRetries: 2, delay: '40ms', maxDelay: '1s', jitter: true },
      run: () => {
        throw new Error('nope');
      },
    });
    const events = await recordApp(app);
    await world.worker(app);
    const run = await task.enqueue(undefined);
    await assert.rejects(run.result({ timeout: '10s' }), TaskFailedError);
    const delays = retryingEvents(events.ofTask(run.id)).map((e) => e.runAt - e.timestamp);
    assert.equal(delays.length, 2);
    assert.ok(delays[0]! >= 0 && delays[0]! <= 40, `first delay ${delays[0]}`);
    assert.ok(delays[1]! >= 0 && delays[1]! <= 80, `second delay ${delays[1]}`);
  });

  cases.case('a retrying task is held by the broker and retried by another worker', async (world) => {
    const app = await world.app();
    const task = app.task({
      name: 'conformance.handed-over',
      retry: { maxRetries: 1, delay: '100ms', jitter: false },
      run: (_input: unknown, ctx) => {
        if (ctx.attempt === 1) throw new Error('first worker fails');
        return `attempt ${ctx.attempt}`;
      },
    });
    const events = await recordApp(app);
    const first = await world.worker(app);
    const run = await task.enqueue(undefined);
    await events.waitForTask(run.id, 'task.retrying');
    await first.close();
    assert.equal((await run.status()).state, 'retrying');
    const second = await world.worker(app);
    assert.equal(await run.result({ timeout: '10s' }), 'attempt 2');
    assert.equal((await run.status()).workerId, second.id);
  });

  cases.case('a task that succeeds on a retry completes and keeps the errors of its failed attempts', async (world) => {
    const app = await world.app();
    const task = app.task({
      name: 'conformance.third-time-lucky',
      retry: { maxRetries: 5, delay: '10ms', jitter: false },
      run: (_input: unknown, ctx) => {
        if (ctx.attempt < 3) throw new TypeError(`not yet (${ctx.attempt})`);
        return `ok on ${ctx.attempt}`;
      },
    });
    await world.worker(app);
    const run = await task.enqueue(undefined);
    assert.equal(await run.result({ timeout: '10s' }), 'ok on 3');
    const info = await run.status();
    assert.equal(info.state, 'completed');
    assert.equal(info.attempts, 3);
    assert.deepEqual(
      info.errors.map((e) => [e.attempt, e.type, e.message]),
      [
        [1, 'TypeError', 'not yet (1)'],
        [2, 'TypeError', 'not yet (2)'],
      ],
    );
    assert.ok(info.errors.every((e) => e.at instanceof Date));
  });

  cases.case('NonRetryableError fails the task at once, without retries', async (world) => {
    const app = await world.app();
    const task = app.task({
      name: 'conformance.hopeless',
      retry: { maxRetries: 5, delay: '10ms' },
      run: () => {
        throw new NonRetryableError('not an address');
      },
    });
    const events = await recordApp(app);
    await world.worker(app);
    const run = await task.enqueue(undefined);
    const error = await run.result({ timeout: '10s' }).then(
      () => assert.fail('it completed'),
      (thrown: unknown) => thrown,
    );
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.error?.type, 'NonRetryableError');
    const info = await run.status();
    assert.equal(info.state, 'failed');
    assert.equal(info.attempts, 1);
    assert.deepEqual(info.error && [info.error.type, info.error.message], ['NonRetryableError', 'not an address']);
    assert.equal(info.errors.length, 1);
    const failed = await events.waitForTask(run.id, 'task.failed');
    assert.ok(failed.type === 'task.failed');
    assert.equal(failed.error.type, 'NonRetryableError');
    assert.equal(retryingEvents(events.ofTask(run.id)).length, 0);
  });

  cases.case('a soft time limit aborts ctx.signal with a SoftTimeLimitError reason', async (world) => {
    const app = await world.app();
    const task = app.task({
      name: 'conformance.soft-limited',
      softTimeLimit: '30ms',
      timeLimit: '10s',
      run: async (_input: unknown, ctx) => {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        const reason: unknown = ctx.signal.reason;
        return { soft: reason instanceof SoftTimeLimitError, name: (reason as Error).name };
      },
    });
    await world.worker(app);
    const run = await task.enqueue(undefined);
    assert.deepEqual(await run.result({ timeout: '10s' }), { soft: true, name: 'SoftTimeLimitError' });
    assert.equal((await run.status()).state, 'completed', 'the handler chose to finish: the soft limit does not fail it');
  });

  cases.case('a hard time limit fails the attempt with TimeLimitError and frees its slot', async (world) => {
    const app = await world.app();
    const reason = deferred<unknown>();
    const stuck = app.task({
      name: 'conformance.stuck',
      timeLimit: '50ms',
      run: async (_input: unknown, ctx) => {
        ctx.signal.addEventListener('abort', () => reason.resolve(ctx.signal.reason), { once: true });
        return never(); // Ignores its signal: only the hard limit can end it.
      },
    });
    const next = app.task({ name: 'conformance.next', run: () => 'ran after' });
    const hung = await stuck.enqueue(undefined, { priority: 'urgent' });
    const after = await next.enqueue(undefined, { priority: 'low' });
    await world.worker(app, { concurrency: 1 });
    assert.equal(await after.result({ timeout: '10s' }), 'ran after', 'the slot of the stuck task was freed');
    assert.ok((await reason.promise) instanceof TimeLimitError);
    const info = await hung.status();
    assert.equal(info.state, 'failed');
    assert.equal(info.error?.type, 'TimeLimitError');
    assert.equal(info.errors[0]?.type, 'TimeLimitError');
    assert.ok(info.finishedAt! <= (await after.status()).startedAt!);
  });

  cases.case('a live worker keeps its lease however long the task runs', async (world) => {
    const app = await world.app();
    let runs = 0;
    const task = app.task({
      name: 'conformance.long',
      run: async () => {
        runs++;
        // The work itself: three lease periods, so the lease must be renewed to survive.
        await new Promise((resolve) => setTimeout(resolve, 900));
        return 'survived';
      },
    });
    const events = await recordApp(app);
    await world.worker(app, { leaseTime: '300ms', concurrency: 1 });
    await world.worker(app, { leaseTime: '300ms', concurrency: 1 });
    const run = await task.enqueue(undefined);
    assert.equal(await run.result({ timeout: '10s' }), 'survived');
    const info = await run.status();
    assert.equal(info.attempts, 1);
    assert.deepEqual(info.errors, []);
    assert.equal(runs, 1);
    assert.equal(events.ofTask(run.id).filter((e) => e.type === 'task.started').length, 1);
  });

  cases.case('slow tasks leased ahead by a worker busy with a slow one go back to their queue for a worker with room', async (world) => {
    // Worker A runs a burst of quick tasks alone, so its prefetch window is wide open when the slow
    // tasks queued behind them arrive; it may lease them all, then runs the first and holds the rest.
    // Worker B, started once A is stuck, must get the others instead of idling until A's slow one ends.
    const slowCount = 3;
    const gates = Array.from({ length: slowCount }, () => deferred());
    const ranOn = new Map<number, string>();
    const startedOn = (n: number, worker: string) => {
      ranOn.set(n, worker);
      return gates[n]!.promise.then(() => n);
    };
    const appA = await world.app();
    const appB = await world.app();
    const firstStarted = deferred();
    // About a millisecond each, so the burst spans several of A's 100 ms rate windows (a burst that ends
    // within A's first window gives it no rate yet, and no window).
    const quick = (n: number) => new Promise<number>((resolve) => setTimeout(() => resolve(n), 1));
    appA.task({ name: 'conformance.quick', run: quick });
    appA.task({
      name: 'conformance.slow',
      run: (n: number) => {
        firstStarted.resolve();
        return startedOn(n, 'A');
      },
    });
    appB.task({ name: 'conformance.quick', run: quick });
    appB.task({
      name: 'conformance.slow',
      run: (n: number) => {
        gates[n]!.resolve(); // B's slow tasks end at once.
        return startedOn(n, 'B');
      },
    });
    const events = await recordApp(appA);
    // All queued before A starts, so A reaches the slow tasks at the end of its burst, window wide open.
    await appA.enqueueMany(Array.from({ length: 300 }, (_, n) => ({ task: 'conformance.quick', input: n })));
    const slow = await appA.enqueueMany(Array.from({ length: slowCount }, (_, n) => ({ task: 'conformance.slow', input: n })));
    await world.worker(appA, { concurrency: 1 });
    await firstStarted.promise;
    await world.worker(appB, { concurrency: 1 });
    const first = [...ranOn.keys()][0]!;
    const others = slow.filter((_, n) => n !== first);
    assert.deepEqual(await Promise.all(others.map((run) => run.result({ timeout: '10s' }))), others.map((_, i) => (i < first ? i : i + 1)));
    assert.deepEqual([...ranOn.entries()].filter(([n]) => n !== first).map(([, worker]) => worker), ['B', 'B']);
    assert.equal((await slow[first]!.status()).state, 'active', "A's slow task still runs");
    gates[first]!.resolve();
    assert.equal(await slow[first]!.result({ timeout: '10s' }), first);
    // Whatever A had leased ahead it handed back unrun, and B ran it: a task A kept would still wait behind
    // A's slow one, and its result above would have timed out. Each lease publishes task.started, each
    // hand-back task.queued again. How many A leased ahead depends on its window when it reached them:
    // usually both, but a pause of 100 ms on a loaded machine just before that lease closes the window,
    // and A then leases only the one it runs.
    for (const run of others) {
      assert.equal((await run.status()).attempts, 1, 'a handed-back task is not a new attempt');
      const count = (type: string) => events.ofTask(run.id).filter((e) => e.type === type).length;
      assert.equal(count('task.queued'), count('task.started'), 'queued once, then again after each lease A handed back');
    }
  });

  cases.case("a dead worker's task runs again as a new attempt once its lease expires", async (world) => {
    const app = await world.app();
    const attempts: number[] = [];
    const task = app.task({
      name: 'conformance.orphan',
      run: (_input: unknown, ctx) => {
        attempts.push(ctx.attempt);
        return 'rescued';
      },
    });
    const run = await task.enqueue(undefined);
    // A worker that leased it and died: its lease ran out long ago.
    const broker = await app.broker();
    const [leased] = await broker.lease({ workerId: 'dead-worker', queues: ['default'], limit: 1, leaseMs: 1_000, now: Date.now() - 60_000 });
    assert.equal(leased?.id, run.id);
    await world.worker(app);
    assert.equal(await run.result({ timeout: '10s' }), 'rescued');
    assert.deepEqual(attempts, [2]);
    const info = await run.status();
    assert.equal(info.attempts, 2);
    assert.deepEqual(info.errors.map((e) => [e.type, e.attempt]), [['WorkerLostError', 1]]);
  });

  cases.case('graceful close lets an active task finish within the shutdown timeout', async (world) => {
    const app = await world.app();
    const started = deferred();
    const gate = deferred();
    const task = app.task({
      name: 'conformance.finishing',
      run: async () => {
        started.resolve();
        await gate.promise;
        return 'finished';
      },
    });
    const worker = await world.worker(app, { shutdownTimeout: '10s' });
    const run = await task.enqueue(undefined);
    await started.promise;
    const closing = worker.close();
    gate.resolve();
    await closing;
    const info = await run.status();
    assert.equal(info.state, 'completed');
    assert.equal(info.result, 'finished');
  });

  cases.case('graceful close hands back an active task whose handler ignores the signal', async (world) => {
    const app = await world.app();
    const started = deferred();
    const reason = deferred<unknown>();
    let calls = 0;
    const task = app.task({
      name: 'conformance.stubborn',
      run: async (_input: unknown, ctx) => {
        if (++calls > 1) return `run ${calls}, attempt ${ctx.attempt}`;
        ctx.signal.addEventListener('abort', () => reason.resolve(ctx.signal.reason), { once: true });
        started.resolve();
        return never();
      },
    });
    const worker = await world.worker(app, { shutdownTimeout: '50ms' });
    const run = await task.enqueue(undefined);
    await started.promise;
    await worker.close();
    assert.ok((await reason.promise) instanceof WorkerShutdownError);
    const info = await run.status();
    assert.equal(info.state, 'queued', 'handed back to its queue, not left active');
    assert.equal(info.attempts, 0, 'the interrupted attempt does not count');
    assert.equal(info.workerId, undefined);

    await world.worker(app);
    assert.equal(await run.result({ timeout: '10s' }), 'run 2, attempt 1');
  });

  cases.case('graceful close hands back the attempt it holds: a second one, after a worker died in the first', async (world) => {
    const app = await world.app();
    const started = deferred();
    let calls = 0;
    const task = app.task({
      name: 'conformance.stubborn-again',
      run: async (_input: unknown, ctx) => {
        if (++calls > 1) return `run ${calls}, attempt ${ctx.attempt}`;
        started.resolve();
        return never();
      },
    });
    const run = await task.enqueue(undefined);
    // A worker that leased it and died: its lease ran out long ago, so the next lease is the second attempt.
    const broker = await app.broker();
    await broker.lease({ workerId: 'dead-worker', queues: ['default'], limit: 1, leaseMs: 1_000, now: Date.now() - 60_000 });
    const worker = await world.worker(app, { shutdownTimeout: '50ms' });
    await started.promise;
    await worker.close();
    const info = await run.status();
    assert.equal(info.state, 'queued', 'the worker named the attempt it held, so it was handed back');
    assert.equal(info.attempts, 1, 'the lost first attempt counts, the interrupted second does not');

    await world.worker(app);
    assert.equal(await run.result({ timeout: '10s' }), 'run 2, attempt 2');
  });
}
