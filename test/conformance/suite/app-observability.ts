// App and worker cases: the event sequence of a task and of a worker, and stats.
import assert from 'node:assert/strict';
import { NonRetryableError } from '../../../src/index.js';
import { recordApp } from '../../support/events.js';
import type { Cases } from './world.js';

export function appObservabilityCases(cases: Cases): void {
  cases.case('a task emits queued, started, progress and completed, in order', async (world) => {
    const app = await world.app();
    const task = app.task({
      name: 'conformance.observed',
      queue: 'watched',
      run: async (_input: unknown, ctx) => {
        await ctx.progress(50, { stage: 'half' });
        return 'seen';
      },
    });
    const events = await recordApp(app);
    const worker = await world.worker(app, { queues: ['watched'] });
    const run = await task.enqueue(undefined, { priority: 3 });
    await events.waitForTask(run.id, 'task.completed');
    const sequence = events.ofTask(run.id);
    assert.deepEqual(sequence.map((e) => e.type), ['task.queued', 'task.started', 'task.progress', 'task.completed']);
    for (const event of sequence) {
      assert.ok('name' in event && event.name === 'conformance.observed');
      assert.ok('queue' in event && event.queue === 'watched');
      assert.equal(typeof event.timestamp, 'number');
    }
    const [queued, started, progress, completed] = sequence;
    assert.equal(queued?.type === 'task.queued' && queued.priority, 3);
    assert.ok(started?.type === 'task.started' && started.workerId === worker.id && started.attempt === 1);
    assert.ok(progress?.type === 'task.progress' && progress.percent === 50);
    assert.deepEqual(progress.meta, { stage: 'half' });
    assert.ok(completed?.type === 'task.completed' && completed.workerId === worker.id && completed.attempt === 1);
    assert.ok(sequence.every((e, i) => i === 0 || e.timestamp >= sequence[i - 1]!.timestamp));
  });

  cases.case('a retried task emits retrying, then queued and started again, and failed at the end', async (world) => {
    const app = await world.app();
    const task = app.task({
      name: 'conformance.twice',
      retry: { maxRetries: 1, delay: '10ms', jitter: false },
      run: (_input: unknown, ctx) => {
        throw new Error(`no luck ${ctx.attempt}`);
      },
    });
    const events = await recordApp(app);
    await world.worker(app);
    const run = await task.enqueue(undefined);
    await events.waitForTask(run.id, 'task.failed');
    const sequence = events.ofTask(run.id);
    assert.deepEqual(sequence.map((e) => e.type), [
      'task.queued',
      'task.started',
      'task.retrying',
      'task.queued',
      'task.started',
      'task.failed',
    ]);
    const retrying = sequence[2]!;
    assert.ok(retrying.type === 'task.retrying');
    assert.equal(retrying.attempt, 1);
    assert.equal(retrying.error.message, 'no luck 1');
    const failed = sequence[5]!;
    assert.ok(failed.type === 'task.failed');
    assert.equal(failed.attempt, 2);
    assert.equal(failed.error.message, 'no luck 2');
  });

  cases.case('a worker announces itself online, sends heartbeats, and goes offline on close', async (world) => {
    const app = await world.app();
    app.task({ name: 'conformance.registered', run: () => null });
    const events = await recordApp(app);
    const worker = await world.worker(app, { name: 'conformance-%i', queues: ['x', 'y'], concurrency: 3, heartbeatInterval: '50ms' });
    const mine = (type: string) => (e: { type: string; workerId?: string }) => e.type === type && e.workerId === worker.id;
    const [online] = await events.waitFor(mine('worker.online'));
    assert.ok(online?.type === 'worker.online');
    assert.equal(online.name, `conformance-${process.pid}`);
    assert.deepEqual(online.queues, ['x', 'y']);
    assert.equal(online.concurrency, 3);
    assert.equal(online.pid, process.pid);
    const beats = await events.waitFor(mine('worker.heartbeat'), 2);
    assert.ok(beats.every((e) => e.type === 'worker.heartbeat' && e.active === 0 && typeof e.processed === 'number'));

    const listed = (await app.listWorkers()).find((w) => w.id === worker.id);
    assert.ok(listed, 'a running worker is in the registry');
    assert.equal(listed.name, worker.name);
    assert.deepEqual(listed.queues, ['x', 'y']);
    assert.deepEqual(listed.tasks, ['conformance.registered']);
    assert.equal(listed.heartbeatInterval, 50);

    await worker.close();
    await events.waitFor(mine('worker.offline'));
    assert.equal((await app.listWorkers()).find((w) => w.id === worker.id), undefined);
    const order = events.matching((e) => 'workerId' in e && e.workerId === worker.id && e.type.startsWith('worker.'));
    assert.equal(order[0]?.type, 'worker.online');
    assert.equal(order.at(-1)?.type, 'worker.offline');
  });

  cases.case('stats report counts, live workers, success rate, throughput and wait and run times per queue', async (world) => {
    const app = await world.app();
    const task = app.task({
      name: 'conformance.measured',
      run: (input: { ok: boolean }) => {
        if (!input.ok) throw new NonRetryableError('bad');
        return 'ok';
      },
    });
    await app.enqueue('conformance.measured', { ok: true }, { queue: 'idle' });
    await world.worker(app);
    const runs = await Promise.all([{ ok: true }, { ok: true }, { ok: false }].map((input) => task.enqueue(input)));
    await Promise.all(runs.map((run) => run.result({ timeout: '10s' }).catch(() => undefined)));

    const stats = await app.stats();
    assert.ok(stats.at instanceof Date);
    assert.deepEqual(stats.workers, { live: 1, registered: 1 });
    const main = stats.queues.default;
    assert.ok(main, 'the default queue is reported');
    assert.deepEqual(main.counts, { scheduled: 0, queued: 0, active: 0, retrying: 0, completed: 2, failed: 1, cancelled: 0 });
    assert.equal(main.workers, 1);
    assert.equal(main.successRate, 2 / 3);
    assert.equal(main.throughputPerMinute, 3);
    for (const timing of [main.waitMs, main.runMs]) {
      assert.ok(timing, 'wait and run percentiles are present');
      assert.ok(timing.p50 >= 0 && timing.p95 >= timing.p50);
    }
    const idle = stats.queues.idle;
    assert.ok(idle);
    assert.equal(idle.counts.queued, 1);
    assert.equal(idle.workers, 0);
    assert.equal(idle.successRate, null);
    assert.equal(idle.throughputPerMinute, 0);
    assert.equal(idle.waitMs, null);
    assert.equal(stats.total.counts.completed, 2);
    assert.equal(stats.total.counts.queued, 1);
    assert.equal(stats.total.throughputPerMinute, 3);
  });
}
