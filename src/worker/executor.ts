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
    const returned: unknown = task.definition.run(input, contextFor(attempt, env));
    // A handler that returned without waiting (a thrown error is thrown here) cannot have been stopped
    // meanwhile: nothing to race, which saves a no-op task a third of its promises.
    if (!isThenable(returned)) return returned;
    return await attempt.race(Promise.resolve(returned));
  } finally {
    for (const timer of timers) clearTimeout(timer);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as PromiseLike<unknown>).then === 'function';
}

function contextFor(attempt: Attempt, env: ExecutorEnv): TaskContext {
  return new AttemptContext(attempt, env);
}

/**
 * A handler's `ctx`. A class, not an object literal: a literal with getters costs about ten times as
 * much to make (measured: 650 against 50 ns), once per task. `signal`, `log` and `enqueuedAt` are
 * getters on the prototype, made on first use; `progress` is the instance's own function, so a handler
 * may take it apart (`run(input, { progress })`) as it may the fields.
 */
class AttemptContext implements TaskContext {
  readonly id: string;
  readonly name: string;
  readonly attempt: number;
  readonly queue: string;
  readonly priority: number;
  readonly maxRetries: number;
  readonly progress: (percent: number, meta?: unknown) => Promise<void>;
  readonly #running: Attempt;
  readonly #env: ExecutorEnv;
  #log: Logger | undefined;
  #enqueuedAt: Date | undefined;

  constructor(running: Attempt, env: ExecutorEnv) {
    this.#running = running;
    this.#env = env;
    const { task } = running;
    this.id = task.id;
    this.name = task.name;
    this.attempt = task.attempt;
    this.queue = task.queue;
    this.priority = task.priority;
    this.maxRetries = task.execution.retry.maxRetries;
    this.progress = async (percent, meta) => {
      if (typeof percent !== 'number' || !(percent >= 0 && percent <= 100)) {
        throw new RangeError(`progress must be a number from 0 to 100, got ${percent}`);
      }
      await env.broker.progress(task.id, env.workerId, percent, meta, Date.now(), task.attempt);
    };
  }

  get signal(): AbortSignal {
    return this.#running.signal;
  }

  /** A child logger costs more than a no-op task: made on first use. */
  get log(): Logger {
    return (this.#log ??= this.#env.log.child({ taskId: this.id, task: this.name, attempt: this.attempt }));
  }

  get enqueuedAt(): Date {
    return (this.#enqueuedAt ??= new Date(this.#running.task.createdAt));
  }
}

function succeeded(attempt: Attempt, value: unknown, env: ExecutorEnv): Settlement {
  const { task } = attempt;
  const base = { taskId: task.id, workerId: env.workerId, now: Date.now(), attempt: task.attempt };
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
  const base = { taskId: task.id, workerId: env.workerId, now, attempt: task.attempt };
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
