// A renewal can run after the store of a task's outcome and report the task lost: that is no lost lease,
// and the worker must neither warn nor stop anything for it (seen in a soak: tens of "lease lost" warnings
// for tasks that had completed). A lease really lost before the outcome was stored shows in the store's
// answer, and is what the worker warns about.
// A task can also arrive late, its lease run down or out: a hand-off that sat in the inbox while the
// connection was down (seen in a Cluster soak: an attempt started 1.7 s after its task had been rescued
// and run again elsewhere). The worker renews such a lease, in its attempt, before it starts the task;
// and so it does for a task a broker delivers unconfirmed (Redis: found handed over but not held after a
// reconnection), which this worker may have run already. A cancellation heard before its task arrived
// stops the task before its handler starts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { Broker, Inbox, LeaseRequest, LeasedTask } from '../../src/broker/broker.js';
import { Celeriac, type CeleriacEvent, type Worker, type WorkerOptions } from '../../src/index.js';
import { DEFAULT_EXECUTION } from '../../src/options.js';
import { RevokedAhead } from '../../src/worker/worker.js';
import { deferred } from '../support/deferred.js';

type Line = { msg: string; taskId?: string };

/**
 * Gives the SQLite broker (which has none) an inbox that delivers nothing itself, and returns the `local`
 * delivery the worker will pass it: a test delivers tasks through it, as a Redis broker's reclaim would.
 */
function fakeInbox(broker: Broker): { deliver: (tasks: LeasedTask[]) => void } {
  let local: ((tasks: LeasedTask[]) => void) | undefined;
  broker.openInbox = (_workerId, _queues, deliver) => {
    local = deliver;
    let close: (value: null) => void = () => undefined;
    const closed = new Promise<null>((resolve) => (close = resolve));
    const inbox: Inbox = { take: () => closed, close: async () => close(null), dispose: () => undefined };
    return Promise.resolve(inbox);
  };
  return { deliver: (tasks) => local!(tasks) };
}

/** Makes the first lease that takes tasks go through `first` (a reply held up, say); the others pass. */
function onFirstLease(broker: Broker, first: (leased: LeasedTask[], request: LeaseRequest) => Promise<LeasedTask[]> | LeasedTask[]): void {
  const lease = broker.lease.bind(broker);
  let done = false;
  broker.lease = async (request) => {
    const leased = await lease(request);
    if (done || leased.length === 0) return leased;
    done = true;
    return first(leased, request);
  };
}

/** Starts a worker of `app` (no maintenance), runs `body`, then closes the worker and the app, whatever happens. */
async function whileWorking(app: Celeriac, options: WorkerOptions, body: (worker: Worker) => Promise<void>): Promise<void> {
  const worker = app.worker({ handleSignals: false, maintenance: false, ...options });
  try {
    await worker.start();
    await body(worker);
  } finally {
    await worker.close();
    await app.close();
  }
}

/** An app whose task 't' records each run's input, its broker with a fake inbox, and the broker's own `renew`. */
async function recordingApp() {
  const { app, lines } = appWithLog();
  const runs: string[] = [];
  app.task({ name: 't', run: (input: string) => (runs.push(input), 'done') });
  const broker = await app.broker();
  return { app, lines, runs, broker, inbox: fakeInbox(broker), renew: broker.renew.bind(broker) };
}

function appWithLog(): { app: Celeriac; lines: Line[] } {
  const lines: Line[] = [];
  const logger = pino({ level: 'warn' }, { write: (text: string) => void lines.push(JSON.parse(text) as Line) });
  return { app: new Celeriac({ broker: 'sqlite::memory:', logger }), lines };
}

