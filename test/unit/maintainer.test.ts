// The maintainer service over a real (SQLite) broker: after a pass that returned tasks whose worker is
// gone, it looks again at once, so more expired leases than one pass moves (a host with many workers
// died) are all back in their queue within moments, not a period (up to 5 s) per batch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MaintenanceOutcome } from '../../src/broker/broker.js';
import { connectBroker, createLogger } from '../../src/index.js';
import { createMaintainer } from '../../src/worker/maintenance/maintainer.js';
import { deferred } from '../support/deferred.js';
import { within } from '../support/wait.js';
import { leaseRequest, newTask } from '../conformance/suite/records.js';

test('after a pass that rescued tasks the maintainer runs again at once, until a pass rescues none', async () => {
  const broker = await connectBroker('sqlite::memory:');
  try {
    const total = 2_500;
    for (let i = 0; i < total; i += 500) await broker.enqueue(Array.from({ length: 500 }, () => newTask()));
    // Leased by a worker that died a minute ago: every lease has expired.
    const leasedAt = Date.now() - 60_000;
    let leased = 0;
    while (leased < total) {
      const got = await broker.lease(leaseRequest('w-dead', { limit: total - leased, leaseMs: 100, now: leasedAt }));
      assert.ok(got.length > 0, 'leases every task');
      leased += got.length;
    }

    const passes: MaintenanceOutcome[] = [];
    const settled = deferred();
    const maintain = broker.maintain.bind(broker);
    broker.maintain = async (now) => {
      const outcome = await maintain(now);
      passes.push(outcome);
      if (outcome.rescued === 0) settled.resolve();
      return outcome;
    };
    // A 60 s lease makes the maintainer's period 5 s: a second pass within 3 s can only be the one asked for.
    const maintainer = createMaintainer(broker, createLogger({ level: 'silent' }), 60_000);
    maintainer.start();
    try {
      await within(settled.promise, 3_000, 'the passes after the first rescue');
    } finally {
      await maintainer.stop();
    }
    assert.equal(passes.reduce((sum, pass) => sum + pass.rescued, 0), total);
    assert.ok(passes.length > 2, `a pass moves a bounded batch (${passes.length} passes)`);
    assert.equal((await broker.counts()).default?.queued, total);
  } finally {
    await broker.close();
  }
});
