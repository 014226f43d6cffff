import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collectStats, isLive, percentiles } from '../../src/stats.js';
import { connectBroker, type WorkerInfo } from '../../src/index.js';
import { completeMany } from '../conformance/suite/records.js';

describe('stats helpers', () => {
  it('computes nearest-rank percentiles', () => {
    assert.equal(percentiles([]), null);
    assert.deepEqual(percentiles([5]), { p50: 5, p95: 5 });
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    assert.deepEqual(percentiles(hundred), { p50: 50, p95: 95 });
  });

  it('counts a worker live while its last heartbeat is within three intervals', () => {
    const worker = { heartbeatAt: new Date(10_000), heartbeatInterval: 1_000 } as WorkerInfo;
    assert.equal(isLive(worker, 13_000), true);
    assert.equal(isLive(worker, 13_001), false);
  });

  it('counts every task finished in the last minute, more than the 20,000 its percentiles sample', async () => {
    const broker = await connectBroker('sqlite::memory:');
    try {
      const total = 25_000;
      const now = Date.now();
      await completeMany(broker, total, now);
      const stats = await collectStats(broker, now + 1_000);
      assert.equal(stats.total.throughputPerMinute, total);
      assert.equal(stats.queues.default?.throughputPerMinute, total);
      assert.ok(stats.total.runMs, 'percentiles from the sample');
    } finally {
      await broker.close();
    }
  });
});
