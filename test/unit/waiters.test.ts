// Waiting for a task (run.result()): the timeout counts from the call, so a broker that cannot confirm
// its subscription or answer the first read does not hold the wait past it; a wait whose event was lost
// reads its task again, and many waits read theirs at a bounded pace. A wait reads only the task's
// outcome where the broker can (not its input), and ends with an error when the task is gone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Broker, TaskOutcome } from '../../src/broker/broker.js';
import { TimeoutError } from '../../src/errors.js';
import type { TaskInfo } from '../../src/types.js';
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

/** A broker that never delivers events; getTask answers from `states` and counts its calls. */
function silentBroker(states: Map<string, string>) {
  const reads: string[] = [];
  const broker = {
    subscribe: () => () => undefined,
    subscribed: () => Promise.resolve(),
    getTask: (id: string) => {
      reads.push(id);
      return Promise.resolve({ id, state: states.get(id) ?? 'queued', result: id } as unknown as TaskInfo);
    },
  } as unknown as Broker;
  return { broker, reads };
}

describe('TaskWaiters rechecks', () => {
  it('a wait whose finishing event was lost reads its task again after 5 s and resolves', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const states = new Map<string, string>();
    const { broker, reads } = silentBroker(states);
    let clock = 0;
    const waiters = new TaskWaiters(broker, () => clock);
    try {
      const waiting = waiters.wait('a');
      await new Promise((resolve) => setImmediate(resolve)); // The first read: still queued.
      assert.deepEqual(reads, ['a']);
      states.set('a', 'completed'); // ... and its event is lost.
      for (let second = 1; second <= 4; second++) {
        clock = second * 1_000;
        t.mock.timers.tick(1_000);
      }
      assert.deepEqual(reads, ['a'], 'not read again before 5 s');
      clock = 5_000;
      t.mock.timers.tick(1_000);
      assert.equal((await waiting).state, 'completed');
      assert.deepEqual(reads, ['a', 'a']);
    } finally {
      waiters.close();
    }
  });

  it('paces the rereads of many waits: at most 200 a second, longest unread first, every wait in turn', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    const { broker, reads } = silentBroker(new Map());
    let clock = 0;
    const waiters = new TaskWaiters(broker, () => clock);
    try {
      const ids = Array.from({ length: 1_000 }, (_, n) => `t${n}`);
      for (const id of ids) waiters.wait(id).catch(() => undefined);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(reads.length, 1_000, 'each read once when its wait starts');
      reads.length = 0;
      const perTick: number[] = [];
      for (let second = 1; second <= 10; second++) {
        clock = second * 1_000;
        const before = reads.length;
        t.mock.timers.tick(1_000);
        perTick.push(reads.length - before);
      }
      // Nothing before 5 s; then 200 a second, the oldest first, until all 1,000 were read again.
      assert.deepEqual(perTick, [0, 0, 0, 0, 200, 200, 200, 200, 200, 200]);
      assert.deepEqual(reads.slice(0, 1_000), ids, 'each wait once, in the order they were last read');
      assert.deepEqual(reads.slice(1_000), ids.slice(0, 200), 'then the first ones again (read 5 s ago)');
    } finally {
      waiters.close();
    }
  });
});

/** A broker that reads outcomes (and fails the test if a wait reads a whole task), delivering events on demand. */
function outcomeBroker(outcomes: Map<string, TaskOutcome | null>) {
  let listener: ((events: unknown[]) => void) | undefined;
  const broker = {
    subscribe: (l: (events: unknown[]) => void) => {
      listener = l;
      return () => (listener = undefined);
    },
    subscribed: () => Promise.resolve(),
    getOutcome: (id: string) => Promise.resolve(outcomes.has(id) ? outcomes.get(id)! : { state: 'queued' }),
    getTask: () => assert.fail('a wait read the whole task'),
  } as unknown as Broker;
  const emit = (type: string, taskId: string) => listener?.([{ type, taskId }]);
  return { broker, emit };
}

/** A wait on task 'a' of an outcomeBroker, past its first read (the task still queued). */
async function startedWait(now?: () => number) {
  const outcomes = new Map<string, TaskOutcome | null>();
  const { broker, emit } = outcomeBroker(outcomes);
  const waiters = new TaskWaiters(broker, now);
  const waiting = waiters.wait('a');
  await new Promise((resolve) => setImmediate(resolve));
  return { outcomes, emit, waiters, waiting };
}

describe('TaskWaiters outcomes', () => {
  it('reads only the outcome, when the wait starts and on the finishing event', async () => {
    const { outcomes, emit, waiters, waiting } = await startedWait();
    try {
      outcomes.set('a', { state: 'completed', result: 7 });
      emit('task.completed', 'a');
      assert.deepEqual(await waiting, { state: 'completed', result: 7 });
    } finally {
      waiters.close();
    }
  });

  it('rejects a wait whose task is gone when its event comes (pruned at once)', async () => {
    const { outcomes, emit, waiters, waiting } = await startedWait();
    try {
      outcomes.set('a', null);
      emit('task.completed', 'a');
      await assert.rejects(waiting, /task a no longer exists/);
    } finally {
      waiters.close();
    }
  });

  it('rejects a wait whose task was deleted without an event (purged) at its next reread', async (t) => {
    t.mock.timers.enable({ apis: ['setInterval'] });
    let clock = 0;
    const { outcomes, waiters, waiting } = await startedWait(() => clock);
    try {
      outcomes.set('a', null); // Purged: no event.
      clock = 5_000;
      t.mock.timers.tick(1_000);
      await assert.rejects(waiting, /task a no longer exists \(purged while waiting/);
    } finally {
      waiters.close();
    }
  });
});
