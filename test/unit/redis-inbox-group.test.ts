// InboxGroup: the inboxes of a worker of several queues, taken from as one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Inbox, LeasedTask } from '../../src/broker/broker.js';
import { InboxGroup } from '../../src/brokers/redis/handoff.js';

/** An inbox whose every take() waits until the test answers it. */
class FakeInbox implements Inbox {
  takes = 0;
  private answer: ((tasks: LeasedTask[] | null) => void) | undefined;
  private fail: ((error: Error) => void) | undefined;

  take(): Promise<LeasedTask[] | null> {
    this.takes++;
    return new Promise((resolve, reject) => {
      this.answer = resolve;
      this.fail = reject;
    });
  }
  give(tasks: LeasedTask[] | null): void {
    assert.ok(this.answer, 'nobody is waiting on this inbox');
    this.answer(tasks);
    this.answer = this.fail = undefined;
  }
  reject(error: Error): void {
    assert.ok(this.fail, 'nobody is waiting on this inbox');
    this.fail(error);
    this.answer = this.fail = undefined;
  }
  close = () => Promise.resolve();
  dispose = () => undefined;
}

const task = (id: string) => ({ id }) as LeasedTask;

describe('InboxGroup', () => {
  it('returns what the first inbox to answer brought, and keeps the other waits for the next take', async () => {
    const a = new FakeInbox();
    const b = new FakeInbox();
    const group = new InboxGroup([a, b]);
    const first = group.take();
    b.give([task('b1')]);
    assert.deepEqual(await first, [task('b1')]);
    const second = group.take();
    assert.deepEqual([a.takes, b.takes], [1, 2], "a's wait was kept; only b was asked again");
    a.give([task('a1')]);
    assert.deepEqual(await second, [task('a1')]);
  });

  it('passes on a timed-out wait as [] and ends with null only once every inbox has ended', async () => {
    const a = new FakeInbox();
    const b = new FakeInbox();
    const group = new InboxGroup([a, b]);
    const first = group.take();
    a.give([]);
    assert.deepEqual(await first, []);
    const second = group.take();
    a.give(null);
    await new Promise((resolve) => setImmediate(resolve));
    b.give([task('b1')]);
    assert.deepEqual(await second, [task('b1')], 'one inbox ending does not end the group');
    const third = group.take();
    b.give(null);
    assert.equal(await third, null);
    assert.equal(await group.take(), null);
    assert.deepEqual([a.takes, b.takes], [2, 2], 'an ended inbox is not asked again');
  });

  it('rejects with an inbox failure, and asks that inbox again on the next take', async () => {
    const a = new FakeInbox();
    const b = new FakeInbox();
    const group = new InboxGroup([a, b]);
    const first = group.take();
    a.reject(new Error('connection lost'));
    await assert.rejects(first, /connection lost/);
    const second = group.take();
    assert.deepEqual([a.takes, b.takes], [2, 1]);
    b.give([task('b1')]);
    assert.deepEqual(await second, [task('b1')]);
  });
});
