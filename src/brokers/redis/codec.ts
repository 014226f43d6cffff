// Converts between task hashes (and script replies) and the shapes of the broker contract. Stored JSON
// that cannot be decoded never throws: a leased task carries a decodeError, a read shows what it can.
// Execution options use the SQLite broker's compact positional form, so both brokers store the same text;
// a task with the default options stores none (most tasks: about 40 bytes of Redis memory each).
import type { LeasedTask, TaskOutcome } from '../../broker/broker.js';
import { timeOfTaskId } from '../../ids.js';
import { DEFAULT_EXECUTION } from '../../options.js';
import { DEFAULT_PRIORITY } from '../../priority.js';
import type { AttemptError, ExecutionOptions, TaskInfo, TaskState } from '../../types.js';
import { decode, decodeExecution, encode, encodeExecution as encodeExecutionText } from '../sqlite/codec.js';
import { fromStoredId } from './ids.js';

export { encode };

/** Tasks enqueued with the same options share one ExecutionOptions object: encode it once. */
const encodedExecutions = new WeakMap<ExecutionOptions, string>();
const DEFAULT_EXECUTION_TEXT = encodeExecutionText(DEFAULT_EXECUTION);

/** The stored form of execution options: '' (nothing stored) for the defaults. */
export function encodeExecution(execution: ExecutionOptions): string {
  let encoded = encodedExecutions.get(execution);
  if (encoded === undefined) {
    encoded = encodeExecutionText(execution);
    if (encoded === DEFAULT_EXECUTION_TEXT) encoded = '';
    encodedExecutions.set(execution, encoded);
  }
  return encoded;
}

/** Execution options of a task hash's `exec` field; absent means the defaults. */
function decodeStoredExecution(text: unknown): ReturnType<typeof decodeExecution> {
  return decodeExecution(text === null || text === undefined || text === '' ? DEFAULT_EXECUTION_TEXT : text);
}

/** Used only to fail a task whose execution options are unreadable: no retries. */
const FALLBACK_EXECUTION: ExecutionOptions = {
  retry: { maxRetries: 0, backoff: 'exponential', delay: 1000, maxDelay: 600_000, jitter: false },
  ignoreResult: false,
};

/** Fields per task in the lease script's reply. */
export const LEASED_FIELDS = 7;

/**
 * One task of a lease reply: id (stored form), name, priority, input, execution, attempt, createdAt
 * (priority and createdAt absent when the hash leaves them out, see enqueue.lua).
 */
export function leasedTask(reply: unknown[], at: number, queue: string, leaseExpiresAt: number): LeasedTask {
  // Indexed, not sliced: this runs once per task of every lease.
  const input = decode(reply[at + 3], 'stored input');
  return toLeasedTask(reply[at], reply[at + 1], reply[at + 2], input, reply[at + 4], reply[at + 5], reply[at + 6], queue, leaseExpiresAt);
}

/**
 * One hand-off inbox entry (handoff.lua), already parsed: id (stored form), name, priority, execution,
 * attempt, createdAt, lease expiry, then the input itself (the entry carries the stored JSON as it is,
 * so it is parsed once).
 */
export function handedTask(entry: unknown[], queue: string): LeasedTask {
  const [storedId, name, priority, execution, attempt, createdAt, leaseExpiresAt, input] = entry;
  return toLeasedTask(storedId, name, priority, { ok: true, value: input }, execution, attempt, createdAt, queue, toNumber(leaseExpiresAt));
}

