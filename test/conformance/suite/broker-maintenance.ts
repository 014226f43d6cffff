// Broker cases: promotion of due tasks, rescue of expired leases, both in one pass, expiry, retention,
// purge and reads.
import assert from 'node:assert/strict';
import { recordBroker } from '../../support/events.js';
import { emptyCounts } from '../../../src/types.js';
import type { Settlement } from '../../../src/broker/broker.js';
import { completeMany, enqueueAndLease, enqueueOne, KEEP_EVERYTHING, leaseRequest, newTask } from './records.js';
import type { Cases } from './world.js';

const BOOM = { type: 'Error', message: 'boom' };

export function brokerMaintenanceCases(cases: Cases): void {
  cases.case('maintain moves scheduled tasks to their queue only when due and names the earliest still to come', async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    assert.deepEqual(await broker.maintain(t0), { rescued: 0, promoted: 0, nextDueAt: null });
    const late = await enqueueOne(broker, { runAt: t0 + 60_000 });
    const early = await enqueueOne(broker, { runAt: t0 + 30_000 });
    assert.deepEqual(await broker.maintain(t0 + 29_999), { rescued: 0, promoted: 0, nextDueAt: t0 + 30_000 });
    assert.equal((await broker.getTask(early))?.state, 'scheduled');
    assert.deepEqual(await broker.maintain(t0 + 30_000), { rescued: 0, promoted: 1, nextDueAt: t0 + 60_000 });
    assert.equal((await broker.getTask(early))?.state, 'queued');
    assert.equal((await broker.getTask(late))?.state, 'scheduled');
    const [leased] = await broker.lease(leaseRequest('w1', { now: t0 + 30_000, limit: 10, leaseMs: 120_000 }));
    assert.equal(leased?.id, early);
    assert.deepEqual(await broker.maintain(t0 + 90_000), { rescued: 0, promoted: 1, nextDueAt: null });
    assert.equal((await broker.getTask(late))?.state, 'queued');
    assert.equal((await broker.getTask(early))?.state, 'active', 'its lease still holds');
  });

  cases.case('maintain returns expired leases to their queue as a new attempt, recording WorkerLostError', async (world) => {
    const broker = await world.broker();
    const events = await recordBroker(broker);
    world.defer(() => events.stop());
    const t0 = Date.now();
    const id = await enqueueAndLease(broker, 'w-dead', {}, { now: t0, leaseMs: 100 });
    const held = await enqueueAndLease(broker, 'w-live', {}, { now: t0, leaseMs: 60_000 });
    assert.equal((await broker.maintain(t0 + 50)).rescued, 0, 'a lease still held is not rescued');
    assert.equal((await broker.maintain(t0 + 1_000)).rescued, 1);
    assert.equal((await broker.getTask(held))?.state, 'active');

    const info = await broker.getTask(id);
    assert.equal(info?.state, 'queued');
    assert.equal(info?.errors.length, 1);
    assert.equal(info?.errors[0]?.type, 'WorkerLostError');
    assert.equal(info?.errors[0]?.attempt, 1);
    assert.equal(info?.startedAt?.getTime(), t0, "it keeps the lost attempt's start, as a retrying task keeps its failed one's");
    assert.equal(info?.workerId, undefined);
    await events.waitFor((e) => e.type === 'task.queued' && e.taskId === id, 2, 10_000, 'enqueue and rescue events');

    const [again] = await broker.lease(leaseRequest('w2', { now: t0 + 1_000 }));
    assert.equal(again?.id, id);
    assert.equal(again?.attempt, 2, 'the lost attempt counts');
    assert.equal((await broker.getTask(id))?.attempts, 2);
  });

  cases.case('tasks due at the same instant, or whose leases expired together, join their queue in the order they were created', async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    // 200 ids made in one go: creation order is id order, which a store's ties need not keep.
    const scheduled = Array.from({ length: 200 }, (_, i) => newTask({ runAt: t0 + 1_000, input: { i } }));
    await broker.enqueue(scheduled);
    assert.equal((await broker.maintain(t0 + 1_000)).promoted, 200);
    const leased = await broker.lease(leaseRequest('w1', { limit: 200, leaseMs: 1_000, now: t0 + 1_000 }));
    assert.deepEqual(leased.map((task) => task.id), scheduled.map((task) => task.id), 'promoted in creation order');

    // Leased in one call, so their leases expire together.
    assert.equal((await broker.maintain(t0 + 3_000)).rescued, 200);
    const again = await broker.lease(leaseRequest('w2', { limit: 200, now: t0 + 3_000 }));
    assert.deepEqual(again.map((task) => task.id), scheduled.map((task) => task.id), 'rescued in creation order');
  });

  cases.case('maintain rescues, promotes and names the next due time over every queue in one pass', async (world) => {
    const broker = await world.broker();
    const events = await recordBroker(broker);
    world.defer(() => events.stop());
    const t0 = Date.now();
    assert.deepEqual(await broker.maintain(t0), { rescued: 0, promoted: 0, nextDueAt: null }, 'nothing to do');
    const lost = await enqueueAndLease(broker, 'w-dead', { queue: 'a' }, { now: t0, leaseMs: 100 });
    const held = await enqueueAndLease(broker, 'w-live', { queue: 'a' }, { now: t0, leaseMs: 60_000 });
    const due = await enqueueOne(broker, { queue: 'b', runAt: t0 + 500 });
    const later = await enqueueOne(broker, { queue: 'a', runAt: t0 + 30_000 });
    const latest = await enqueueOne(broker, { queue: 'b', runAt: t0 + 60_000 });

    assert.deepEqual(await broker.maintain(t0 + 50), { rescued: 0, promoted: 0, nextDueAt: t0 + 500 }, 'nothing due yet');
    assert.deepEqual(await broker.maintain(t0 + 1_000), { rescued: 1, promoted: 1, nextDueAt: t0 + 30_000 });
    assert.equal((await broker.getTask(lost))?.state, 'queued');
    assert.equal((await broker.getTask(lost))?.errors[0]?.type, 'WorkerLostError');
    assert.equal((await broker.getTask(held))?.state, 'active');
    assert.equal((await broker.getTask(due))?.state, 'queued');
    for (const id of [later, latest]) assert.equal((await broker.getTask(id))?.state, 'scheduled');
    const queued = await events.waitFor((e) => e.type === 'task.queued' && (e.taskId === lost || e.taskId === due), 3);
    assert.deepEqual(queued.map((e) => ('taskId' in e ? e.taskId : '')).sort(), [lost, lost, due].sort(), 'enqueue, rescue, promotion');

    assert.deepEqual(await broker.maintain(t0 + 1_000), { rescued: 0, promoted: 0, nextDueAt: t0 + 30_000 }, 'a second pass finds nothing');
    assert.deepEqual(await broker.maintain(t0 + 90_000), { rescued: 1, promoted: 2, nextDueAt: null }, 'the live lease expired meanwhile');
    for (const id of [held, later, latest]) assert.equal((await broker.getTask(id))?.state, 'queued');
  });

  cases.case('maintain moves a bounded batch per pass and says so: a next due time at or before now while tasks are still due', async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    const total = 2_500;
    for (let i = 0; i < total; i += 500) {
      await broker.enqueue(Array.from({ length: 500 }, (_, j) => newTask({ runAt: t0 + 1_000 + ((i + j) % 7), input: { n: i + j } })));
    }
    await enqueueOne(broker, { runAt: t0 + 60_000 });
    const now = t0 + 2_000;
    let promoted = 0;
    let passes = 0;
    for (;;) {
      const outcome = await broker.maintain(now);
      passes++;
      promoted += outcome.promoted;
      const left = (await broker.counts()).default?.scheduled ?? 0;
      if (left > 1) {
        // The maintainer runs again at once when told so (maintainer.ts); a later time would strand them.
        assert.ok(outcome.nextDueAt !== null && outcome.nextDueAt <= now, `${left - 1} still due, next due time ${outcome.nextDueAt}`);
        assert.ok(outcome.promoted > 0, 'every pass that leaves some due moves some');
        assert.ok(passes < total, 'bounded');
        continue;
      }
      assert.equal(outcome.nextDueAt, t0 + 60_000, 'once all due moved: the one not due yet');
      break;
    }
    assert.equal(promoted, total);
    assert.equal((await broker.counts()).default?.queued, total);
  });

  cases.case('a task not started before it expires is cancelled with reason expired instead of leased', async (world) => {
    const broker = await world.broker();
    const events = await recordBroker(broker);
    world.defer(() => events.stop());
    const t0 = Date.now();
    const expiring = await enqueueOne(broker, { priority: 15, expiresAt: t0 + 1_000 });
    const later = await enqueueOne(broker, { priority: 15, expiresAt: t0 + 60_000 });
    const plain = await enqueueOne(broker, { priority: 0 });

    const [first] = await broker.lease(leaseRequest('w1', { now: t0 + 2_000 }));
    assert.equal(first?.id, later, 'the expired task is skipped, the next one leased');
    const info = await broker.getTask(expiring);
    assert.equal(info?.state, 'cancelled');
    assert.match(info?.error?.message ?? '', /expired/);
    const event = await events.waitForTask(expiring, 'task.cancelled');
    assert.equal(event.type === 'task.cancelled' && event.reason, 'expired');
    const [second] = await broker.lease(leaseRequest('w1', { now: t0 + 2_000 }));
    assert.equal(second?.id, plain);
    // Cancelled by its expiry at this instant, not by the user: already finished for the user's cancel.
    assert.equal(await broker.cancel(expiring, 'by user', t0 + 2_000), 'finished');
    assert.match((await broker.getTask(expiring))?.error?.message ?? '', /expired/);
  });

  cases.case('a maintenance pass cancels queued tasks past their expiry, though no worker leases from their queue', async (world) => {
    const broker = await world.broker();
    const events = await recordBroker(broker);
    world.defer(() => events.stop());
    const t0 = Date.now();
    const expiring = await enqueueOne(broker, { queue: 'nobody-serves', expiresAt: t0 + 1_000 });
    const fresh = await enqueueOne(broker, { queue: 'nobody-serves', expiresAt: t0 + 60_000 });
    await broker.maintain(t0 + 500);
    assert.equal((await broker.getTask(expiring))?.state, 'queued', 'not yet expired');
    await broker.maintain(t0 + 1_000);
    const info = await broker.getTask(expiring);
    assert.equal(info?.state, 'cancelled');
    assert.match(info?.error?.message ?? '', /expired/);
    const event = await events.waitForTask(expiring, 'task.cancelled');
    assert.equal(event.type === 'task.cancelled' && event.reason, 'expired');
    assert.equal((await broker.getTask(fresh))?.state, 'queued');
  });

  cases.case('prune deletes finished tasks past retention and keeps recent and unfinished ones', async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    const completed = await enqueueAndLease(broker, 'w1');
    const failed = await enqueueAndLease(broker, 'w1');
    const active = await enqueueAndLease(broker, 'w1');
    const queued = await enqueueOne(broker);
    const cancelled = await enqueueOne(broker, { runAt: t0 + 60_000 });
    await broker.settle([
      { kind: 'complete', taskId: completed, workerId: 'w1', result: 1, now: t0 },
      { kind: 'fail', taskId: failed, workerId: 'w1', error: BOOM, now: t0 },
    ]);
    await broker.cancel(cancelled, 'no', t0);
    const policy = { ...KEEP_EVERYTHING, resultTtlMs: 5_000 };

    assert.deepEqual(await broker.prune(t0 + 4_000, policy), { pruned: 0, more: false });
    for (const id of [completed, failed, cancelled]) assert.ok(await broker.getTask(id), 'recent tasks are kept');

    const recent = await enqueueAndLease(broker, 'w1', { priority: 15 });
    await broker.settle([{ kind: 'complete', taskId: recent, workerId: 'w1', result: 2, now: t0 + 8_000 }]);
    assert.ok((await broker.prune(t0 + 10_000, policy)).pruned >= 3);
    for (const id of [completed, failed, cancelled]) assert.equal(await broker.getTask(id), null);
    for (const id of [active, queued, recent]) assert.ok(await broker.getTask(id), 'unfinished and recent tasks stay');
  });

  cases.case('prune deletes a bounded batch per call and says when to call again, so any backlog past retention goes', async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    const total = 2_500;
    await completeMany(broker, total, t0);
    const kept = await enqueueAndLease(broker, 'w1');
    await broker.settle([{ kind: 'complete', taskId: kept, workerId: 'w1', result: null, now: t0 + 10_000 }]);
    const policy = { ...KEEP_EVERYTHING, resultTtlMs: 5_000 };
    let pruned = 0;
    for (let call = 1; ; call++) {
      const outcome = await broker.prune(t0 + 10_000, policy);
      pruned += outcome.pruned;
      if (!outcome.more) break;
      assert.ok(outcome.pruned > 0, 'a call that asks for another deleted some');
      assert.ok(call < total, 'bounded');
    }
    assert.equal(pruned, total, 'every task past retention, once the calls say there is no more');
    assert.equal((await broker.counts()).default?.completed, 1);
    assert.ok(await broker.getTask(kept), 'the recent one stays');
  });

  cases.case('purge deletes the waiting tasks of one queue, or of every queue, never active or finished ones', async (world) => {
    const broker = await world.broker();
    const now = Date.now();
    const active = await enqueueAndLease(broker, 'w1', { queue: 'a' });
    const done = await enqueueAndLease(broker, 'w1', { queue: 'a' });
    await broker.settle([{ kind: 'complete', taskId: done, workerId: 'w1', result: 1, now }]);
    const retrying = await enqueueAndLease(broker, 'w1', { queue: 'a' });
    await broker.settle([{ kind: 'retry', taskId: retrying, workerId: 'w1', error: BOOM, runAt: now + 60_000, now }]);
    await enqueueOne(broker, { queue: 'a' });
    await enqueueOne(broker, { queue: 'a' });
    await enqueueOne(broker, { queue: 'a', runAt: now + 60_000 });
    const otherQueue = await enqueueOne(broker, { queue: 'b' });

    assert.equal(await broker.purge('a', now), 4);
    assert.deepEqual((await broker.listTasks({ queue: 'a' })).map((t) => t.id).sort(), [active, done].sort());
    assert.equal((await broker.getTask(otherQueue))?.state, 'queued');
    assert.equal(await broker.purge(undefined, now), 1);
    assert.equal(await broker.getTask(otherQueue), null);
    assert.equal(await broker.purge(undefined, now), 0);
  });

  cases.case('counts tasks by queue and state', async (world) => {
    const broker = await world.broker();
    const now = Date.now();
    const settle = async (queue: string, kind: 'complete' | 'fail' | 'retry' | 'cancel') => {
      const taskId = await enqueueAndLease(broker, 'w1', { queue });
      const base = { taskId, workerId: 'w1', now };
      if (kind === 'complete') await broker.settle([{ kind, ...base, result: 1 }]);
      if (kind === 'fail') await broker.settle([{ kind, ...base, error: BOOM }]);
      if (kind === 'retry') await broker.settle([{ kind, ...base, error: BOOM, runAt: now + 60_000 }]);
      if (kind === 'cancel') await broker.settle([{ kind, ...base, reason: 'x' }]);
    };
    await settle('a', 'complete');
    await settle('a', 'complete');
    await settle('a', 'fail');
    await settle('a', 'retry');
    await settle('a', 'cancel');
    await enqueueAndLease(broker, 'w1', { queue: 'a' });
    await enqueueOne(broker, { queue: 'a', runAt: now + 60_000 });
    await enqueueOne(broker, { queue: 'a' });
    await enqueueOne(broker, { queue: 'a', priority: 15 }); // Queued at two priorities: both counted.
    await enqueueOne(broker, { queue: 'b' });

    const counts = await broker.counts();
    assert.deepEqual(
      { ...emptyCounts(), ...counts.a },
      { scheduled: 1, queued: 2, active: 1, retrying: 1, completed: 2, failed: 1, cancelled: 1 },
    );
    assert.deepEqual({ ...emptyCounts(), ...counts.b }, { ...emptyCounts(), queued: 1 });
    for (const [queue, byState] of Object.entries(counts)) {
      if (queue === 'a' || queue === 'b') continue;
      assert.ok(Object.values(byState).every((n) => n === 0), `unexpected tasks counted in queue ${queue}`);
    }
  });

  cases.case('listTasks filters by state, queue and name, oldest first, up to a limit', async (world) => {
    const broker = await world.broker();
    const a1 = await enqueueOne(broker, { queue: 'a', name: 'x' });
    const a2 = await enqueueOne(broker, { queue: 'a', name: 'y' });
    const b1 = await enqueueOne(broker, { queue: 'b', name: 'x' });
    const active = await enqueueAndLease(broker, 'w1', { queue: 'c', name: 'x' });
    const ids = async (filter: Parameters<typeof broker.listTasks>[0]) => (await broker.listTasks(filter)).map((t) => t.id);
    assert.deepEqual(await ids({}), [a1, a2, b1, active]);
    assert.deepEqual(await ids({ queue: 'a' }), [a1, a2]);
    assert.deepEqual(await ids({ name: 'x' }), [a1, b1, active]);
    assert.deepEqual(await ids({ state: 'active' }), [active]);
    assert.deepEqual(await ids({ state: 'queued', name: 'x' }), [a1, b1]);
    assert.deepEqual(await ids({ limit: 2 }), [a1, a2]);
  });

  cases.case('finishedSince returns recent finishes with their queue, state and timings', async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    const one = await enqueueAndLease(broker, 'w1', { queue: 'a' }, { now: t0 });
    const two = await enqueueAndLease(broker, 'w1', { queue: 'b' }, { now: t0 });
    await broker.settle([
      { kind: 'complete', taskId: one, workerId: 'w1', result: 1, now: t0 + 10 },
      { kind: 'fail', taskId: two, workerId: 'w1', error: BOOM, now: t0 + 20 },
    ]);
    const samples = await broker.finishedSince(t0, 100);
    assert.equal(samples.length, 2);
    const byQueue = Object.fromEntries(samples.map((s) => [s.queue, s]));
    assert.equal(byQueue.a?.state, 'completed');
    assert.equal(byQueue.a?.startedAt, t0);
    assert.equal(byQueue.a?.finishedAt, t0 + 10);
    assert.ok(typeof byQueue.a?.readyAt === 'number' && byQueue.a.readyAt <= t0 + 10);
    assert.equal(byQueue.b?.state, 'failed');
    assert.equal(byQueue.b?.finishedAt, t0 + 20);
    assert.deepEqual((await broker.finishedSince(t0 + 15, 100)).map((s) => s.queue), ['b']);
    assert.equal((await broker.finishedSince(t0, 1)).length, 1);
  });

  cases.case("finishedSince gives each sample its own task's timings, over thousands of tasks in several queues", async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    const perQueue = 1_100; // More than one read's worth of tasks in a queue, on brokers that read in batches.
    for (const queue of ['a', 'b']) {
      await broker.enqueue(Array.from({ length: perQueue }, () => newTask({ queue })));
      const settlements: Settlement[] = [];
      for (let i = 0; i < perQueue; i++) {
        // Each task starts at its own time and runs 10 s, and finishes at its own time.
        const [task] = await broker.lease(leaseRequest('w1', { queues: [queue], now: t0 + i }));
        assert.ok(task, `leases task ${i} of ${queue}`);
        settlements.push({ kind: 'complete', taskId: task.id, workerId: 'w1', result: null, now: t0 + 10_000 + i });
      }
      assert.ok((await broker.settle(settlements)).every(Boolean));
    }
    const samples = await broker.finishedSince(t0, 20_000);
    assert.equal(samples.length, 2 * perQueue);
    for (const sample of samples) assert.equal(sample.finishedAt - sample.startedAt!, 10_000, `a sample of ${sample.queue} has its own start time`);
    const latest = await broker.finishedSince(t0, 3);
    assert.deepEqual(latest.map((sample) => sample.finishedAt), [t0 + 10_000 + perQueue - 1, t0 + 10_000 + perQueue - 1, t0 + 10_000 + perQueue - 2]);
  });

  cases.case('countFinishedSince counts every finish since a time per queue, without a limit', async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    assert.deepEqual(await broker.countFinishedSince(t0 - 60_000), {});
    const one = await enqueueAndLease(broker, 'w1', { queue: 'a' }, { now: t0 });
    const two = await enqueueAndLease(broker, 'w1', { queue: 'b' }, { now: t0 });
    const three = await enqueueOne(broker, { queue: 'b' });
    await enqueueOne(broker, { queue: 'c' });
    await broker.settle([
      { kind: 'complete', taskId: one, workerId: 'w1', result: 1, now: t0 + 10 },
      { kind: 'fail', taskId: two, workerId: 'w1', error: BOOM, now: t0 + 20 },
    ]);
    assert.equal(await broker.cancel(three, 'no', t0 + 30), 'cancelled');
    assert.deepEqual(await broker.countFinishedSince(t0), { a: 1, b: 2 }, 'completed, failed and cancelled; c has none');
    assert.deepEqual(await broker.countFinishedSince(t0 + 15), { b: 2 });
    assert.deepEqual(await broker.countFinishedSince(t0 + 31), {});
  });

  cases.case('maintenance leadership: one holder at a time, renewed by its holder, free at once when released', async (world) => {
    const broker = await world.broker();
    assert.ok(broker.acquireLeadership && broker.releaseLeadership, 'this broker elects no maintenance leader');
    assert.equal(await broker.acquireLeadership('maintainer', 'a', 60_000), true);
    assert.equal(await broker.acquireLeadership('maintainer', 'b', 60_000), false, 'a second holder while the first leads');
    assert.equal(await broker.acquireLeadership('pruner', 'b', 60_000), true, 'services are led separately');
    assert.equal(await broker.acquireLeadership('maintainer', 'a', 60_000), true, 'the holder renews');
    await broker.releaseLeadership('maintainer', 'b');
    assert.equal(await broker.acquireLeadership('maintainer', 'b', 60_000), false, 'only the holder can release');
    await broker.releaseLeadership('maintainer', 'a');
    assert.equal(await broker.acquireLeadership('maintainer', 'b', 60_000), true, 'free at once after release');
  });
}
