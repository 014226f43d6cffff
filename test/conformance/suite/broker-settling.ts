// Broker cases: settling attempts (complete, fail, retry, cancel), lost leases, cancellation, progress.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Settlement } from '../../../src/broker/broker.js';
import { recordBroker } from '../../support/events.js';
import { enqueueAndLease, enqueueOne, leaseRequest, newTask } from './records.js';
import type { Cases } from './world.js';

const BOOM = { type: 'Error', message: 'boom' };

export function brokerSettlingCases(cases: Cases): void {
  cases.case('settle complete stores the result and finishes the task', async (world) => {
    const broker = await world.broker();
    const id = await enqueueAndLease(broker, 'w1');
    const now = Date.now();
    const result = { summary: 'done', n: [1, 2, 3] };
    assert.deepEqual(await broker.settle([{ kind: 'complete', taskId: id, workerId: 'w1', result, now }]), [true]);
    const info = await broker.getTask(id);
    assert.equal(info?.state, 'completed');
    assert.deepEqual(info?.result, result);
    assert.equal(info?.attempts, 1);
    assert.equal(info?.finishedAt?.getTime(), now);
    assert.equal(info?.error, undefined);
    assert.deepEqual(await broker.lease(leaseRequest('w2', { limit: 10 })), []);
  });

  cases.case('settle fail stores the error on error and errors, with its attempt', async (world) => {
    const broker = await world.broker();
    const id = await enqueueAndLease(broker, 'w1');
    const now = Date.now();
    const error = { type: 'TypeError', message: 'bad thing', stack: 'TypeError: bad thing\n    at x' };
    assert.deepEqual(await broker.settle([{ kind: 'fail', taskId: id, workerId: 'w1', error, now }]), [true]);
    const info = await broker.getTask(id);
    assert.equal(info?.state, 'failed');
    assert.deepEqual(info?.error, error);
    assert.equal(info?.finishedAt?.getTime(), now);
    assert.equal(info?.errors.length, 1);
    const [kept] = info!.errors;
    assert.equal(kept?.type, 'TypeError');
    assert.equal(kept?.message, 'bad thing');
    assert.equal(kept?.at.getTime(), now);
    assert.equal(kept?.attempt, 1, 'each kept error names the attempt it belongs to');
  });

  cases.case('getOutcome reads a task\'s state, result and error, and not its input', async (world) => {
    const broker = await world.broker();
    assert.ok(broker.getOutcome, 'the broker reads outcomes');
    const prompt = 'p'.repeat(10_000);
    const done = await enqueueAndLease(broker, 'w1', { input: { prompt } });
    const failed = await enqueueAndLease(broker, 'w1', { input: { prompt } });
    const waiting = await enqueueOne(broker, { input: { prompt } });
    const now = Date.now();
    const result = { summary: 'done', tokens: 42 };
    await broker.settle([
      { kind: 'complete', taskId: done, workerId: 'w1', result, now },
      { kind: 'fail', taskId: failed, workerId: 'w1', error: BOOM, now },
    ]);
    assert.deepEqual(await broker.getOutcome(done), { state: 'completed', result });
    assert.deepEqual(await broker.getOutcome(failed), { state: 'failed', error: BOOM });
    assert.deepEqual(await broker.getOutcome(waiting), { state: 'queued' });
    assert.equal(await broker.getOutcome(randomUUID()), null);
  });

  cases.case('settle retry holds the task until runAt, then it runs as the next attempt', async (world) => {
    const broker = await world.broker();
    const id = await enqueueAndLease(broker, 'w1');
    const now = Date.now();
    const runAt = now + 60_000;
    assert.deepEqual(await broker.settle([{ kind: 'retry', taskId: id, workerId: 'w1', error: BOOM, runAt, now }]), [true]);
    const info = await broker.getTask(id);
    assert.equal(info?.state, 'retrying');
    assert.equal(info?.scheduledFor?.getTime(), runAt);
    assert.deepEqual(info?.error, BOOM);
    assert.deepEqual(
      info?.errors.map((e) => [e.type, e.message, e.attempt, e.at.getTime()]),
      [['Error', 'boom', 1, now]],
    );
    assert.equal((await broker.maintain(now)).nextDueAt, runAt);
    assert.deepEqual(await broker.lease(leaseRequest('w1', { limit: 10 })), [], 'not leasable while retrying');
    assert.deepEqual(await broker.maintain(runAt - 1), { rescued: 0, promoted: 0, nextDueAt: runAt });
    assert.equal((await broker.getTask(id))?.state, 'retrying');
    assert.deepEqual(await broker.maintain(runAt), { rescued: 0, promoted: 1, nextDueAt: null });
    assert.equal((await broker.getTask(id))?.state, 'queued');
    const [again] = await broker.lease(leaseRequest('w2', { now: runAt }));
    assert.equal(again?.id, id);
    assert.equal(again?.attempt, 2);
  });

  cases.case('settle cancel ends an active task as cancelled', async (world) => {
    const broker = await world.broker();
    const id = await enqueueAndLease(broker, 'w1');
    const now = Date.now();
    assert.deepEqual(await broker.settle([{ kind: 'cancel', taskId: id, workerId: 'w1', reason: 'revoked', now }]), [true]);
    const info = await broker.getTask(id);
    assert.equal(info?.state, 'cancelled');
    assert.equal(info?.finishedAt?.getTime(), now);
    assert.match(info?.error?.message ?? '', /revoked/);
  });

  cases.case('any text survives a lease and every kind of settlement: quotes, escapes, control characters, any script', async (world) => {
    const broker = await world.broker();
    // A lone surrogate survives as JSON (input, result, error), which escapes it.
    const text = 'q " b \\ s / nul \u0000 tab \t nl \n sep \u2028 é 中 😀 \\u0041 [1,2] {"a":null}';
    const lone = `${text} \ud800`;
    const input = { text: lone, list: [text, '', 0, null] };
    const ids = await Promise.all(Array.from({ length: 4 }, () => enqueueOne(broker, { input })));
    const leased = await broker.lease(leaseRequest('w1', { limit: 4 }));
    assert.deepEqual(leased.map((task) => task.input), [input, input, input, input]);
    assert.deepEqual(leased.map((task) => task.decodeError), [undefined, undefined, undefined, undefined]);
    const [done, failed, retried, cancelled] = ids as [string, string, string, string];
    const now = Date.now();
    const error = { type: 'Error', message: lone, stack: text };
    const held = await broker.settle([
      { kind: 'complete', taskId: done, workerId: 'w1', result: { text: lone }, now },
      { kind: 'fail', taskId: failed, workerId: 'w1', error, now },
      { kind: 'retry', taskId: retried, workerId: 'w1', error, runAt: now + 60_000, now },
      { kind: 'cancel', taskId: cancelled, workerId: 'w1', reason: text, now },
    ]);
    assert.deepEqual(held, [true, true, true, true]);
    assert.deepEqual((await broker.getTask(done))?.result, { text: lone });
    assert.deepEqual((await broker.getTask(failed))?.error, error);
    assert.equal((await broker.getTask(retried))?.errors[0]?.message, lone);
    assert.equal((await broker.getTask(cancelled))?.error?.message, text);
    // A cancellation's reason is plain text: a lone surrogate in it is stored as it is or as U+FFFD
    // (which a UTF-8 store makes of it), and never makes the settlement fail.
    const last = await enqueueAndLease(broker, 'w1');
    assert.deepEqual(await broker.settle([{ kind: 'cancel', taskId: last, workerId: 'w1', reason: 'x\ud800', now }]), [true]);
    assert.match((await broker.getTask(last))?.error?.message ?? '', /^x(\ud800|\ufffd)$/);
  });

  cases.case('settle by a worker that lost the lease returns false and changes nothing', async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    const id = await enqueueAndLease(broker, 'w1', {}, { now: t0, leaseMs: 100 });
    assert.equal((await broker.maintain(t0 + 1_000)).rescued, 1);
    const [again] = await broker.lease(leaseRequest('w2', { now: t0 + 1_000 }));
    assert.equal(again?.id, id);

    const late = t0 + 1_100;
    assert.deepEqual(await broker.settle([{ kind: 'complete', taskId: id, workerId: 'w1', result: 'stale', now: late }]), [false]);
    assert.deepEqual(await broker.settle([{ kind: 'fail', taskId: id, workerId: 'w1', error: BOOM, now: late }]), [false]);
    assert.deepEqual(
      await broker.settle([{ kind: 'retry', taskId: id, workerId: 'w1', error: BOOM, runAt: late, now: late }]),
      [false],
    );
    assert.deepEqual(await broker.settle([{ kind: 'cancel', taskId: id, workerId: 'w1', reason: 'x', now: late }]), [false]);
    assert.equal(await broker.progress(id, 'w1', 50, undefined, late), false);
    const during = await broker.getTask(id);
    assert.equal(during?.state, 'active');
    assert.equal(during?.workerId, 'w2');
    assert.equal(during?.result, undefined);
    assert.equal(during?.errors.length, 1, 'only the lost attempt is recorded');

    const outcome = await broker.settle([
      { kind: 'fail', taskId: id, workerId: 'w1', error: BOOM, now: late },
      { kind: 'complete', taskId: id, workerId: 'w2', result: 'fresh', now: late },
    ]);
    assert.deepEqual(outcome, [false, true]);
    const after = await broker.getTask(id);
    assert.equal(after?.state, 'completed');
    assert.equal(after?.result, 'fresh');
    assert.deepEqual(after?.errors.map((e) => e.type), ['WorkerLostError']);
  });

  cases.case('a retry, or a cancel for another reason, that comes at the very instant a rescue ended its task cancelled is refused', async (world) => {
    // On Redis a settlement that finds its task ended at its own instant may be itself, sent again after a
    // lost reply (docs/redis.md, "A lost reply"): a retry that ended its task cancelled recorded its error.
    const broker = await world.broker();
    const t0 = Date.now();
    const id = await enqueueAndLease(broker, 'w1', {}, { now: t0, leaseMs: 100 });
    assert.equal(await broker.cancel(id, 'not wanted', t0 + 10), 'requested');
    const at = t0 + 1_000;
    await broker.maintain(at);
    const rescued = await broker.getTask(id);
    assert.equal(rescued?.state, 'cancelled', 'the rescue ends the task whose cancel was asked');
    const retry: Settlement = { kind: 'retry', taskId: id, workerId: 'w1', attempt: 1, error: BOOM, runAt: at + 100, now: at };
    assert.deepEqual(await broker.settle([retry]), [false]);
    assert.deepEqual(await broker.settle([{ kind: 'cancel', taskId: id, workerId: 'w1', attempt: 1, reason: 'shutting down', now: at }]), [false]);
    const after = await broker.getTask(id);
    assert.deepEqual(after?.errors, rescued?.errors, 'the retry recorded nothing');
    assert.equal(after?.error?.message, 'revoked');
  });

  cases.case('a settlement (and progress) names its attempt: one of an attempt whose lease was lost cannot end the next attempt, though the same worker runs it', async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    const id = await enqueueAndLease(broker, 'w1', {}, { now: t0, leaseMs: 100 });
    assert.equal((await broker.maintain(t0 + 1_000)).rescued, 1);
    const [again] = await broker.lease(leaseRequest('w1', { now: t0 + 1_000 }));
    assert.equal(again?.id, id);
    assert.equal(again?.attempt, 2);

    const late = t0 + 1_100;
    const stale = { taskId: id, workerId: 'w1', now: late, attempt: 1 };
    assert.deepEqual(
      await broker.settle([
        { kind: 'complete', ...stale, result: 'stale' },
        { kind: 'fail', ...stale, error: BOOM },
        { kind: 'retry', ...stale, error: BOOM, runAt: late },
        { kind: 'cancel', ...stale, reason: 'x' },
      ]),
      [false, false, false, false],
    );
    assert.equal((await broker.getTask(id))?.state, 'active', 'the second attempt runs on');
    assert.equal(await broker.progress(id, 'w1', 90, undefined, late, 1), false, "nor does the first attempt's progress land on it");
    assert.equal((await broker.getTask(id))?.progress, undefined);
    assert.equal(await broker.progress(id, 'w1', 10, undefined, late, 2), true);
    assert.deepEqual(await broker.settle([{ kind: 'complete', ...stale, attempt: 2, result: 'fresh' }]), [true]);
    assert.equal((await broker.getTask(id))?.result, 'fresh');
  });

  cases.case('settling a task that is not active returns false', async (world) => {
    const broker = await world.broker();
    const queued = await enqueueOne(broker);
    const now = Date.now();
    assert.deepEqual(await broker.settle([{ kind: 'complete', taskId: queued, workerId: 'w1', result: 1, now }]), [false]);
    assert.equal((await broker.getTask(queued))?.state, 'queued');

    const id = await enqueueAndLease(broker, 'w1', { priority: 15 });
    assert.deepEqual(await broker.settle([{ kind: 'complete', taskId: id, workerId: 'w1', result: 1, now }]), [true]);
    assert.deepEqual(await broker.settle([{ kind: 'fail', taskId: id, workerId: 'w1', error: BOOM, now }]), [false]);
    assert.deepEqual(await broker.settle([{ kind: 'complete', taskId: randomUUID(), workerId: 'w1', result: 1, now }]), [false]);
    const info = await broker.getTask(id);
    assert.equal(info?.state, 'completed');
    assert.equal(info?.result, 1);
  });

  cases.case('cancel of a waiting task (queued, scheduled or retrying) cancels it at once', async (world) => {
    const broker = await world.broker();
    const events = await recordBroker(broker);
    world.defer(() => events.stop());
    const queued = await enqueueOne(broker);
    const scheduled = await enqueueOne(broker, { runAt: Date.now() + 60_000 });
    const retrying = await enqueueAndLease(broker, 'w1', { priority: 15 });
    const now = Date.now();
    await broker.settle([{ kind: 'retry', taskId: retrying, workerId: 'w1', error: BOOM, runAt: now + 60_000, now }]);

    for (const id of [queued, scheduled, retrying]) {
      assert.equal(await broker.cancel(id, 'not wanted', now), 'cancelled');
      const info = await broker.getTask(id);
      assert.equal(info?.state, 'cancelled');
      assert.match(info?.error?.message ?? '', /not wanted/);
      const event = await events.waitForTask(id, 'task.cancelled');
      assert.equal(event.type === 'task.cancelled' && event.reason, 'not wanted');
    }
    assert.equal((await broker.maintain(now + 120_000)).promoted, 0);
    assert.deepEqual(await broker.lease(leaseRequest('w1', { limit: 10, now: now + 120_000 })), []);
  });

  cases.case('cancel of an active task is requested and reported to its holder by renew', async (world) => {
    const broker = await world.broker();
    const id = await enqueueAndLease(broker, 'w1');
    const now = Date.now();
    assert.equal(await broker.cancel(id, 'revoked', now), 'requested');
    assert.equal((await broker.getTask(id))?.state, 'active', 'the holder decides when it stops');
    assert.deepEqual(await broker.renew('w1', [id], 30_000, now + 10), { lost: [], cancelRequested: [id] });
    assert.deepEqual(await broker.settle([{ kind: 'cancel', taskId: id, workerId: 'w1', reason: 'revoked', now: now + 20 }]), [
      true,
    ]);
    assert.equal((await broker.getTask(id))?.state, 'cancelled');
  });

  cases.case('a retry of a task whose cancel was requested while it ran ends it cancelled; a completion stands', async (world) => {
    const broker = await world.broker();
    const events = await recordBroker(broker);
    const now = Date.now();
    const retried = await enqueueAndLease(broker, 'w1');
    const completed = await enqueueAndLease(broker, 'w1');
    assert.equal(await broker.cancel(retried, 'not wanted', now), 'requested');
    assert.equal(await broker.cancel(completed, 'not wanted', now), 'requested');
    // Both handlers ended before their worker heard of the cancellation: one failed with retries left.
    const held = await broker.settle([
      { kind: 'retry', taskId: retried, workerId: 'w1', error: BOOM, runAt: now + 1_000, now: now + 10, attempt: 1 },
      { kind: 'complete', taskId: completed, workerId: 'w1', result: 'ok', now: now + 10, attempt: 1 },
    ]);
    assert.deepEqual(held, [true, true]);
    const info = await broker.getTask(retried);
    assert.equal(info?.state, 'cancelled', 'a cancelled task is not retried');
    assert.deepEqual(
      info?.errors.map((error) => [error.type, error.attempt]),
      [[BOOM.type, 1]],
      "the attempt's error is kept",
    );
    const event = await events.waitForTask(retried, 'task.cancelled');
    assert.equal(event.type === 'task.cancelled' && event.reason, 'revoked');
    assert.equal((await broker.maintain(now + 60_000)).promoted, 0, 'nothing is retried later');
    assert.deepEqual(await broker.lease(leaseRequest('w2', { now: now + 60_000 })), []);
    assert.equal((await broker.getTask(completed))?.state, 'completed', 'a completion that came first stands');
  });

  cases.case('cancel of a finished or unknown task changes nothing', async (world) => {
    const broker = await world.broker();
    const id = await enqueueAndLease(broker, 'w1');
    const now = Date.now();
    await broker.settle([{ kind: 'complete', taskId: id, workerId: 'w1', result: 'ok', now }]);
    assert.equal(await broker.cancel(id, 'too late', now), 'finished');
    const info = await broker.getTask(id);
    assert.equal(info?.state, 'completed');
    assert.equal(info?.result, 'ok');
    assert.equal(await broker.cancel(randomUUID(), 'who?', now), 'not_found');
  });

  cases.case('a task whose cancel was requested ends cancelled when its lease expires', async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    const id = await enqueueAndLease(broker, 'w1', {}, { now: t0, leaseMs: 100 });
    assert.equal(await broker.cancel(id, 'revoked', t0 + 10), 'requested');
    await broker.maintain(t0 + 1_000);
    assert.equal((await broker.getTask(id))?.state, 'cancelled', 'a dead worker must not make it run again');
    assert.deepEqual(await broker.lease(leaseRequest('w2', { now: t0 + 1_000 })), []);
  });

  cases.case('progress is recorded only for the holder of the lease', async (world) => {
    const broker = await world.broker();
    const queued = await enqueueOne(broker, { priority: 0 });
    const id = await enqueueAndLease(broker, 'w1', { priority: 15 });
    const now = Date.now();
    assert.equal(await broker.progress(queued, 'w1', 10, undefined, now), false);
    assert.equal(await broker.progress(id, 'w2', 10, undefined, now), false);
    assert.equal((await broker.getTask(id))?.progress, undefined);
    assert.equal(await broker.progress(id, 'w1', 40, { stage: 'reading' }, now), true);
    assert.deepEqual((await broker.getTask(id))?.progress, { percent: 40, meta: { stage: 'reading' } });
    assert.equal(await broker.progress(id, 'w1', 60, undefined, now), true);
    assert.equal((await broker.getTask(id))?.progress?.percent, 60);
    await broker.settle([{ kind: 'complete', taskId: id, workerId: 'w1', result: null, now }]);
    assert.equal(await broker.progress(id, 'w1', 90, undefined, now), false);
  });

  cases.case("progress belongs to its attempt: a task that waits again (retried, its worker lost, handed back) shows none", async (world) => {
    const broker = await world.broker();
    const t0 = Date.now();
    const retried = await enqueueOne(broker);
    const lost = await enqueueOne(broker);
    const handedBack = await enqueueOne(broker);
    const leased = await broker.lease(leaseRequest('w1', { limit: 3, leaseMs: 1_000, now: t0 }));
    assert.equal(leased.length, 3);
    for (const id of [retried, lost, handedBack]) assert.equal(await broker.progress(id, 'w1', 50, { half: true }, t0), true);
    const error = { type: 'Error', message: 'again' };
    assert.deepEqual(await broker.settle([{ kind: 'retry', taskId: retried, workerId: 'w1', error, runAt: t0 + 60_000, now: t0 }]), [true]);
    assert.equal(await broker.release('w1', [handedBack], t0), 1);
    assert.equal((await broker.maintain(t0 + 2_000)).rescued, 1);
    for (const [id, state] of [[retried, 'retrying'], [lost, 'queued'], [handedBack, 'queued']] as const) {
      const info = await broker.getTask(id);
      assert.equal(info?.state, state);
      assert.equal(info?.progress, undefined, `the ${state} task shows no progress`);
    }
  });

  cases.case('an idempotency key returns the unfinished task, and a new task once it finished', async (world) => {
    const broker = await world.broker();
    const first = newTask({ key: 'order-42' });
    const [created] = await broker.enqueue([first]);
    assert.deepEqual(created, { id: first.id, created: true, state: 'queued' });

    const [again] = await broker.enqueue([newTask({ key: 'order-42' })]);
    assert.deepEqual(again, { id: first.id, created: false, state: 'queued' });
    const batch = await broker.enqueue([newTask({ key: 'batch-key' }), newTask({ key: 'batch-key' })]);
    assert.equal(batch[0]?.created, true);
    assert.equal(batch[1]?.created, false);
    assert.equal(batch[1]?.id, batch[0]?.id, 'the same key twice in one batch makes one task');
    assert.equal((await broker.getTask(first.id))?.key, 'order-42');

    const [leased] = await broker.lease(leaseRequest('w1', { limit: 1, now: Date.now() }));
    assert.equal(leased?.id, first.id);
    const [whileActive] = await broker.enqueue([newTask({ key: 'order-42' })]);
    assert.deepEqual(whileActive, { id: first.id, created: false, state: 'active' });

    await broker.settle([{ kind: 'complete', taskId: first.id, workerId: 'w1', result: 1, now: Date.now() }]);
    const fresh = newTask({ key: 'order-42' });
    const [afterFinish] = await broker.enqueue([fresh]);
    assert.deepEqual(afterFinish, { id: fresh.id, created: true, state: 'queued' });
    assert.equal((await broker.listTasks({ limit: 100 })).filter((t) => t.key === 'order-42').length, 2);
  });

  cases.case('an idempotency key is scoped to its queue: the same key in two queues makes two tasks', async (world) => {
    const broker = await world.broker();
    const inDefault = newTask({ key: 'order-7' });
    const inOther = newTask({ key: 'order-7', queue: 'other' });
    const [first, second] = await broker.enqueue([inDefault, inOther]);
    assert.deepEqual(first, { id: inDefault.id, created: true, state: 'queued' });
    assert.deepEqual(second, { id: inOther.id, created: true, state: 'queued' }, 'one batch, two queues: two tasks');

    // Each queue's key still holds while its task is unfinished, whatever the other queue's task does.
    assert.equal(await broker.cancel(inOther.id, 'by user', Date.now()), 'cancelled');
    const [againDefault] = await broker.enqueue([newTask({ key: 'order-7' })]);
    assert.deepEqual(againDefault, { id: inDefault.id, created: false, state: 'queued' });
    const freshOther = newTask({ key: 'order-7', queue: 'other' });
    const [againOther] = await broker.enqueue([freshOther]);
    assert.deepEqual(againOther, { id: freshOther.id, created: true, state: 'queued' });
    const [thirdQueue] = await broker.enqueue([newTask({ key: 'order-7', queue: 'third' })]);
    assert.equal(thirdQueue?.created, true);
  });
}
