// A small result rides in its task.completed message on Redis (settle.lua), so `run.result()` resolves
// on the event without reading the task; listeners still get events with the fields of events.md.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Celeriac, connectBroker, createLogger, type Broker, type CeleriacEvent } from '../../src/index.js';
import { newTask } from '../conformance/suite/records.js';
import { startRedisServer, type RedisServer } from '../support/redis-server.js';

let server: RedisServer;
before(async () => {
  server = await startRedisServer();
});
after(async () => {
  await server.stop();
});

/** Counts the producer broker's outcome reads; `firstRead` resolves once the first has returned. */
function countReads(broker: Broker): { reads: () => number; firstRead: Promise<void> } {
  const read = broker.getOutcome!.bind(broker);
  let reads = 0;
  let firstDone!: () => void;
  const firstRead = new Promise<void>((resolve) => (firstDone = resolve));
  broker.getOutcome = async (id) => {
    reads++;
    try {
      return await read(id);
    } finally {
      firstDone();
    }
  };
  return { reads: () => reads, firstRead };
}

/**
 * A producer and a worker (separate apps) on a fresh prefix; the task returns `output` once the
 * producer's wait has read the task the first time (so the wait must hear the completion).
 */
async function waitFor(output: unknown): Promise<{ result: unknown; reads: number; completed: CeleriacEvent[] }> {
  const url = `${server.url}?prefix=carried-${randomUUID().slice(0, 8)}`;
  const producer = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
  const workerApp = new Celeriac({ broker: url, logger: createLogger({ level: 'silent' }) });
  const { reads, firstRead } = countReads(await producer.broker());
  workerApp.task({
    name: 'carried.answer',
    async run() {
      await firstRead;
      return output;
    },
  });
  const completed: CeleriacEvent[] = [];
  producer.on('task.completed', (event) => completed.push(event));
  const worker = workerApp.worker({ handleSignals: false });
  try {
    await worker.start();
    const run = await producer.enqueue('carried.answer', {});
    const result = await run.result({ timeout: '10s' });
    return { result, reads: reads(), completed };
  } finally {
    await worker.close();
    await workerApp.close();
    await producer.close();
  }
}

describe('Redis: results carried by task.completed', () => {
  it('run.result() takes a small result from the event: one read when the wait starts, none after', async () => {
    const output = { answer: 'small', n: [1, 2, 3], text: 'quotes " and \u2028 and é' };
    const { result, reads, completed } = await waitFor(output);
    assert.deepEqual(result, output);
    assert.equal(reads, 1);
    assert.equal(completed.length, 1);
    assert.equal('result' in completed[0]!, false, 'listeners get the fields of events.md only');
  });

  it('a result over 1 KB is read, as before', async () => {
    const output = 'x'.repeat(2_000);
    const { result, reads, completed } = await waitFor(output);
    assert.equal(result, output);
    assert.equal(reads, 2);
    assert.equal('result' in completed[0]!, false);
  });

  it('one settle call carries the results of its first four completions; the rest are read', async () => {
    const url = `${server.url}?prefix=carried-${randomUUID().slice(0, 8)}`;
    const broker = await connectBroker(url);
    const listening = await connectBroker(url);
    try {
      const heard: CeleriacEvent[] = [];
      let allHeard!: () => void;
      const done = new Promise<void>((resolve) => (allHeard = resolve));
      listening.subscribe(
        (events) => {
          heard.push(...events);
          if (heard.length === 20) allHeard();
        },
        { types: ['task.completed'] },
      );
      await listening.subscribed!();
      const now = Date.now();
      await broker.enqueue(Array.from({ length: 20 }, () => newTask()));
      const leased = await broker.lease({ workerId: 'w1', queues: ['default'], limit: 20, leaseMs: 30_000, now });
      assert.equal(leased.length, 20);
      // Each result is 1,000 bytes of JSON (a carried result is at most 1,024).
      const results = leased.map((_, i) => `${String(i).padStart(2, '0')}${'r'.repeat(996)}`);
      const settled = await broker.settle(
        leased.map((task, i) => ({ kind: 'complete', taskId: task.id, workerId: 'w1', attempt: task.attempt, now, result: results[i] })),
      );
      assert.deepEqual(settled, Array(20).fill(true));
      await done;
      const carried = heard.map((event) => listening.carriedOutcome!(event));
      assert.deepEqual(
        carried.map((outcome) => outcome?.result),
        results.map((result, i) => (i < 4 ? result : undefined)),
      );
      assert.ok(carried.slice(0, 4).every((outcome) => outcome?.state === 'completed'));
      assert.deepEqual(
        heard.map((event) => event.type === 'task.completed' && event.taskId),
        leased.map((task) => task.id),
      );
      assert.ok(heard.every((event) => !('result' in event)));
    } finally {
      await listening.close();
      await broker.close();
    }
  });
});