describe('a worker and its leases', () => {
  it('does not warn when a renewal reports lost a task whose outcome is being stored', async () => {
    const { app, lines } = appWithLog();
    app.task({ name: 't', run: () => 'done' });
    const broker = await app.broker();
    const storing = deferred();
    const renewedWhileStoring = deferred();
    let ended = false;
    const settle = broker.settle.bind(broker);
    const settleAndLease = broker.settleAndLease.bind(broker);
    // The store waits until a renewal has run while it was pending, and that renewal reports every task
    // lost, as a renewal that Redis ran just after the store would.
    broker.settle = async (settlements) => {
      ended = true;
      await storing.promise;
      return settle(settlements);
    };
    broker.settleAndLease = async (settlements, next) => {
      ended = true;
      await storing.promise;
      return settleAndLease(settlements, next);
    };
    broker.renew = async (_workerId, ids) => {
      if (ended) renewedWhileStoring.resolve();
      return { lost: ids, cancelRequested: [] };
    };
    const worker = app.worker({ handleSignals: false, leaseTime: '300ms', maintenance: false });
    try {
      await worker.start();
      const run = await app.enqueue('t', null);
      await renewedWhileStoring.promise;
      storing.resolve();
      assert.equal(await run.result({ timeout: '5s' }), 'done');
      assert.deepEqual(lines.map((line) => line.msg), []);
    } finally {
      storing.resolve();
      await worker.close();
      await app.close();
    }
  });

  it('warns when the store of an outcome finds the lease lost', async () => {
    const { app, lines } = appWithLog();
    app.task({ name: 't', run: () => 'done' });
    const broker = await app.broker();
    const settle = broker.settle.bind(broker);
    const settleAndLease = broker.settleAndLease.bind(broker);
    const stored = deferred();
    // The store runs, but answers as if another worker held the task by then.
    broker.settle = async (settlements) => {
      const held = await settle(settlements);
      stored.resolve();
      return held.map(() => false);
    };
    broker.settleAndLease = async (settlements, next) => {
      const answer = await settleAndLease(settlements, next);
      stored.resolve();
      return { ...answer, held: answer.held.map(() => false) };
    };
    const worker = app.worker({ handleSignals: false, maintenance: false });
    try {
      await worker.start();
      const run = await app.enqueue('t', null);
      await stored.promise;
      await worker.close();
      const warned = lines.filter((line) => /lease lost before the outcome was stored/.test(line.msg));
      assert.deepEqual(warned.map((line) => line.taskId), [run.id]);
    } finally {
      await worker.close();
      await app.close();
    }
  });

  it('does not start a task that arrives after its lease ran out and the task went back to its queue', async () => {
    const { app, lines } = appWithLog();
    const attempts: number[] = [];
    app.task({ name: 't', run: (_input: null, ctx) => (attempts.push(ctx.attempt), 'done') });
    const broker = await app.broker();
    // The first lease's reply arrives long after Redis ran it: meanwhile the lease ran out and the task
    // went back to its queue (a maintenance pass of another process).
    onFirstLease(broker, async (leased) => {
      assert.equal((await broker.maintain(Date.now() + 60_000)).rescued, leased.length);
      return leased.map((task) => ({ ...task, leaseExpiresAt: Date.now() - 1 }));
    });
    await whileWorking(app, { leaseTime: '1s' }, async () => {
      const run = await app.enqueue('t', null);
      assert.equal(await run.result({ timeout: '5s' }), 'done');
      assert.deepEqual(attempts, [2], 'only the attempt leased after the rescue ran');
      const dropped = lines.filter((line) => /arrived after its lease ran out/.test(line.msg));
      assert.deepEqual(dropped.map((line) => line.taskId), [run.id]);
    });
  });

  it('renews the lease of a task that arrives with little of it left before starting it', async () => {
    const { app, lines } = appWithLog();
    const renewals: Array<{ ids: string[]; attempts?: number[] }> = [];
    const startedAfter: number[] = [];
    app.task({ name: 't', run: () => (startedAfter.push(renewals.length), 'done') });
    const broker = await app.broker();
    const renew = broker.renew.bind(broker);
    broker.renew = (workerId, ids, leaseMs, now, attempts) => {
      renewals.push({ ids, attempts });
      return renew(workerId, ids, leaseMs, now, attempts);
    };
    onFirstLease(broker, (leased) => leased.map((task) => ({ ...task, leaseExpiresAt: Date.now() + 50 }))); // 50 ms of a 10 s lease left
    await whileWorking(app, { leaseTime: '10s' }, async () => {
      const run = await app.enqueue('t', null);
      assert.equal(await run.result({ timeout: '5s' }), 'done');
      assert.deepEqual(renewals[0], { ids: [run.id], attempts: [1] }, 'the lease was renewed in its attempt');
      assert.deepEqual(startedAfter, [1], 'the task started once, after that renewal');
      assert.equal((await run.status()).attempts, 1);
      assert.deepEqual(lines, []);
    });
  });

  it('confirms a task delivered unconfirmed before running it: not again once it ran here, and once if it never did', async () => {
    const { app, lines, runs, broker, inbox, renew } = await recordingApp();
    let confirmations = 0;
    broker.renew = (workerId, ids, leaseMs, now, attempts) => {
      confirmations++;
      return renew(workerId, ids, leaseMs, now, attempts);
    };
    await whileWorking(app, {}, async (worker) => {
      // Ran and finished here; then delivered again, as by a reclaim that read what the worker held before
      // the task arrived: its lease is fresh, yet it must not run again.
      const ran = await app.enqueue('t', 'ran');
      assert.equal(await ran.result({ timeout: '5s' }), 'done');
      const stale: LeasedTask = { ...(await leasedCopy(broker, ran.id)), leaseExpiresAt: Date.now() + 30_000 };
      // Leased to this worker and never received: delivered once, unconfirmed, it runs.
      const lost = await app.enqueue('t', 'lost', { queue: 'elsewhere' });
      const [leased] = await broker.lease({ workerId: worker.id, queues: ['elsewhere'], limit: 1, leaseMs: 30_000, now: Date.now() });
      assert.equal(leased?.id, lost.id);
      inbox.deliver([stale, leased!].map((task) => ({ ...task, unconfirmed: true })));
      assert.equal(await lost.result({ timeout: '5s' }), 'done');
      assert.deepEqual(runs, ['ran', 'lost'], 'each ran once');
      assert.equal(confirmations > 0, true, 'the deliveries were confirmed');
      assert.equal((await lost.status()).attempts, 1);
      assert.deepEqual(lines, []);
    });
  });

  it('does not run again a task delivered unconfirmed that arrived another way, ran and finished while its confirmation was on its way', async () => {
    // A reclaim delivers a task whose hand-off reply is still on its way; the renewal confirming it runs
    // before the task arrives, and its answer ("still held") comes back only after the task has run here
    // and its outcome was stored. Before the twenty-fourth session the same attempt then ran a second
    // time, its second outcome refused as of a lost lease, which fits what a Cluster soak saw that session.
    const { app, lines, runs, broker, inbox, renew } = await recordingApp();
    const renewed = deferred();
    const answer = deferred();
    broker.renew = async (workerId, ids, leaseMs, now, attempts) => {
      const outcome = await renew(workerId, ids, leaseMs, now, attempts); // Runs now: the task is held.
      renewed.resolve();
      await answer.promise; // Its answer comes back late.
      return outcome;
    };
    await whileWorking(app, {}, async (worker) => {
      const run = await app.enqueue('t', 'once', { queue: 'elsewhere' });
      const [leased] = await broker.lease({ workerId: worker.id, queues: ['elsewhere'], limit: 1, leaseMs: 30_000, now: Date.now() });
      assert.equal(leased?.id, run.id);
      inbox.deliver([{ ...leased!, unconfirmed: true }]);
      await renewed.promise;
      inbox.deliver([leased!]); // The hand-off's own reply: it runs, and its outcome is stored.
      assert.equal(await run.result({ timeout: '5s' }), 'done');
      answer.resolve();
    });
    assert.deepEqual(runs, ['once'], 'it ran once');
    assert.deepEqual(lines, [], 'no lease reported lost');
  });

  it('stops a task whose cancellation it heard before the task arrived, before its handler starts', async () => {
    const { app } = appWithLog();
    const runs: string[] = [];
    app.task({ name: 't', run: (input: string) => (runs.push(input), 'done') });
    const broker = await app.broker();
    // The worker's own event listener, to deliver a revoke to it ahead of the lease's reply.
    const listeners: Array<(events: CeleriacEvent[]) => void> = [];
    const subscribe = broker.subscribe.bind(broker);
    broker.subscribe = (listener, options) => {
      if (options?.forWorker) listeners.push(listener);
      return subscribe(listener, options);
    };
    onFirstLease(broker, async (leased, request) => {
      // The cancellation comes while the lease's reply is on its way, and its event gets there first.
      for (const task of leased) {
        assert.equal(await broker.cancel(task.id, 'revoked', Date.now()), 'requested');
        const revoked: CeleriacEvent = { type: 'task.revoked', taskId: task.id, name: task.name, queue: task.queue, workerId: request.workerId, timestamp: Date.now() };
        for (const listener of listeners) listener([revoked]);
      }
      return leased;
    });
    await whileWorking(app, {}, async () => {
      assert.equal(listeners.length, 1);
      const run = await app.enqueue('t', 'cancelled');
      await assert.rejects(run.result({ timeout: '5s' }), /cancel/i);
      assert.equal((await run.status()).state, 'cancelled');
      const next = await app.enqueue('t', 'next');
      assert.equal(await next.result({ timeout: '5s' }), 'done');
      assert.deepEqual(runs, ['next'], 'the cancelled task never started');
    });
  });

  it('a renewal that finds an earlier attempt lost leaves the later attempt that took its place alone', async () => {
    const { app, lines } = appWithLog();
    const gate = deferred();
    const started: number[] = [];
    const secondStarted = deferred();
    app.task({
      name: 't',
      run: async (_input: null, ctx) => {
        started.push(ctx.attempt);
        if (ctx.attempt === 1) await gate.promise; // Stalls: its lease runs out.
        else secondStarted.resolve();
        return ctx.attempt;
      },
    });
    const broker = await app.broker();
    const renew = broker.renew.bind(broker);
    let raced = false;
    // A renewal of attempt 1 is on its way while the lease runs out, the task comes back, and this worker
    // leases it again as attempt 2; the renewal's answer (attempt 1 lost) comes after attempt 2 started.
    broker.renew = async (workerId, ids, leaseMs, now, attempts) => {
      if (raced || !attempts?.includes(1)) return renew(workerId, ids, leaseMs, now, attempts);
      raced = true;
      assert.equal((await broker.maintain(Date.now() + 60_000)).rescued, 1);
      await secondStarted.promise;
      return renew(workerId, ids, leaseMs, now, attempts);
    };
    await whileWorking(app, { concurrency: 2, leaseTime: '300ms' }, async () => {
      try {
        const run = await app.enqueue('t', null);
        assert.equal(await run.result({ timeout: '5s' }), 2);
        assert.deepEqual(started, [1, 2]);
        assert.equal((await run.status()).attempts, 2, 'attempt 2 was not abandoned, so nothing ran a third time');
        assert.deepEqual(lines.filter((line) => /lease lost \(renewed too late/.test(line.msg)), []);
      } finally {
        gate.resolve();
      }
    });
  });
});

/** A task's leased form, read back from the broker (as a reclaim would return it). */
async function leasedCopy(broker: Broker, id: string): Promise<LeasedTask> {
  const info = (await broker.getTask(id))!;
  return { id, name: info.name, queue: info.queue, priority: info.priority, input: info.input, attempt: info.attempts, createdAt: info.createdAt.getTime(), execution: DEFAULT_EXECUTION, leaseExpiresAt: 0 };
}

describe('the revokes a worker heard before their task arrived', () => {
  it('are taken once, and forgotten after the time they are kept', () => {
    const revoked = new RevokedAhead(1_000);
    revoked.add('a', 0);
    revoked.add('b', 500);
    assert.equal(revoked.take('a', 999), true);
    assert.equal(revoked.take('a', 999), false, 'taken once');
    assert.equal(revoked.take('b', 1_499), true);
    revoked.add('c', 0);
    revoked.add('d', 2_000); // Prunes 'c', kept until 1,000.
    assert.equal(revoked.take('c', 0), false, 'forgotten');
    assert.equal(revoked.take('d', 3_000), false, 'past the time it is kept');
  });
});
