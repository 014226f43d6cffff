// A renewal can run after the store of a task's outcome and report the task lost: that is no lost lease,
// and the worker must neither warn nor stop anything for it (seen in a soak: tens of "lease lost" warnings
// for tasks that had completed). A lease really lost before the outcome was stored shows in the store's
// answer, and is what the worker warns about.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Celeriac } from '../../src/index.js';
import { deferred } from '../support/deferred.js';

type Line = { msg: string; taskId?: string };

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
});
