// Events: what happened to a task or a worker. The table in docs/events.md is the contract.
import type { TaskError } from './errors.js';

interface TaskEventBase {
  taskId: string;
  name: string;
  queue: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
}
interface WorkerEventBase {
  workerId: string;
  timestamp: number;
}

export type TaskQueuedEvent = TaskEventBase & { type: 'task.queued'; priority: number };
export type TaskScheduledEvent = TaskEventBase & { type: 'task.scheduled'; priority: number; runAt: number };
export type TaskStartedEvent = TaskEventBase & { type: 'task.started'; workerId: string; attempt: number };
export type TaskProgressEvent = TaskEventBase & {
  type: 'task.progress';
  workerId: string;
  percent: number;
  meta?: unknown;
};
export type TaskRetryingEvent = TaskEventBase & {
  type: 'task.retrying';
  attempt: number;
  error: TaskError;
  runAt: number;
};
export type TaskCompletedEvent = TaskEventBase & { type: 'task.completed'; workerId: string; attempt: number };
export type TaskFailedEvent = TaskEventBase & { type: 'task.failed'; attempt: number; error: TaskError };
export type TaskCancelledEvent = TaskEventBase & { type: 'task.cancelled'; reason: string };
/** Cancellation was asked for a task that is running; `task.cancelled` follows when its worker stops it. */
export type TaskRevokedEvent = TaskEventBase & { type: 'task.revoked'; workerId: string };

export type WorkerOnlineEvent = WorkerEventBase & {
  type: 'worker.online';
  name: string;
  hostname: string;
  pid: number;
  queues: string[];
  concurrency: number;
};
export type WorkerHeartbeatEvent = WorkerEventBase & {
  type: 'worker.heartbeat';
  active: number;
  processed: number;
  failed: number;
};
export type WorkerOfflineEvent = WorkerEventBase & { type: 'worker.offline'; name: string };

export type TaskEvent =
  | TaskQueuedEvent
  | TaskScheduledEvent
  | TaskStartedEvent
  | TaskProgressEvent
  | TaskRetryingEvent
  | TaskCompletedEvent
  | TaskFailedEvent
  | TaskCancelledEvent
  | TaskRevokedEvent;
export type WorkerEvent = WorkerOnlineEvent | WorkerHeartbeatEvent | WorkerOfflineEvent;
export type CeleriacEvent = TaskEvent | WorkerEvent;
export type EventType = CeleriacEvent['type'];
export type EventOf<T extends EventType> = Extract<CeleriacEvent, { type: T }>;

export function isTaskEvent(event: CeleriacEvent): event is TaskEvent {
  return event.type.startsWith('task.');
}
