import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Broker, Settlement } from '../../src/broker/broker.js';
import { createLogger } from '../../src/logger.js';
import { Acker } from '../../src/worker/acker.js';

const silent = createLogger({ level: 'silent' });

function completion(taskId: string): Settlement {
  return { kind: 'complete', taskId, workerId: 'w1', now: 1, attempt: 1, result: null };
}

/** A broker that records what reaches `settle` and when, beside the test's own marks. */
function recordingBroker(log: string[]): Broker {
  return {
    settle(settlements: Settlement[]) {
      log.push(`settle ${settlements.map((s) => s.taskId).join(',')}`);
      return Promise.resolve(settlements.map(() => true));
    },
  } as unknown as Broker;
}

function ackerWith(log: string[], alone: () => boolean): Acker {
  // No lease request: only `alone` of the refill matters here.
  return new Acker(recordingBroker(log), silent, { request: () => undefined, leased: () => undefined, alone });
}

describe('acker', () => {
  it('sends a lone result at once, before the next turn of the event loop', async () => {
    const log: string[] = [];
    const acker = ackerWith(log, () => true);
    // Queued before the settlement: a batch that waited for the turn to end would come after it.
    const nextTurn = new Promise<void>((resolve) => setImmediate(() => (log.push('next turn'), resolve())));
    const stored = acker.settle(completion('t1'));
    assert.equal(await stored, true);
    await nextTurn;
    assert.deepEqual(log, ['settle t1', 'next turn']);
  });

  it('waits a turn while others may join, and sends what one turn made as one batch', async () => {
    const log: string[] = [];
    const acker = ackerWith(log, () => false);
    // Queued first, so it runs before the acker's own turn.
    const earlier = new Promise<void>((resolve) => setImmediate(() => (log.push('earlier turn'), resolve())));
    const stored = [acker.settle(completion('t1')), acker.settle(completion('t2'))];
    assert.deepEqual(await Promise.all(stored), [true, true]);
    await earlier;
    assert.deepEqual(log, ['earlier turn', 'settle t1,t2']);
  });

  it('batches results made in the same turn as a lone one', async () => {
    const log: string[] = [];
    const acker = ackerWith(log, () => true);
    const first = acker.settle(completion('t1'));
    const second = acker.settle(completion('t2')); // Same synchronous run: joins the batch.
    assert.deepEqual(await Promise.all([first, second]), [true, true]);
    assert.deepEqual(log, ['settle t1,t2']);
  });
});
