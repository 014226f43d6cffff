// Celeriac's public API.
export { Celeriac, type CeleriacOptions, type EnqueueItem } from './app.js';
export { Task, type TaskContext, type TaskDefinition, type TaskDefinitionWithSchema } from './task.js';
export { TaskRun } from './task-run.js';
export { Worker, type WorkerOptions } from './worker/worker.js';
export type { EnqueueOptions, RetryOptions, TaskOptions } from './options.js';
export {
  BrokerError,
  NonRetryableError,
  SoftTimeLimitError,
  TaskCancelledError,
  TaskFailedError,
  TimeLimitError,
  TimeoutError,
  ValidationError,
  WorkerShutdownError,
  type TaskError,
  type ValidationIssue,
} from './errors.js';
export type * from './events.js';
export type { AttemptError, StateCounts, TaskInfo, TaskState, WorkerInfo, RetryPolicy } from './types.js';
export type { Stats, QueueStats, Percentiles } from './stats.js';
export type { Duration } from './duration.js';
export { toMs } from './duration.js';
export type { Priority, PriorityName } from './priority.js';
export type { Broker, CancelOutcome, TaskFilter, TaskOutcome } from './broker/broker.js';
export { connectBroker, DEFAULT_BROKER_URL } from './broker/connect.js';
export { createLogger, type Logger } from './logger.js';
