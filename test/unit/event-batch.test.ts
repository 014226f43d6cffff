import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBatch, encodeBatch } from '../../src/broker/event-batch.js';
import type { CeleriacEvent } from '../../src/index.js';

describe('stored event batches', () => {
  it('round-trips a mixed batch exactly, in order', () => {
    const events: CeleriacEvent[] = [
      { type: 'task.queued', taskId: 'a', name: 'n', queue: 'q', timestamp: 1, priority: 5 },
      { type: 'task.queued', taskId: 'b', name: 'n', queue: 'q', timestamp: 1, priority: 5 },
      { type: 'task.queued', taskId: 'c', name: 'n', queue: 'q', timestamp: 1, priority: 10 },
      { type: 'task.failed', taskId: 'd', name: 'n', queue: 'q', timestamp: 2, attempt: 1, error: { type: 'E', message: 'm' } },
      { type: 'worker.heartbeat', workerId: 'w', timestamp: 3, active: 1, processed: 2, failed: 0 },
      { type: 'task.completed', taskId: 'e', name: 'n', queue: 'q', timestamp: 4, workerId: 'w', attempt: 1 },
    ];
    assert.deepEqual(decodeBatch(encodeBatch(events)), events);
  });

  it('stores events that differ only by task id once', () => {
    const events = Array.from({ length: 1000 }, (_, i): CeleriacEvent => ({
      type: 'task.queued',
      taskId: `id-${i}`,
      name: 'email.send',
      queue: 'default',
      timestamp: 5,
      priority: 5,
    }));
    const encoded = encodeBatch(events);
    assert.equal(encoded.split('email.send').length - 1, 1);
    assert.deepEqual(decodeBatch(encoded), events);
  });
});
