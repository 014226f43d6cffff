// Converts between stored rows and the shapes of the broker contract. Undecodable fields never throw.
import type { LeasedTask, TaskOutcome } from '../../broker/broker.js';
import type { AttemptError, ExecutionOptions, TaskInfo, TaskState, WorkerInfo } from '../../types.js';

export type TaskRow = Record<string, unknown>;

export function encode(value: unknown): string {
  return JSON.stringify(value === undefined ? null : value);
}

type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

export function decode<T = unknown>(text: unknown, what: string): Decoded<T> {
  if (typeof text !== 'string') return { ok: false, error: `${what} is missing` };
  try {
    return { ok: true, value: JSON.parse(text) as T };
  } catch (error) {
    return { ok: false, error: `${what} is not valid JSON (${(error as Error).message})` };
  }
}

function optionalJson<T>(text: unknown): T | undefined {
  if (text === null || text === undefined) return undefined;
  const decoded = decode<T>(text, 'field');
  return decoded.ok ? decoded.value : (text as T);
}

function optionalDate(ms: unknown): Date | undefined {
  return typeof ms === 'number' ? new Date(ms) : undefined;
}

/**
 * Execution options as a positional array, a fifth the size of the object form:
 * [maxRetries, backoff, delay, maxDelay, jitter, timeLimit, softTimeLimit, ignoreResult].
 */
export function encodeExecution(execution: ExecutionOptions): string {
  const { retry } = execution;
  return JSON.stringify([
    retry.maxRetries,
    retry.backoff === 'fixed' ? 'f' : 'e',
    retry.delay,
    retry.maxDelay,
    retry.jitter ? 1 : 0,
    execution.timeLimit ?? null,
    execution.softTimeLimit ?? null,
    execution.ignoreResult ? 1 : 0,
  ]);
}

type StoredExecution = [number, 'e' | 'f', number, number, 0 | 1, number | null, number | null, 0 | 1];

/** Most tasks share a few option sets: decode each stored form once (bounded). */
const decodedExecutions = new Map<string, Decoded<ExecutionOptions>>();

export function decodeExecution(text: unknown): Decoded<ExecutionOptions> {
  if (typeof text === 'string') {
    let decoded = decodedExecutions.get(text);
    if (!decoded) {
      decoded = decodeExecutionText(text);
      if (decodedExecutions.size >= 1_000) decodedExecutions.clear();
      decodedExecutions.set(text, decoded);
    }
    return decoded;
  }
  return decodeExecutionText(text);
}

function decodeExecutionText(text: unknown): Decoded<ExecutionOptions> {
  const decoded = decode<StoredExecution>(text, 'stored execution options');
  if (!decoded.ok) return decoded;
  const stored = decoded.value;
  if (!Array.isArray(stored) || stored.length !== 8) {
    return { ok: false, error: 'stored execution options have an unknown shape' };
  }
  const [maxRetries, backoff, delay, maxDelay, jitter, timeLimit, softTimeLimit, ignoreResult] = stored;
  const execution: ExecutionOptions = {
    retry: { maxRetries, backoff: backoff === 'f' ? 'fixed' : 'exponential', delay, maxDelay, jitter: jitter === 1 },
    ignoreResult: ignoreResult === 1,
  };
  if (timeLimit !== null) execution.timeLimit = timeLimit;
  if (softTimeLimit !== null) execution.softTimeLimit = softTimeLimit;
  return { ok: true, value: execution };
}

export function rowToLeasedTask(row: TaskRow, leaseExpiresAt: number): LeasedTask {
  const input = decode(row.input, 'stored input');
  const execution = decodeExecution(row.execution);
  const task: LeasedTask = {
    id: row.id as string,
    name: row.name as string,
    queue: row.queue as string,
    priority: row.priority as number,
    input: input.ok ? input.value : undefined,
    attempt: row.attempts as number,
    createdAt: row.created_at as number,
    execution: execution.ok ? execution.value : FALLBACK_EXECUTION,
    leaseExpiresAt,
  };
  const problem = !input.ok ? input.error : !execution.ok ? execution.error : undefined;
  if (problem) task.decodeError = `task record ${task.id} cannot be decoded: ${problem}`;
  return task;
}

/** Used only to fail a task whose execution options are unreadable: no retries. */
const FALLBACK_EXECUTION: ExecutionOptions = {
  retry: { maxRetries: 0, backoff: 'exponential', delay: 1000, maxDelay: 600_000, jitter: false },
  ignoreResult: false,
};

export function rowToTaskInfo(row: TaskRow): TaskInfo {
  const info: TaskInfo = {
    id: row.id as string,
    name: row.name as string,
    queue: row.queue as string,
    state: row.state as TaskState,
    priority: row.priority as number,
    input: optionalJson(row.input),
    attempts: row.attempts as number,
    maxRetries: row.max_retries as number,
    createdAt: new Date(row.created_at as number),
    errors: (optionalJson<Array<AttemptError & { at: number }>>(row.errors) ?? []).map((entry) => ({
      ...entry,
      at: new Date(entry.at),
    })),
  };
  const result = optionalJson(row.result);
  if (result !== undefined) info.result = result;
  const error = optionalJson<TaskInfo['error']>(row.error);
  if (error) info.error = error;
  const progress = optionalJson<TaskInfo['progress']>(row.progress);
  if (progress) info.progress = progress;
  if (row.worker_id) info.workerId = row.worker_id as string;
  if (row.idem_key) info.key = row.idem_key as string;
  const scheduledFor = optionalDate(row.run_at);
  if (scheduledFor) info.scheduledFor = scheduledFor;
  const startedAt = optionalDate(row.started_at);
  if (startedAt) info.startedAt = startedAt;
  const finishedAt = optionalDate(row.finished_at);
  if (finishedAt) info.finishedAt = finishedAt;
  const expiresAt = optionalDate(row.expires_at);
  if (expiresAt) info.expiresAt = expiresAt;
  return info;
}

export function rowToOutcome(row: TaskRow): TaskOutcome {
  const outcome: TaskOutcome = { state: row.state as TaskState };
  const result = optionalJson(row.result);
  if (result !== undefined) outcome.result = result;
  const error = optionalJson<TaskOutcome['error']>(row.error);
  if (error) outcome.error = error;
  return outcome;
}

type StoredWorker = Omit<WorkerInfo, 'startedAt' | 'heartbeatAt'> & { startedAt: number; heartbeatAt: number };

export function encodeWorker(worker: WorkerInfo): string {
  return JSON.stringify({ ...worker, startedAt: worker.startedAt.getTime(), heartbeatAt: worker.heartbeatAt.getTime() });
}

export function decodeWorker(info: unknown, heartbeatAt: number): WorkerInfo | undefined {
  const decoded = decode<StoredWorker>(info, 'worker');
  if (!decoded.ok) return undefined;
  return { ...decoded.value, startedAt: new Date(decoded.value.startedAt), heartbeatAt: new Date(heartbeatAt) };
}
