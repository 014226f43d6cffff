// Runs one attempt as named steps over its leased record:
// resolve the task -> validate input -> perform under time limits -> turn the outcome into a settlement.
import type { Broker, LeasedTask, Settlement } from '../broker/broker.js';
import {
  NonRetryableError,
  SoftTimeLimitError,
  TaskCancelledError,
  TimeLimitError,
  ValidationError,
  WorkerShutdownError,
  toTaskError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { validateInput } from '../schema.js';
import type { Task, TaskContext } from '../task.js';
import type { Attempt} from './attempt.js';
import { LeaseLostError } from './attempt.js';
import { backoffDelay, mayRetry } from './retry-policy.js';

export interface ExecutorEnv {
  workerId: string;
  broker: Broker;
  log: Logger;
  findTask(name: string): Task<unknown, unknown> | undefined;
}

/** A failure that no retry can fix: the record, the name or the input is wrong. */
class PermanentError extends Error {}
class UnknownTaskError extends PermanentError {
  override readonly name = 'UnknownTaskError';
}
class DecodeError extends PermanentError {
  override readonly name = 'DecodeError';
}

/** Runs the attempt and returns how to settle it, or null when it is no longer this worker's to settle. */
export async function executeAttempt(attempt: Attempt, env: ExecutorEnv): Promise<Settlement | null> {
  try {
    attempt.throwIfStopped(); // Revoked or lost while it waited for a slot: never started.
    const task = resolveTask(attempt.task, env);
    const schema = task.definition.input;
    // Without a schema there is nothing to wait for: the handler starts in this turn of the event loop.
    const input = schema ? await validateInput(task.name, schema, attempt.task.input) : attempt.task.input;
    const value = await perform(attempt, task, input, env);
    return succeeded(attempt, value, env);
  } catch (error) {
    return failed(attempt, error, env);
  }
}

function resolveTask(leased: LeasedTask, env: ExecutorEnv): Task<unknown, unknown> {
  if (leased.decodeError) throw new DecodeError(leased.decodeError);
  const task = env.findTask(leased.name);
  if (!task) throw new UnknownTaskError(`no task named '${leased.name}' is registered on this worker`);
  return task;
}

async function perform(attempt: Attempt, task: Task<unknown, unknown>, input: unknown, env: ExecutorEnv) {
  const { execution } = attempt.task;
  const timers: NodeJS.Timeout[] = [];
  if (execution.softTimeLimit !== undefined) {
    const ms = execution.softTimeLimit;
    timers.push(setTimeout(() => attempt.abort(new SoftTimeLimitError(`soft time limit of ${ms} ms exceeded`)), ms));
  }
  if (execution.timeLimit !== undefined) {
    const ms = execution.timeLimit;
    timers.push(setTimeout(() => attempt.stop(new TimeLimitError(`time limit of ${ms} ms exceeded`)), ms));
  }
  try {
    const running = new Promise((resolve) => resolve(task.definition.run(input, contextFor(attempt, env))));
    return await attempt.race(running);
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
}

function contextFor(attempt: Attempt, env: ExecutorEnv): TaskContext {
  const { task } = attempt;
  let log: Logger | undefined;
  return {
    id: task.id,
    name: task.name,
    attempt: task.attempt,
    queue: task.queue,
    priority: task.priority,
    maxRetries: task.execution.retry.maxRetries,
    get signal() {
      return attempt.signal;
    },
    enqueuedAt: new Date(task.createdAt),
    // A child logger costs more than a no-op task: make it on first use.
    get log() {
      return (log ??= env.log.child({ taskId: task.id, task: task.name, attempt: task.attempt }));
    },
    async progress(percent: number, meta?: unknown) {
      if (typeof percent !== 'number' || !(percent >= 0 && percent <= 100)) {
        throw new RangeError(`progress must be a number from 0 to 100, got ${percent}`);
      }
      await env.broker.progress(task.id, env.workerId, percent, meta, Date.now());
    },
  };
}

function succeeded(attempt: Attempt, value: unknown, env: ExecutorEnv): Settlement {
  const { task } = attempt;
  const base = { taskId: task.id, workerId: env.workerId, now: Date.now() };
  if (task.execution.ignoreResult) return { kind: 'complete', ...base, result: null };
  const problem = jsonProblem(value);
  if (problem) {
    const error = { type: 'TypeError', message: `the result of task '${task.name}' is not JSON-serialisable: ${problem}` };
    return { kind: 'fail', ...base, error };
  }
  return { kind: 'complete', ...base, result: value === undefined ? null : value };
}

function failed(attempt: Attempt, thrown: unknown, env: ExecutorEnv): Settlement | null {
  const { task } = attempt;
  if (thrown instanceof LeaseLostError || thrown instanceof WorkerShutdownError || attempt.handedBack) return null;
  const now = Date.now();
  const base = { taskId: task.id, workerId: env.workerId, now };
  if (thrown instanceof TaskCancelledError) return { kind: 'cancel', ...base, reason: thrown.message || 'revoked' };
  const error = toTaskError(thrown);
  const permanent =
    thrown instanceof NonRetryableError || thrown instanceof ValidationError || thrown instanceof PermanentError;
  if (!permanent && mayRetry(task.execution.retry, task.attempt)) {
    const runAt = now + backoffDelay(task.execution.retry, task.attempt);
    return { kind: 'retry', ...base, error, runAt };
  }
  return { kind: 'fail', ...base, error };
}

function jsonProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? 'BigInt cannot be stored as JSON' : undefined;
  }
  try {
    JSON.stringify(value);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
