import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveRetry } from '../../src/options.js';
import { backoffDelay, mayRetry } from '../../src/worker/retry-policy.js';

describe('retry policy', () => {
  const policy = resolveRetry({ maxRetries: 5, delay: '100ms', maxDelay: '1s', jitter: false });

  it('doubles the delay per attempt: min(maxDelay, delay * 2^(attempt-1))', () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelay(policy, attempt)), [100, 200, 400, 800, 1000, 1000]);
  });

  it('keeps a fixed delay with backoff "fixed"', () => {
    const fixed = resolveRetry({ backoff: 'fixed', delay: 250, jitter: false });
    assert.deepEqual([1, 2, 3].map((attempt) => backoffDelay(fixed, attempt)), [250, 250, 250]);
  });

  it('draws full jitter uniformly from [0, computed delay]', () => {
    const jittered = { ...policy, jitter: true };
    assert.equal(backoffDelay(jittered, 3, () => 0), 0);
    assert.equal(backoffDelay(jittered, 3, () => 0.5), 200);
    assert.equal(backoffDelay(jittered, 3, () => 0.999), 399);
  });

  it('allows maxRetries retries after the first attempt', () => {
    assert.equal(mayRetry(policy, 5), true);
    assert.equal(mayRetry(policy, 6), false);
    assert.equal(mayRetry(resolveRetry(undefined), 1), false, 'no retries by default');
  });

  it('rejects nonsense with a clear error', () => {
    assert.throws(() => resolveRetry({ maxRetries: -1 }), /maxRetries must be a non-negative integer/);
    assert.throws(() => resolveRetry({ backoff: 'linear' as never }), /backoff must be 'exponential' or 'fixed'/);
  });
});
