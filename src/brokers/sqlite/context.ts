// What the SQLite broker's operation modules share: the connection, its statements and the event log.
import type { Db, Statements } from './database.js';
import type { EventLog } from './event-log.js';

export interface SqliteContext {
  db: Db;
  statements: Statements;
  events: EventLog;
}

/** Reserves `count` FIFO positions and returns the first. */
export function reserveSeq(ctx: SqliteContext, count: number): number {
  const last = ctx.statements.get('next_seq').get({ count })!.value as number;
  return last - count + 1;
}

export const CANCELLED_TYPE = 'TaskCancelledError';

/** The fields every task event carries, from a row that RETURNING gave back with name and queue. */
export function taskFields(taskId: unknown, row: Record<string, unknown>, now: number) {
  return { taskId: taskId as string, name: row.name as string, queue: row.queue as string, timestamp: now };
}

/** Records that a task became ready to run (enqueue, promotion, rescue, hand-back). */
export function addQueued(ctx: SqliteContext, taskId: unknown, row: Record<string, unknown>, now: number): void {
  ctx.events.add({ type: 'task.queued', ...taskFields(taskId, row, now), priority: row.priority as number });
}

/** Records that a task ended cancelled. */
export function addCancelled(ctx: SqliteContext, taskId: unknown, row: Record<string, unknown>, now: number, reason: string): void {
  ctx.events.add({ type: 'task.cancelled', ...taskFields(taskId, row, now), reason });
}

/** The stored error of a cancelled task. */
export function cancelledError(reason: string): string {
  return JSON.stringify({ type: CANCELLED_TYPE, message: reason });
}
