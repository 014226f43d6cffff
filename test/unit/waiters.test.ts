// Waiting for a task (run.result()): the timeout counts from the call, so a broker that cannot confirm
// its subscription or answer the first read does not hold the wait past it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import { TimeoutError } from '../../src/errors.js';
import { TaskWaiters } from '../../src/waiters.js';

/** A broker that takes subscriptions but never confirms them and never answers a read. */
function unreachableBroker(): Broker {
  const never = new Promise<never>(() => undefined);
  return {
    subscribe: () => () => undefined,
    subscribed: () => never,
    getTask: () => never,
  } as unknown as Broker;
}

describe('TaskWaiters', () => {
  it('rejects with TimeoutError after the timeout when the broker never answers', { timeout: 5_000 }, async () => {
    const waiters = new TaskWaiters(unreachableBroker());
    try {
      await assert.rejects(waiters.wait('some-task', 50), TimeoutError);
    } finally {
      waiters.close();
    }
  });
});