function toLeasedTask(
  storedId: unknown,
  name: unknown,
  priority: unknown,
  decodedInput: ReturnType<typeof decode>,
  execution: unknown,
  attempt: unknown,
  createdAt: unknown,
  queue: string,
  leaseExpiresAt: number,
): LeasedTask {
  const id = fromStoredId(String(storedId));
  const decodedExecution = decodeStoredExecution(execution);
  const task: LeasedTask = {
    id,
    name: typeof name === 'string' ? name : '',
    queue,
    priority: storedPriority(priority),
    input: decodedInput.ok ? decodedInput.value : undefined,
    attempt: toNumber(attempt),
    createdAt: storedCreatedAt(createdAt, id),
    execution: decodedExecution.ok ? decodedExecution.value : FALLBACK_EXECUTION,
    leaseExpiresAt,
  };
  const problem = !decodedInput.ok ? decodedInput.error : !decodedExecution.ok ? decodedExecution.error : undefined;
  if (!task.name) task.decodeError = `task record ${task.id} cannot be decoded: its name is missing`;
  else if (problem) task.decodeError = `task record ${task.id} cannot be decoded: ${problem}`;
  return task;
}

/** A stored priority; absent means the default (enqueue.lua leaves it out). */
function storedPriority(value: unknown): number {
  return value === null || value === undefined || value === '' ? DEFAULT_PRIORITY : toNumber(value);
}

/**
 * A stored creation time; absent means the time in the task's id (enqueue.lua leaves it out), or
 * `otherwise` for an id that carries none.
 */
export function storedCreatedAt(value: unknown, id: string, otherwise = 0): number {
  if (value !== null && value !== undefined && value !== '') return toNumber(value);
  return timeOfTaskId(id) ?? otherwise;
}

/** A task hash (HGETALL) as users see it; null when the hash is empty (no such task). */
export function hashToTaskInfo(id: string, queue: string, hash: Record<string, string>): TaskInfo | null {
  if (!hash.state) return null;
  const execution = decodeStoredExecution(hash.exec);
  const info: TaskInfo = {
    id,
    name: hash.name ?? '',
    queue,
    state: hash.state as TaskState,
    priority: storedPriority(hash.priority),
    input: optionalJson(hash.input),
    attempts: toNumber(hash.attempts),
    maxRetries: execution.ok ? execution.value.retry.maxRetries : 0,
    createdAt: new Date(storedCreatedAt(hash.created, id)),
    errors: storedErrors(hash.errors),
  };
  const result = optionalJson(hash.result);
  if (result !== undefined) info.result = result;
  const error = optionalJson<TaskInfo['error']>(hash.error);
  if (error) info.error = error;
  const progress = optionalJson<TaskInfo['progress']>(hash.progress);
  if (progress) info.progress = progress;
  if (hash.worker) info.workerId = hash.worker;
  if (hash.key) info.key = hash.key;
  setDate(info, 'scheduledFor', hash.runAt);
  setDate(info, 'startedAt', hash.started);
  setDate(info, 'finishedAt', hash.finished);
  setDate(info, 'expiresAt', hash.expires);
  return info;
}

/** A task's state, result and error as HMGET returns them (null: no such field); null if it has no state. */
export function storedOutcome(state?: string | null, result?: string | null, error?: string | null): TaskOutcome | null {
  if (!state) return null;
  const outcome: TaskOutcome = { state: state as TaskState };
  const value = optionalJson(result ?? undefined);
  if (value !== undefined) outcome.result = value;
  const stored = optionalJson<TaskOutcome['error']>(error ?? undefined);
  if (stored) outcome.error = stored;
  return outcome;
}

function storedErrors(text: string | undefined): AttemptError[] {
  const errors = optionalJson<Array<AttemptError & { at: number }>>(text);
  if (!Array.isArray(errors)) return [];
  return errors.map((entry) => ({ ...entry, at: new Date(entry.at) }));
}

function optionalJson<T = unknown>(text: string | undefined): T | undefined {
  if (text === undefined) return undefined;
  const decoded = decode<T>(text, 'field');
  return decoded.ok ? decoded.value : (text as T);
}

function setDate(info: TaskInfo, field: 'scheduledFor' | 'startedAt' | 'finishedAt' | 'expiresAt', ms: string | undefined): void {
  if (ms !== undefined && ms !== '') info[field] = new Date(toNumber(ms));
}

export function toNumber(value: unknown): number {
  const n = typeof value === 'number' ? value : Number(value);
  return Number.isFinite(n) ? n : 0;
}
