import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LeasedTask } from '../../src/broker/broker.js';
import { TaskCancelledError } from '../../src/errors.js';
import { DEFAULT_EXECUTION } from '../../src/options.js';
import { createTestApp } from '../../src/testing/index.js';
import { Attempt } from '../../src/worker/attempt.js';
import { executeAttempt } from '../../src/worker/executor.js';
import { HOLD_MS, Pool } from '../../src/worker/pool.js';

function leased(id: string): LeasedTask {
  return { id, name: 't', queue: 'default', priority: 5, input: null, attempt: 1, createdAt: 0, execution: DEFAULT_EXECUTION, leaseExpiresAt: 0 };
}

function pool(concurrency: number, prefetch: number): { pool: Pool; started: string[] } {
  const started: string[] = [];
  return { pool: new Pool(concurrency, prefetch, (attempt: Attempt) => started.push(attempt.task.id)), started };
}

describe('the worker pool', () => {
  it('runs up to its concurrency; the rest wait and start in lease order as slots free', () => {
    const { pool: p, started } = pool(2, 10);
    for (const id of ['a', 'b', 'c', 'd']) p.add(leased(id));
    assert.deepEqual(started, ['a', 'b']);
    assert.equal(p.running, 2);
    assert.equal(p.attempts.size, 4);
    p.ended(0);
    assert.deepEqual(started, ['a', 'b', 'c']);
    p.settled(p.attempts.get('a')!);
    assert.equal(p.attempts.size, 3, 'a settled attempt no longer holds a lease');
    p.ended(0);
    assert.deepEqual(started, ['a', 'b', 'c', 'd']);
  });

  it('a later attempt of a task it holds replaces the earlier one: never started or handed back, nor dropping the later lease when settled', () => {
    const { pool: p, started } = pool(1, 10);
    p.add(leased('busy'));
    p.add(leased('t')); // Waits for the slot; its lease expires meanwhile (a stalled worker) and it is rescued.
    const earlier = p.attempts.get('t')!;
    assert.equal(p.add({ ...leased('t'), attempt: 2 }), true, 'leased here again, as attempt 2');
    const later = p.attempts.get('t')!;
    assert.equal(later.task.attempt, 2);
    assert.deepEqual(p.takeWaiting().map((attempt) => attempt.task.attempt), [2], 'only attempt 2 waits: it alone is handed back');
    assert.equal(p.attempts.has('t'), false);

    p.add({ ...leased('t'), attempt: 3 });
    p.ended(0);
    assert.deepEqual(started, ['busy', 't'], 'the slot runs the task once, in its latest attempt');
    p.settled(earlier); // The earlier attempt's outcome, refused by the broker, settles late.
    assert.equal(p.attempts.get('t')?.task.attempt, 3, "the latest attempt's lease is still held and renewed");
  });

  it('gives up every waiting task once the oldest has waited HOLD_MS for a slot, and none before', () => {
    const { pool: p, started } = pool(1, 10);
    p.add(leased('slow'), 0);
    p.add(leased('a'), 10);
    p.add(leased('b'), 20);
    assert.deepEqual(p.takeHeldTooLong(10 + HOLD_MS - 1), [], 'the oldest waiting has not waited long enough');
    const taken = p.takeHeldTooLong(10 + HOLD_MS);
    assert.deepEqual(taken.map((attempt) => attempt.task.id), ['a', 'b'], 'oldest first');
    assert.deepEqual([...p.attempts.keys()], ['slow'], 'their leases are no longer held');
    p.ended(1_000);
    assert.deepEqual(started, ['slow'], 'a task given up never starts');
    assert.deepEqual(p.takeHeldTooLong(10_000), [], 'nothing waits');
  });

  it('leases ahead no more than finished in the last 100 ms, a tenth of the last second, or prefetch', () => {
    const { pool: p } = pool(2, 50);
    const finish = (count: number, at: number) => {
      for (let i = 0; i < count; i++) {
        p.add(leased(`t${at}-${i}`), at);
        p.ended(at);
      }
    };
    assert.equal(p.room(1_000), 2, 'no prefetch before anything finished');
    finish(2, 1_010);
    assert.equal(p.room(1_050), 2, 'tasks finished this window count from the next one');
    assert.equal(p.room(1_120), 2, 'two finishes are no rate yet: none may wait');
    finish(100, 1_130);
    assert.equal(p.room(1_240), 2 + 10, 'a tenth of the 102 finished in the last second');
    finish(300, 1_250);
    assert.equal(p.room(1_360), 2 + 40);
    finish(1_000, 1_370);
    assert.equal(p.room(1_480), 2 + 50, 'capped at prefetch');
    assert.equal(p.room(1_700), 2, 'a quiet spell (slow tasks) turns prefetching off');
  });

  it('a worker of slow tasks never leases ahead, even right after one finished', () => {
    const { pool: p } = pool(1, 1_000);
    for (let second = 1; second <= 5; second++) {
      const at = second * 1_000;
      p.add(leased(`slow${second}`), at - 990);
      p.ended(at);
      assert.equal(p.room(at), 1, 'one free slot, nothing ahead');
      assert.equal(p.room(at + 150), 1, 'one finish in the last 100 ms is no rate');
    }
  });

  it('ignores a task it already holds in the same attempt (a hand-off delivered twice) or a later one, and takes a new attempt', () => {
    const { pool: p, started } = pool(1, 10);
    assert.equal(p.add(leased('a')), true);
    assert.equal(p.add(leased('b')), true);
    const first = p.attempts.get('a');
    assert.equal(p.add(leased('a')), false, 'running');
    assert.equal(p.add(leased('b')), false, 'waiting for a slot');
    assert.deepEqual(started, ['a']);
    assert.equal(p.attempts.get('a'), first);
    assert.equal(p.attempts.size, 2);
    // The lease was lost and the task leased again: the new attempt replaces the old one.
    assert.equal(p.add({ ...leased('a'), attempt: 2 }), true);
    assert.equal(p.attempts.get('a')?.task.attempt, 2);
    // An earlier attempt's hand-off arriving late (after the task came back and was leased again) is ignored.
    assert.equal(p.add(leased('a')), false, 'attempt 1 after attempt 2');
    assert.equal(p.add(leased('b')), false);
    assert.equal(p.attempts.get('a')?.task.attempt, 2);
    assert.deepEqual(started, ['a']);
  });

  it('hands over the waiting attempts at shutdown, leaving the running ones', () => {
    const { pool: p, started } = pool(1, 5);
    for (const id of ['a', 'b', 'c']) p.add(leased(id));
    const taken = p.takeWaiting().map((attempt) => attempt.task.id);
    assert.deepEqual(taken, ['b', 'c']);
    assert.deepEqual([...p.attempts.keys()], ['a']);
    p.ended(0);
    assert.deepEqual(started, ['a'], 'nothing left to start');
  });
});

describe('an attempt stopped while it waited for a slot', () => {
  it('is settled as cancelled without its handler ever running', async () => {
    const app = createTestApp();
    let ran = false;
    const task = app.task({ name: 't', run: () => (ran = true) });
    const attempt = new Attempt(leased('a'));
    attempt.stop(new TaskCancelledError('revoked'));
    const settlement = await executeAttempt(attempt, {
      workerId: 'w',
      broker: await app.broker(),
      log: app.logger,
      findTask: () => task,
    });
    assert.equal(settlement?.kind, 'cancel');
    assert.equal(ran, false);
    await app.close();
  });
});
