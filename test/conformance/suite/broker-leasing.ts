// Broker cases: enqueue, and leasing (priority, FIFO, queues, limit, exclusivity, renew, release).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { LeasedTask } from '../../../src/broker/broker.js';
import type { Broker } from '../../../src/index.js';
import { enqueueOne, leaseRequest, newTask, NO_RETRY } from './records.js';
import type { Cases } from './world.js';

/** Leases one task at a time until the queues are empty; returns their ids in lease order. */
async function drain(broker: Broker, queues: string[], workerId = 'w-drain'): Promise<LeasedTask[]> {
  const leased: LeasedTask[] = [];
  for (;;) {
    const [task] = await broker.lease(leaseRequest(workerId, { queues }));
    if (!task) return leased;
    leased.push(task);
  }
}

export function brokerLeasingCases(cases: Cases): void {
  cases.case('enqueue stores one or many tasks and returns their ids in order', async (world) => {
    const broker = await world.broker();
    const [one] = await broker.enqueue([newTask({ name: 'conformance.one', input: { text: 'hi' }, priority: 10 })]);
    assert.ok(one);
    assert.equal(one.created, true);
    assert.equal(one.state, 'queued');

    const many = [newTask(), newTask({ queue: 'other' }), newTask({ priority: 0 })];
    const outcomes = await broker.enqueue(many);
    assert.deepEqual(
      outcomes.map((o) => [o.id, o.created, o.state]),
      many.map((t) => [t.id, true, 'queued']),
    );

    const info = await broker.getTask(one.id);
    assert.ok(info);
    assert.equal(info.id, one.id);
    assert.equal(info.name, 'conformance.one');
    assert.equal(info.queue, 'default');
    assert.equal(info.state, 'queued');
    assert.equal(info.priority, 10);
    assert.deepEqual(info.input, { text: 'hi' });
    assert.equal(info.attempts, 0);
    assert.equal(info.maxRetries, 0);
    assert.ok(info.createdAt instanceof Date);
    assert.deepEqual(info.errors, []);
    assert.equal(await broker.getTask(randomUUID()), null);
  });

  cases.case('enqueue with a future runAt stores the task as scheduled, not leasable', async (world) => {
    const broker = await world.broker();
    const runAt = Date.now() + 60_000;
    const [outcome] = await broker.enqueue([newTask({ runAt })]);
    assert.equal(outcome?.state, 'scheduled');
    const info = await broker.getTask(outcome.id);
    assert.equal(info?.state, 'scheduled');
    assert.equal(info?.scheduledFor?.getTime(), runAt);
    assert.deepEqual(await broker.lease(leaseRequest('w1', { limit: 10 })), []);
  });

  cases.case('leases strictly by priority across all 16 levels, FIFO within a priority', async (world) => {
    const broker = await world.broker();
    // Two tasks per level, levels scrambled, enqueued over three calls.
    const tasks = Array.from({ length: 32 }, (_, i) => newTask({ priority: (i * 7) % 16, input: { i } }));
    await broker.enqueue(tasks.slice(0, 10));
    await broker.enqueue(tasks.slice(10, 11));
    await broker.enqueue(tasks.slice(11));
    const expected = tasks
      .map((task, order) => ({ id: task.id, priority: task.priority, order }))
      .sort((a, b) => b.priority - a.priority || a.order - b.order)
      .map((task) => task.id);
    const leased = await drain(broker, ['default']);
    assert.deepEqual(
      leased.map((task) => task.id),
      expected,
    );
    assert.deepEqual(
      leased.map((task) => task.priority),
      [...Array(16).keys()].reverse().flatMap((p) => [p, p]),
    );
  });

  cases.case('leases by priority across several queues, only from the queues asked for', async (world) => {
    const broker = await world.broker();
    const plan: Array<[string, number]> = [
      ['a', 1], ['b', 9], ['c', 15], ['a', 9], ['b', 1], ['a', 15], ['b', 15], ['c', 9], ['a', 1], ['b', 9],
    ];
    const tasks = plan.map(([queue, priority], i) => newTask({ queue, priority, input: { i } }));
    await broker.enqueue(tasks);
    const leased = await drain(broker, ['a', 'b']);
    assert.equal(leased.length, 8);
    assert.ok(leased.every((task) => task.queue !== 'c'), 'leased a task of a queue it did not ask for');
    const priorities = leased.map((task) => task.priority);
    assert.deepEqual(priorities, [...priorities].sort((x, y) => y - x), 'priority is strict across queues');
    for (const queue of ['a', 'b']) {
      for (const priority of [1, 9, 15]) {
        const enqueued = tasks.filter((t) => t.queue === queue && t.priority === priority).map((t) => t.id);
        const got = leased.filter((t) => t.queue === queue && t.priority === priority).map((t) => t.id);
        assert.deepEqual(got, enqueued, `FIFO within queue ${queue}, priority ${priority}`);
      }
    }
    const leftInC = await broker.listTasks({ queue: 'c', state: 'queued' });
    assert.equal(leftInC.length, 2);
  });

  cases.case('lease returns at most limit tasks, the best ones first', async (world) => {
    const broker = await world.broker();
    const tasks = [0, 3, 15, 7, 12].map((priority) => newTask({ priority }));
    await broker.enqueue(tasks);
    const first = await broker.lease(leaseRequest('w1', { limit: 3 }));
    assert.equal(first.length, 3);
    assert.deepEqual(first.map((task) => task.priority).sort((a, b) => b - a), [15, 12, 7]);
    const rest = await broker.lease(leaseRequest('w1', { limit: 10 }));
    assert.deepEqual(rest.map((task) => task.priority).sort((a, b) => b - a), [3, 0]);
    assert.deepEqual(await broker.lease(leaseRequest('w1', { limit: 10 })), []);
  });

  cases.case('a lease from several queues counts only what it can give: expired tasks are cancelled first, the rest goes to the next best', async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    await broker.enqueue([
      newTask({ queue: 'a', priority: 10, expiresAt: t0 + 100 }),
      newTask({ queue: 'a', priority: 4 }),
      newTask({ queue: 'b', priority: 5 }),
      newTask({ queue: 'b', priority: 1 }),
    ]);
    const leased = await broker.lease(leaseRequest('w1', { queues: ['a', 'b'], limit: 3, now: t0 + 1_000 }));
    assert.deepEqual(
      leased.map((task) => `${task.queue}/${task.priority}`),
      ['b/5', 'a/4', 'b/1'],
    );
    assert.equal((await broker.counts()).a?.cancelled, 1, 'the expired task');
  });

  cases.case("a lease from several queues keeps each queue's order: a task that came back waits behind younger ones", async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    const old = await enqueueOne(broker, { queue: 'a' });
    await broker.lease(leaseRequest('w1', { queues: ['a'], now: t0 }));
    const error = { type: 'Error', message: 'again later' };
    assert.deepEqual(await broker.settle([{ kind: 'retry', taskId: old, workerId: 'w1', error, runAt: t0 + 10, now: t0 }]), [true]);
    const young = await enqueueOne(broker, { queue: 'a' });
    await enqueueOne(broker, { queue: 'b' });
    assert.equal((await broker.maintain(t0 + 10)).promoted, 1, 'the retry joins the back of its queue');
    const leased = await broker.lease(leaseRequest('w2', { queues: ['a', 'b'], limit: 3, now: t0 + 10 }));
    assert.equal(leased.length, 3);
    assert.deepEqual(
      leased.filter((task) => task.queue === 'a').map((task) => task.id),
      [young, old],
    );
  });

  cases.case('a leased task carries its record and is not leased again while its lease is held', async (world) => {
    const broker = await world.broker();
    const execution = { ...NO_RETRY, timeLimit: 5_000, softTimeLimit: 4_000 };
    const task = newTask({ name: 'conformance.leased', input: { deep: { list: [1, 2] } }, priority: 12, execution });
    await broker.enqueue([task]);
    const now = Date.now();
    const [leased] = await broker.lease(leaseRequest('w1', { now, leaseMs: 10_000 }));
    assert.ok(leased);
    assert.equal(leased.id, task.id);
    assert.equal(leased.name, 'conformance.leased');
    assert.equal(leased.queue, 'default');
    assert.equal(leased.priority, 12);
    assert.deepEqual(leased.input, { deep: { list: [1, 2] } });
    assert.equal(leased.attempt, 1);
    assert.equal(leased.createdAt, task.createdAt);
    assert.deepEqual(leased.execution, execution);
    assert.equal(leased.leaseExpiresAt, now + 10_000);
    assert.equal(leased.decodeError, undefined);

    assert.deepEqual(await broker.lease(leaseRequest('w2', { now: now + 9_000 })), []);
    assert.deepEqual(await broker.lease(leaseRequest('w1', { now: now + 9_000 })), []);
    const info = await broker.getTask(task.id);
    assert.equal(info?.state, 'active');
    assert.equal(info?.workerId, 'w1');
    assert.equal(info?.attempts, 1);
    assert.ok(info?.startedAt instanceof Date);
  });

  cases.case('renew extends the lease of its holder only', async (world) => {
    const broker = await world.broker();
    const id = await enqueueOne(broker);
    const t0 = Date.now();
    await broker.lease(leaseRequest('w1', { now: t0, leaseMs: 1_000 }));
    assert.deepEqual(await broker.renew('w1', [id], 5_000, t0 + 500), { lost: [], cancelRequested: [] });
    assert.equal((await broker.maintain(t0 + 2_000)).rescued, 0, 'the renewed lease must still hold');
    assert.equal((await broker.getTask(id))?.state, 'active');

    const stranger = await broker.renew('w2', [id], 60_000, t0 + 600);
    assert.deepEqual(stranger.lost, [id], 'a worker that does not hold the lease has lost it');
    const unknown = randomUUID();
    assert.deepEqual((await broker.renew('w1', [id, unknown], 5_000, t0 + 700)).lost, [unknown]);

    assert.equal((await broker.maintain(t0 + 5_701)).rescued, 1, 'the stranger did not extend the lease');
    assert.deepEqual((await broker.renew('w1', [id], 5_000, t0 + 5_800)).lost, [id]);
  });

  cases.case('renew naming an attempt extends only that attempt: an earlier one of a task leased again counts as lost', async (world) => {
    const broker = await world.broker();
    const id = await enqueueOne(broker);
    const t0 = Date.now();
    const [first] = await broker.lease(leaseRequest('w1', { now: t0, leaseMs: 1_000 }));
    assert.equal(first?.attempt, 1);
    assert.deepEqual(await broker.renew('w1', [id], 1_000, t0 + 100, [1]), { lost: [], cancelRequested: [] });
    // The lease lapses, the task goes back to its queue, and the same worker leases it again.
    assert.equal((await broker.maintain(t0 + 1_200)).rescued, 1);
    const [second] = await broker.lease(leaseRequest('w1', { now: t0 + 1_300, leaseMs: 1_000 }));
    assert.equal(second?.attempt, 2);

    assert.deepEqual((await broker.renew('w1', [id], 60_000, t0 + 1_400, [1])).lost, [id], 'the earlier attempt is lost');
    assert.equal((await broker.maintain(t0 + 2_301)).rescued, 1, 'renewing the earlier attempt did not extend the later one');
    const [third] = await broker.lease(leaseRequest('w1', { now: t0 + 2_400, leaseMs: 1_000 }));
    assert.equal(third?.attempt, 3);
    assert.deepEqual(await broker.renew('w1', [id], 5_000, t0 + 2_500, [3]), { lost: [], cancelRequested: [] });
    assert.equal((await broker.maintain(t0 + 3_401)).rescued, 0, 'the named attempt was renewed');
    assert.deepEqual((await broker.renew('w1', [id], 5_000, t0 + 3_500)).lost, [], 'without attempts, any attempt the worker holds');
  });

  cases.case('release hands a task back at once without counting the attempt', async (world) => {
    const broker = await world.broker();
    const id = await enqueueOne(broker);
    const [first] = await broker.lease(leaseRequest('w1'));
    assert.equal(first?.attempt, 1);
    assert.equal(await broker.release('w2', [id], Date.now()), 0, 'only the holder can release');
    assert.equal(await broker.release('w1', [id], Date.now()), 1);
    const info = await broker.getTask(id);
    assert.equal(info?.state, 'queued');
    assert.equal(info?.attempts, 0);
    assert.deepEqual(info?.errors, []);
    assert.equal(info?.startedAt, undefined, 'the attempt does not count: nor does its start');
    const [again] = await broker.lease(leaseRequest('w2'));
    assert.equal(again?.id, id, 'leasable again at once, without waiting for the lease to expire');
    assert.equal(again?.attempt, 1);
    assert.equal(await broker.release('w1', [id], Date.now()), 0, 'a former holder cannot release it');
  });

  cases.case('release naming an attempt hands back only that attempt: a task leased again since keeps its new lease', async (world) => {
    const broker = await world.broker();
    const id = await enqueueOne(broker);
    const cancelled = await enqueueOne(broker);
    const t0 = Date.now();
    const first = await broker.lease(leaseRequest('w1', { now: t0, leaseMs: 1_000, limit: 2 }));
    assert.deepEqual(first.map((task) => task.attempt), [1, 1]);
    // Both leases lapse, both tasks go back to their queue, and the same worker leases them again.
    assert.equal((await broker.maintain(t0 + 1_200)).rescued, 2);
    const second = await broker.lease(leaseRequest('w1', { now: t0 + 1_300, leaseMs: 60_000, limit: 2 }));
    assert.deepEqual(second.map((task) => task.attempt), [2, 2]);
    assert.equal(await broker.cancel(cancelled, 'asked', t0 + 1_350), 'requested');

    assert.equal(await broker.release('w1', [id, cancelled], t0 + 1_400, [1, 1]), 0, 'the earlier attempts are not held any more');
    const kept = await broker.getTask(id);
    assert.equal(kept?.state, 'active', 'the later attempt keeps its lease');
    assert.equal(kept?.attempts, 2);
    assert.equal((await broker.getTask(cancelled))?.state, 'active', 'nor is the later attempt cancelled by the earlier one');
    assert.deepEqual(await broker.lease(leaseRequest('w2', { now: t0 + 1_500 })), [], 'nothing went back to the queue');

    assert.equal(await broker.release('w1', [id, cancelled], t0 + 1_600, [2, 2]), 1, 'the attempt held is handed back');
    const back = await broker.getTask(id);
    assert.equal(back?.state, 'queued');
    assert.equal(back?.attempts, 1, 'the attempt handed back does not count');
    assert.equal((await broker.getTask(cancelled))?.state, 'cancelled', 'handed back while its cancellation was asked');
  });

  cases.case('release hands tasks back in the place they had: ahead of the tasks queued after them', async (world) => {
    const broker = await world.broker();
    const [a, b, c] = [await enqueueOne(broker), await enqueueOne(broker), await enqueueOne(broker)];
    const leased = await broker.lease(leaseRequest('w1', { limit: 2 }));
    assert.deepEqual(new Set(leased.map((task) => task.id)), new Set([a, b]));
    const d = await enqueueOne(broker);
    assert.equal(await broker.release('w1', [a, b], Date.now()), 2);
    const order: string[] = [];
    for (let n = 0; n < 4; n++) {
      const [next] = await broker.lease(leaseRequest('w2'));
      order.push(next!.id);
    }
    assert.deepEqual(order, [a, b, c, d]);
  });
}
