// The shapes users read back: task states, TaskInfo, retry policy and worker info.
import type { TaskError } from './errors.js';

export type TaskState = 'scheduled' | 'queued' | 'active' | 'retrying' | 'completed' | 'failed' | 'cancelled';

export const TASK_STATES: readonly TaskState[] = [
  'scheduled',
  'queued',
  'active',
  'retrying',
  'completed',
  'failed',
  'cancelled',
];
export const FINISHED_STATES: readonly TaskState[] = ['completed', 'failed', 'cancelled'];

export function isFinished(state: TaskState): boolean {
  return state === 'completed' || state === 'failed' || state === 'cancelled';
}

/** A failed attempt's error, with the attempt it belongs to. */
export interface AttemptError extends TaskError {
  attempt: number;
  at: Date;
}

/** What a task looks like to users: `app.getTask(id)`, `run.status()`. */
export interface TaskInfo<Input = unknown, Output = unknown> {
  id: string;
  name: string;
  queue: string;
  state: TaskState;
  priority: number;
  input: Input;
  result?: Output;
  error?: TaskError;
  /** Attempts started so far (1 once the first attempt starts). */
  attempts: number;
  maxRetries: number;
  progress?: { percent: number; meta?: unknown };
  workerId?: string;
  createdAt: Date;
  scheduledFor?: Date;
  startedAt?: Date;
  finishedAt?: Date;
  expiresAt?: Date;
  /** The idempotency key it was enqueued with. */
  key?: string;
  /** Every failed attempt's error, oldest first. */
  errors: AttemptError[];
}

/** Retry policy as stored on a task; durations in milliseconds. */
export interface RetryPolicy {
  maxRetries: number;
  backoff: 'exponential' | 'fixed';
  delay: number;
  maxDelay: number;
  jitter: boolean;
}

/** How an attempt runs, fixed at enqueue and stored with the task. */
export interface ExecutionOptions {
  retry: RetryPolicy;
  timeLimit?: number;
  softTimeLimit?: number;
  ignoreResult: boolean;
}

/** A worker as the registry knows it (`celeriac inspect workers`). */
export interface WorkerInfo {
  id: string;
  name: string;
  hostname: string;
  pid: number;
  queues: string[];
  concurrency: number;
  /** Names of the tasks it can run. */
  tasks: string[];
  startedAt: Date;
  heartbeatAt: Date;
  /** Milliseconds between heartbeats; live means a heartbeat within three of them. */
  heartbeatInterval: number;
  active: number;
  processed: number;
  failed: number;
}

/** Counts by state for one queue. */
export type StateCounts = Record<TaskState, number>;

export function emptyCounts(): StateCounts {
  return { scheduled: 0, queued: 0, active: 0, retrying: 0, completed: 0, failed: 0, cancelled: 0 };
}
