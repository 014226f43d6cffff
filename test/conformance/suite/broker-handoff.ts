// Broker cases: direct hand-off to idle workers (Broker.openInbox, LeaseRequest.handoffUntil). A broker
// that offers no hand-off skips these by name; one that does must never let a hand-off overtake a
// waiting task, hand a worker more than the room its lease left, or lose a task handed to a worker
// that never takes it.
import assert from 'node:assert/strict';
import type { Inbox, LeaseRequest } from '../../../src/broker/broker.js';
import type { Broker } from '../../../src/index.js';
import { recordBroker } from '../../support/events.js';
import { enqueueOne, leaseRequest, newTask } from './records.js';
import type { Cases, World } from './world.js';

async function openInbox(world: World, broker: Broker, workerId: string, queues = ['default']): Promise<Inbox> {
  assert.ok(broker.openInbox, 'this broker offers no hand-off');
  const inbox = await broker.openInbox(workerId, queues);
  assert.ok(inbox, `no inbox for a worker of ${queues.join(', ')}`);
  world.defer(() => inbox.dispose());
  return inbox;
}

/** A lease that finds the queue empty, registering `workerId` for hand-offs with room for `limit`. */
async function park(broker: Broker, workerId: string, overrides: Partial<LeaseRequest> = {}): Promise<void> {
  const now = Date.now();
  const leased = await broker.lease(leaseRequest(workerId, { limit: 5, now, handoffUntil: now + 60_000, ...overrides }));
  assert.deepEqual(leased, [], 'the queue was expected to be empty');
}

