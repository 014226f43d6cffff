import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseBudget } from '../../src/worker/lease-budget.js';
import { Pool } from '../../src/worker/pool.js';

function budget(concurrency: number, pollMs = 1_000): LeaseBudget {
  return new LeaseBudget(new Pool(concurrency, 0, () => undefined), pollMs, concurrency);
}

describe('the lease budget', () => {
  it('sends one lease at a time until one comes back full, then two, less what is in flight', () => {
    const b = budget(10);
    const first = b.started(b.next(0), 0);
    assert.equal(first.limit, 5, 'at most half the capacity per lease');
    assert.equal(b.next(0), 0, 'no evidence of a backlog yet: one lease at a time');
    b.answered(first, 5);
    const second = b.started(b.next(0), 0);
    assert.equal(b.next(0), 5, 'the last lease was full: a second may go out while this one is in flight');
    const third = b.started(5, 0);
    assert.equal(b.next(0), 0, 'two in flight');
    b.answered(second, 5);
    b.answered(third, 5);
    assert.equal(b.next(0), 5);
  });

  it('after a short lease, waits for a queued task or the poll interval before asking again', () => {
    const b = budget(4);
    b.answered(b.started(2, 0), 1);
    assert.equal(b.next(10), 0, 'the queue was short: an empty lease would cost a round trip');
    b.taskQueued();
    assert.equal(b.next(10), 2);
    b.answered(b.started(2, 10), 0);
    assert.equal(b.next(500), 0);
    assert.equal(b.next(1_010), 2, 'the poll interval passed');
  });

  it('does not go quiet when a task was queued while a short lease was in flight', () => {
    const b = budget(4);
    const ticket = b.started(2, 0);
    b.taskQueued(); // Arrived after the lease read the queue.
    b.answered(ticket, 0);
    assert.equal(b.next(1), 2);
  });

  it('asks again at once after a failed lease', () => {
    const b = budget(4);
    b.answered(b.started(2, 0), 0);
    b.taskQueued();
    b.answered(b.started(2, 1), undefined);
    assert.equal(b.next(2), 2);
  });
});
