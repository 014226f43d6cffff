// The maintenance services over a real (SQLite) broker, with more to do than one call of the broker
// does (it works in bounded batches): the maintainer, after a pass that returned tasks whose worker is
// gone, looks again at once, so the expired leases of a host with many workers that died are all back
// in their queue within moments, not a period (up to 5 s) per batch; the pruner, while a call says more
// is past retention, calls again at once, so it keeps up with any rate of finishing tasks (it deleted
// 10,000 a minute before, and finished tasks beyond that piled up without limit); on SQLite old event
// rows count as well.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MaintenanceOutcome, PruneOutcome } from '../../src/broker/broker.js';
import { connectBroker, createLogger } from '../../src/index.js';
import { createMaintainer } from '../../src/worker/maintenance/maintainer.js';
import { createPruner } from '../../src/worker/maintenance/pruner.js';
import { deferred } from '../support/deferred.js';
import { within } from '../support/wait.js';
import { completeMany, KEEP_EVERYTHING, leaseRequest, newTask } from '../conformance/suite/records.js';

const silent = createLogger({ level: 'silent' });

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
    const maintainer = createMaintainer(broker, silent, 60_000);
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

test('while a prune call says more is past retention the pruner calls again at once, until none is', async () => {
  const broker = await connectBroker('sqlite::memory:');
  try {
    const total = 2_500;
    await completeMany(broker, total, Date.now() - 60_000);
    assert.equal((await broker.counts()).default?.completed, total);

    const calls: PruneOutcome[] = [];
    const done = deferred();
    const prune = broker.prune.bind(broker);
    broker.prune = async (now, policy) => {
      const outcome = await prune(now, policy);
      calls.push(outcome);
      if (!outcome.more) done.resolve();
      return outcome;
    };
    // The pruner runs once a minute: a second call within 3 s can only be the one asked for.
    const pruner = createPruner(broker, silent, { ...KEEP_EVERYTHING, resultTtlMs: 1_000 });
    pruner.start();
    try {
      await within(done.promise, 3_000, 'the calls after the first full batch');
    } finally {
      await pruner.stop();
    }
    assert.ok(calls.length > 2, `a call deletes a bounded batch (${calls.length} calls)`);
    assert.equal(calls.reduce((sum, call) => sum + call.pruned, 0), total);
    assert.equal((await broker.counts()).default?.completed ?? 0, 0);
  } finally {
    await broker.close();
  }
});

test('on SQLite a prune call whose batch of old events was full asks for another, though it deleted no task', async () => {
  const broker = await connectBroker('sqlite::memory:');
  try {
    // One event row per enqueue call: more rows than one call deletes.
    for (let i = 0; i < 1_200; i++) await broker.enqueue([newTask()]);
    const policy = { ...KEEP_EVERYTHING, eventTtlMs: 1_000 };
    const later = Date.now() + 60_000;
    const first = await broker.prune(later, policy);
    assert.deepEqual(first, { pruned: 0, more: true });
    assert.deepEqual(await broker.prune(later, policy), { pruned: 0, more: false }, 'the rest went in the second call');
  } finally {
    await broker.close();
  }
});
