import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLive, percentiles } from '../../src/stats.js';
import type { WorkerInfo } from '../../src/index.js';

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
});