export function brokerHandoffCases(cases: Cases): void {
  cases.case('hand-off: a task enqueued while a worker waits idle is leased to it and arrives in its inbox', async (world) => {
    const broker = await world.broker();
    const events = await recordBroker(broker);
    world.defer(() => events.stop());
    const inbox = await openInbox(world, broker, 'w1');
    await park(broker, 'w1');
    const before = Date.now();
    const id = await enqueueOne(broker, { input: { text: 'hi' }, priority: 9 });

    const tasks = await inbox.take();
    assert.equal(tasks?.length, 1);
    const [task] = tasks!;
    assert.equal(task?.id, id);
    assert.deepEqual(task?.input, { text: 'hi' });
    assert.equal(task?.priority, 9);
    assert.equal(task?.attempt, 1);
    assert.equal(task?.queue, 'default');
    assert.ok(task!.leaseExpiresAt >= before + 30_000 - 1_000, 'leased for the lease time the worker asked for');

    const info = await broker.getTask(id);
    assert.equal(info?.state, 'active');
    assert.equal(info?.workerId, 'w1');
    assert.equal(info?.attempts, 1);
    const started = await events.waitForTask(id, 'task.started');
    assert.equal(started.type === 'task.started' && started.workerId, 'w1');
    await events.waitForTask(id, 'task.queued');
    assert.deepEqual(await broker.settle([{ kind: 'complete', taskId: id, workerId: 'w1', now: Date.now(), result: 'ok' }]), [true]);
    assert.equal((await broker.getTask(id))?.result, 'ok');
  });

  cases.case('hand-off: never more than the room the lease left, never ahead of a waiting task', async (world) => {
    const broker = await world.broker();
    const inbox = await openInbox(world, broker, 'w1');
    await park(broker, 'w1', { limit: 2 });
    const outcomes = await broker.enqueue([newTask(), newTask(), newTask()]);
    const [a, b, c] = outcomes.map((outcome) => outcome.id);
    const handed = await inbox.take();
    assert.deepEqual(handed?.map((task) => task.id), [a, b], 'the first two fill the room');
    assert.equal((await broker.getTask(c!))?.state, 'queued');

    // w2 takes c and parks; a task then re-enters the queue (promoted): a new task must queue behind it.
    const t0 = Date.now();
    const due = await enqueueOne(broker, { runAt: t0 + 1_000 });
    const now = Date.now();
    const [leased] = await broker.lease(leaseRequest('w2', { limit: 5, now, handoffUntil: now + 60_000 }));
    assert.equal(leased?.id, c);
    assert.equal((await broker.maintain(t0 + 1_000)).promoted, 1);
    const fresh = await enqueueOne(broker);
    assert.equal((await broker.getTask(fresh))?.state, 'queued', 'handed off ahead of the promoted task');
    const next = await broker.lease(leaseRequest('w3', { limit: 5 }));
    assert.deepEqual(next.map((task) => task.id), [due, fresh]);
  });

  cases.case('hand-off: each attempt the worker ends gives back the room its task took', async (world) => {
    const broker = await world.broker();
    const inbox = await openInbox(world, broker, 'w1');
    await park(broker, 'w1', { limit: 1 });
    const first = await enqueueOne(broker);
    assert.deepEqual((await inbox.take())?.map((task) => task.id), [first]);
    assert.deepEqual(await broker.settle([{ kind: 'complete', taskId: first, workerId: 'w1', now: Date.now(), result: null }]), [true]);
    const second = await enqueueOne(broker);
    assert.deepEqual((await inbox.take())?.map((task) => task.id), [second], 'handed off in the room the first gave back');
    const third = await enqueueOne(broker);
    assert.equal((await broker.getTask(third))?.state, 'queued', 'no room while the second runs');
  });

  cases.case('hand-off: a lapsed registration, or one ended by a full lease, hands nothing', async (world) => {
    const broker = await world.broker();
    await openInbox(world, broker, 'w1');
    await park(broker, 'w1', { handoffUntil: Date.now() - 1 });
    const lapsed = await enqueueOne(broker);
    assert.equal((await broker.getTask(lapsed))?.state, 'queued', 'handed to a registration that had lapsed');
    assert.equal((await broker.lease(leaseRequest('w2', { limit: 5 })))[0]?.id, lapsed);

    await park(broker, 'w1', { limit: 1 });
    const t0 = Date.now();
    const due = await enqueueOne(broker, { runAt: t0 + 1_000 });
    assert.equal((await broker.maintain(t0 + 1_000)).promoted, 1);
    const now = Date.now();
    const [leased] = await broker.lease(leaseRequest('w1', { limit: 1, now, handoffUntil: now + 60_000 }));
    assert.equal(leased?.id, due, 'a full lease');
    const after = await enqueueOne(broker);
    assert.equal((await broker.getTask(after))?.state, 'queued', 'handed off after a full lease');
  });

  cases.case('hand-off: closing an inbox returns what was handed before, then null, and hands nothing more', async (world) => {
    const broker = await world.broker();
    const inbox = await openInbox(world, broker, 'w1');
    await park(broker, 'w1');
    const handed = await enqueueOne(broker);
    await inbox.close();
    assert.deepEqual((await inbox.take())?.map((task) => task.id), [handed]);
    assert.equal(await inbox.take(), null);
    const later = await enqueueOne(broker);
    assert.equal((await broker.getTask(later))?.state, 'queued');
  });

  cases.case('hand-off: a task handed to a worker that never takes it returns to its queue when its lease expires', async (world) => {
    const broker = await world.broker();
    await openInbox(world, broker, 'w-dead');
    const t0 = Date.now();
    await park(broker, 'w-dead', { leaseMs: 100, now: t0, handoffUntil: t0 + 60_000 });
    const id = await enqueueOne(broker);
    assert.equal((await broker.getTask(id))?.state, 'active');
    assert.equal((await broker.maintain(Date.now() + 1_000)).rescued, 1);
    const [again] = await broker.lease(leaseRequest('w2', { now: Date.now() + 1_000 }));
    assert.equal(again?.id, id);
    assert.equal(again?.attempt, 2);
  });

  cases.case('hand-off: a worker of several queues waits on one inbox and receives the tasks of each', async (world) => {
    const broker = await world.broker();
    const queues = ['high', 'low'];
    const inbox = await openInbox(world, broker, 'w1', queues);
    await park(broker, 'w1', { queues });
    const low = await enqueueOne(broker, { queue: 'low' });
    assert.deepEqual((await inbox.take())?.map((task) => [task.id, task.queue]), [[low, 'low']]);
    const high = await enqueueOne(broker, { queue: 'high' });
    assert.deepEqual((await inbox.take())?.map((task) => [task.id, task.queue]), [[high, 'high']]);
    assert.equal((await broker.getTask(high))?.workerId, 'w1');

    const handed = await enqueueOne(broker, { queue: 'low' });
    await inbox.close();
    assert.deepEqual((await inbox.take())?.map((task) => task.id), [handed], 'what was handed before closing');
    assert.equal(await inbox.take(), null);
    const later = await enqueueOne(broker, { queue: 'high' });
    assert.equal((await broker.getTask(later))?.state, 'queued', 'nothing is handed after closing');
  });

  cases.case('hand-off: a worker of several queues registers once all are empty, with the room the whole lease left', async (world) => {
    const broker = await world.broker();
    const queues = ['high', 'low'];
    const inbox = await openInbox(world, broker, 'w1', queues);
    const waiting = await enqueueOne(broker, { queue: 'high' });
    const now = Date.now();
    const leased = await broker.lease(leaseRequest('w1', { queues, limit: 3, now, handoffUntil: now + 60_000 }));
    assert.deepEqual(leased.map((task) => task.id), [waiting]);

    // Room for 3 - 1 = 2, in each queue.
    const [a, b, c] = (await broker.enqueue([newTask({ queue: 'low' }), newTask({ queue: 'low' }), newTask({ queue: 'low' })])).map(
      (outcome) => outcome.id,
    );
    assert.deepEqual((await inbox.take())?.map((task) => task.id), [a, b]);
    assert.equal((await broker.getTask(c!))?.state, 'queued');

    // A lease that fills the worker ends its registration in every queue, not only the one it took from.
    const later = Date.now();
    const full = await broker.lease(leaseRequest('w1', { queues, limit: 1, now: later, handoffUntil: later + 60_000 }));
    assert.deepEqual(full.map((task) => task.id), [c]);
    const after = await enqueueOne(broker, { queue: 'high' });
    assert.equal((await broker.getTask(after))?.state, 'queued', 'handed off after a full lease');
  });
}
