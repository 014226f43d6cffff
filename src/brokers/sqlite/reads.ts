// Reads for users and stats: one task, filtered lists, counts and recent finishes.
import type { FinishedSample, TaskFilter, TaskOutcome } from '../../broker/broker.js';
import { emptyCounts, type StateCounts, type TaskInfo, type TaskState } from '../../types.js';
import { rowToOutcome, rowToTaskInfo } from './codec.js';
import type { SqliteContext } from './context.js';

export function getTask(ctx: SqliteContext, id: string): TaskInfo | null {
  const row = ctx.statements.get('get_task').get({ id });
  return row ? rowToTaskInfo(row) : null;
}

/** State, result and error only: the input is not read. */
export function getOutcome(ctx: SqliteContext, id: string): TaskOutcome | null {
  const row = ctx.statements.get('get_outcome').get({ id });
  return row ? rowToOutcome(row) : null;
}

export function listTasks(ctx: SqliteContext, filter: TaskFilter): TaskInfo[] {
  return ctx.statements
    .get('list_tasks')
    .all({
      state: filter.state ?? null,
      queue: filter.queue ?? null,
      name: filter.name ?? null,
      limit: filter.limit ?? 100,
    })
    .map(rowToTaskInfo);
}

export function counts(ctx: SqliteContext): Record<string, StateCounts> {
  const byQueue: Record<string, StateCounts> = {};
  for (const row of ctx.statements.get('count_by_queue_state').all()) {
    const queue = row.queue as string;
    (byQueue[queue] ??= emptyCounts())[row.state as TaskState] = row.n as number;
  }
  return byQueue;
}

export function countFinishedSince(ctx: SqliteContext, since: number): Record<string, number> {
  const byQueue: Record<string, number> = {};
  for (const row of ctx.statements.get('finished_counts').all({ since })) byQueue[row.queue as string] = row.n as number;
  return byQueue;
}

export function finishedSince(ctx: SqliteContext, since: number, limit: number): FinishedSample[] {
  return ctx.statements
    .get('finished_since')
    .all({ since, limit })
    .map((row) => ({
      queue: row.queue as string,
      state: row.state as TaskState,
      readyAt: row.ready_at as number,
      ...(row.started_at === null ? {} : { startedAt: row.started_at as number }),
      finishedAt: row.finished_at as number,
    }));
}
