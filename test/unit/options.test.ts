import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveEnqueue } from '../../src/options.js';
import { toPriority } from '../../src/priority.js';
import { expandWorkerName } from '../../src/worker/names.js';

describe('enqueue options', () => {
  const now = 1_000_000;

  it('merges enqueue options over task defaults', () => {
    const resolved = resolveEnqueue(
      { queue: 'agents', priority: 'high', retry: { maxRetries: 3, delay: '1s' }, timeLimit: '10m' },
      { priority: 'urgent', retry: { delay: '2s' }, softTimeLimit: '9m', ignoreResult: true },
      now,
    );
    assert.equal(resolved.queue, 'agents');
    assert.equal(resolved.priority, 15);
    assert.equal(resolved.execution.retry.maxRetries, 3);
    assert.equal(resolved.execution.retry.delay, 2_000);
    assert.equal(resolved.execution.timeLimit, 600_000);
    assert.equal(resolved.execution.softTimeLimit, 540_000);
    assert.equal(resolved.execution.ignoreResult, true);
  });

  it('turns delay, eta and expires into absolute times', () => {
    assert.equal(resolveEnqueue({}, { delay: '30s' }, now).runAt, now + 30_000);
    assert.equal(resolveEnqueue({}, { eta: new Date(now + 5) }, now).runAt, now + 5);
    assert.equal(resolveEnqueue({}, { expires: '1m' }, now).expiresAt, now + 60_000);
    assert.equal(resolveEnqueue({}, { expires: new Date(now + 7) }, now).expiresAt, now + 7);
    assert.throws(() => resolveEnqueue({}, { delay: 1, eta: new Date() }, now), /delay or eta, not both/);
    assert.throws(() => resolveEnqueue({}, { eta: new Date('nope') }, now), /eta must be a valid Date/);
  });

  it('defaults to the default queue and normal priority', () => {
    const resolved = resolveEnqueue({}, {}, now);
    assert.equal(resolved.queue, 'default');
    assert.equal(resolved.priority, 5);
  });
});

describe('priorities', () => {
  it('maps names to levels and accepts 0..15', () => {
    assert.deepEqual(['low', 'normal', 'high', 'urgent'].map((p) => toPriority(p as never)), [0, 5, 10, 15]);
    assert.equal(toPriority(7), 7);
    assert.equal(toPriority(undefined), 5);
  });

  it('rejects anything else', () => {
    assert.throws(() => toPriority(16), /integer from 0 to 15/);
    assert.throws(() => toPriority(1.5), /integer from 0 to 15/);
    assert.throws(() => toPriority('critical' as never), /one of low, normal, high, urgent/);
  });
});

describe('worker names', () => {
  it('expands %h, %n, %d and %i as Celery does', () => {
    assert.equal(expandWorkerName('w1@%h', 'box.example.com', 42), 'w1@box.example.com');
    assert.equal(expandWorkerName('%n-%d-%i', 'box.example.com', 42), 'box-example.com-42');
    assert.equal(expandWorkerName('100%%', 'box', 1), '100%');
  });
});
