import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Inbox, LeasedTask } from '../../src/broker/broker.js';
import { createLogger } from '../../src/logger.js';
import { NO_RETRY } from '../conformance/suite/records.js';
import { HandoffReceiver } from '../../src/worker/handoff-receiver.js';

const silent = createLogger({ level: 'silent' });

function leased(id: string): LeasedTask {
  return { id, name: 'noop', queue: 'default', priority: 5, input: {}, attempt: 1, createdAt: 0, execution: NO_RETRY, leaseExpiresAt: 0 };
}

/** An inbox fed by the test: `take` waits for the next `hand`, and a closed inbox returns what is left, then null. */
class FakeInbox implements Inbox {
  private readonly handed: Array<LeasedTask[] | Error> = [];
  private waiter: (() => void) | undefined;
  private closed = false;
  disposed = false;
  takes = 0;

  hand(tasks: LeasedTask[] | Error): void {
    this.handed.push(tasks);
    this.waiter?.();
  }

  async take(): Promise<LeasedTask[] | null> {
    this.takes++;
    while (this.handed.length === 0) {
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
    const next = this.handed.shift()!;
    if (next instanceof Error) throw next;
    return next;
  }

  close(): Promise<void> {
    this.closed = true;
    this.waiter?.();
    return Promise.resolve();
  }

  dispose(): void {
    this.disposed = true;
  }
}

describe('hand-off receiver', () => {
  it('passes on every batch, retries after a failed take, and stops only once what was handed before closing arrived', async () => {
    const inbox = new FakeInbox();
    const received: string[] = [];
    let notify: () => void = () => undefined;
    const receiver = new HandoffReceiver(inbox, silent, (tasks) => {
      received.push(...tasks.map((task) => task.id));
      notify();
    });
    const got = (count: number) =>
      new Promise<void>((resolve) => {
        notify = () => received.length >= count && resolve();
        notify();
      });

    inbox.hand([leased('a'), leased('b')]);
    await got(2);
    inbox.hand(new Error('connection lost'));
    inbox.hand([leased('c')]);
    await got(3);
    inbox.hand([leased('d')]); // Handed just before the registration ends: must not be dropped.
    await receiver.stop();
    assert.deepEqual(received, ['a', 'b', 'c', 'd']);
    assert.ok(inbox.disposed, 'the inbox connection is dropped');
    assert.ok(inbox.takes >= 4);
  });

  it('says its next wait is due from the delivery of tasks until it sends that wait', async () => {
    const inbox = new FakeInbox();
    const seen: Array<{ due: boolean; takes: number }> = [];
    let delivered: () => void = () => undefined;
    const receiver = new HandoffReceiver(inbox, silent, () => {
      seen.push({ due: receiver.sendingWait, takes: inbox.takes });
      delivered();
    });
    assert.equal(receiver.sendingWait, false, 'waiting, nothing received yet');
    const arrived = new Promise<void>((resolve) => (delivered = resolve));
    inbox.hand([leased('a')]);
    await arrived;
    assert.deepEqual(seen, [{ due: true, takes: 1 }], 'due while the tasks are delivered, before the next take');
    // A turn later the next wait has gone out.
    await new Promise<void>((resolve) => setImmediate(resolve));
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(inbox.takes, 2);
    assert.equal(receiver.sendingWait, false);
    await receiver.stop();
  });
});
