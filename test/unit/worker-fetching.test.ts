import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTestApp } from '../../src/testing/index.js';

describe('worker fetching', () => {
  it('does not lease again when a slot frees after a short lease: only a queued task or the poll makes it look', async () => {
    const app = createTestApp();
    app.task({ name: 'noop', run: () => 'ok' });
    const broker = await app.broker();
    let leases = 0;
    const lease = broker.lease.bind(broker);
    const settleAndLease = broker.settleAndLease.bind(broker);
    broker.lease = (request) => {
      leases++;
      return lease(request);
    };
    broker.settleAndLease = (settlements, next) => {
      leases++;
      return settleAndLease(settlements, next);
    };
    const worker = app.worker({ concurrency: 4, handleSignals: false, pollInterval: '1h' });
    await worker.start();
    const tasks = 20;
    for (let i = 0; i < tasks; i++) {
      const run = await app.enqueue('noop', {});
      assert.equal(await run.result({ timeout: '5s' }), 'ok');
    }
    await worker.close();
    await app.close();
    // One lease per task woken by its task.queued event, plus the first look at start. Looking again
    // each time a slot frees would make it three per task (the ack's refill and the fetch loop).
    assert.ok(leases <= tasks + 1, `expected at most ${tasks + 1} leases, saw ${leases}`);
  });

  it('starts without waiting for a subscription the broker cannot confirm yet, and finds work by polling', { timeout: 10_000 }, async () => {
    const app = createTestApp();
    app.task({ name: 'noop', run: () => 'ok' });
    const broker = await app.broker();
    broker.subscribed = () => new Promise<void>(() => undefined); // A subscription that is never confirmed.
    const worker = app.worker({ concurrency: 1, handleSignals: false, pollInterval: '100ms' });
    try {
      await worker.start();
      const run = await app.enqueue('noop', {});
      assert.equal(await run.result({ timeout: '5s' }), 'ok');
    } finally {
      await worker.close();
      await app.close();
    }
  });
});
