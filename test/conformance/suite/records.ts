// Builders for what cases hand to a broker directly: new tasks, lease requests and worker records.
import type { LeaseRequest, NewTask } from '../../../src/broker/broker.js';
import type { Broker } from '../../../src/index.js';
import { newTaskId } from '../../../src/ids.js';
import type { ExecutionOptions, WorkerInfo } from '../../../src/types.js';

export const NO_RETRY: ExecutionOptions = {
  retry: { maxRetries: 0, backoff: 'exponential', delay: 1000, maxDelay: 600_000, jitter: false },
  ignoreResult: false,
};

/**
 * A new task for `enqueue`: queued in 'default' at normal priority unless overridden. Its id is a
 * UUIDv7 from `newTaskId`, as every task the app enqueues has: time-ordered, which brokers may rely on to
 * order tasks created in the same millisecond.
 */
export function newTask(overrides: Partial<NewTask> = {}): NewTask {
  return {
    id: newTaskId(),
    name: 'conformance.noop',
    queue: 'default',
    priority: 5,
    input: { n: 1 },
    createdAt: Date.now(),
    execution: NO_RETRY,
    ...overrides,
  };
}

/** A lease request for one task from 'default' with a 30 s lease, made now. */
export function leaseRequest(workerId: string, overrides: Partial<LeaseRequest> = {}): LeaseRequest {
  return { workerId, queues: ['default'], limit: 1, leaseMs: 30_000, now: Date.now(), ...overrides };
}

export function workerInfo(id: string, overrides: Partial<WorkerInfo> = {}): WorkerInfo {
  const now = new Date();
  return {
    id,
    name: `conformance-${id}@host`,
    hostname: 'host',
    pid: 4242,
    queues: ['default'],
    concurrency: 4,
    tasks: ['conformance.noop'],
    startedAt: now,
    heartbeatAt: now,
    heartbeatInterval: 2_000,
    active: 0,
    processed: 0,
    failed: 0,
    ...overrides,
  };
}

/** A long-lived retention policy, so a case prunes only what it means to. */
export const KEEP_EVERYTHING = { resultTtlMs: 86_400_000, eventTtlMs: 86_400_000, workerTtlMs: 86_400_000 };

/** Enqueues one task and returns its id. */
export async function enqueueOne(broker: Broker, overrides: Partial<NewTask> = {}): Promise<string> {
  const [outcome] = await broker.enqueue([newTask(overrides)]);
  if (!outcome) throw new Error('enqueue returned no outcome');
  return outcome.id;
}

/** Enqueues one task and leases it to `workerId`; returns its id. */
export async function enqueueAndLease(
  broker: Broker,
  workerId: string,
  overrides: Partial<NewTask> = {},
  lease: Partial<LeaseRequest> = {},
): Promise<string> {
  const id = await enqueueOne(broker, overrides);
  const [leased] = await broker.lease(leaseRequest(workerId, { queues: [overrides.queue ?? 'default'], ...lease }));
  if (leased?.id !== id) throw new Error(`expected to lease ${id}, got ${leased?.id ?? 'nothing'}`);
  return id;
}

/**
 * Enqueues `count` tasks in 'default' and completes each, all finishing at `finishedAt` (a backlog for
 * retention and stats), 500 per round trip; fails if any step leaves a task behind.
 */
export async function completeMany(broker: Broker, count: number, finishedAt: number): Promise<void> {
  for (let done = 0; done < count; ) {
    const size = Math.min(500, count - done);
    await broker.enqueue(Array.from({ length: size }, () => newTask()));
    const leased = await broker.lease(leaseRequest('w1', { limit: size }));
    if (leased.length !== size) throw new Error(`leased ${leased.length} of ${size}`);
    const held = await broker.settle(leased.map((task) => ({ kind: 'complete' as const, taskId: task.id, workerId: 'w1', result: null, now: finishedAt })));
    if (!held.every(Boolean)) throw new Error('a completion was refused');
    done += size;
  }
}
