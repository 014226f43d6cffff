// Errors that users catch or throw. Each has a stable `name` so it survives a trip through the broker.

/** One problem found by a task's input schema. */
export interface ValidationIssue {
  message: string;
  path: string;
}

/** Input rejected by the task's schema; nothing was queued. */
export class ValidationError extends Error {
  override readonly name = 'ValidationError';
  constructor(
    readonly taskName: string,
    readonly issues: ValidationIssue[],
  ) {
    super(
      `invalid input for task '${taskName}': ` +
        issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('; '),
    );
  }
}

/**
 * Thrown by a task to fail at once, without retries.
 * @example
 * if (!input.email.includes('@')) throw new NonRetryableError('not an address');
 */
export class NonRetryableError extends Error {
  override readonly name = 'NonRetryableError';
}

/** The reason `ctx.signal` carries when the soft time limit passes. */
export class SoftTimeLimitError extends Error {
  override readonly name = 'SoftTimeLimitError';
}

/** The error an attempt fails with when its hard time limit passes. */
export class TimeLimitError extends Error {
  override readonly name = 'TimeLimitError';
}

/** The reason `ctx.signal` carries when the task is cancelled while it runs. */
export class TaskCancelledError extends Error {
  override readonly name = 'TaskCancelledError';
}

/** The reason `ctx.signal` carries when the worker shuts down before the task finished. */
export class WorkerShutdownError extends Error {
  override readonly name = 'WorkerShutdownError';
}

/** Waiting for something took longer than allowed. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** What a failed task's `error` field holds. */
export interface TaskError {
  type: string;
  message: string;
  stack?: string;
}

/** `result()` of a task that ended `failed` or `cancelled`. */
export class TaskFailedError extends Error {
  override readonly name = 'TaskFailedError';
  constructor(
    readonly taskId: string,
    readonly state: 'failed' | 'cancelled',
    readonly error: TaskError | undefined,
  ) {
    super(
      state === 'cancelled'
        ? `task ${taskId} was cancelled${error ? `: ${error.message}` : ''}`
        : `task ${taskId} failed: ${error ? `${error.type}: ${error.message}` : 'unknown error'}`,
    );
  }
}

/** The broker URL cannot be used, or the broker cannot be reached or written. */
export class BrokerError extends Error {
  override readonly name = 'BrokerError';
}

/** Turns anything thrown into the JSON shape kept on a task. */
export function toTaskError(thrown: unknown): TaskError {
  if (thrown instanceof Error) {
    return { type: thrown.name || 'Error', message: thrown.message, ...(thrown.stack ? { stack: thrown.stack } : {}) };
  }
  return { type: 'Error', message: typeof thrown === 'string' ? thrown : JSON.stringify(thrown) ?? String(thrown) };
}
