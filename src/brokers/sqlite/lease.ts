// Leases: handing queued tasks to a worker, renewing what it holds, and taking them back.
import type { LeaseRequest, LeasedTask, RenewOutcome } from '../../broker/broker.js';
import { rowToLeasedTask, type TaskRow } from './codec.js';
import { addCancelled, addQueued, cancelledError, type SqliteContext } from './context.js';

/**
 * Leases up to `limit` tasks: strict priority across the queues, FIFO within a priority. Queued tasks
 * whose expiry passed are cancelled first, so they are never leased.
 */
export function leaseTasks(ctx: SqliteContext, request: LeaseRequest): LeasedTask[] {
  const { workerId, now } = request;
  expireQueued(ctx, now);
  const leaseExpiresAt = now + request.leaseMs;
  const rows =
    request.queues.length === 1
      ? ctx.statements.get('lease_next').all({ queue: request.queues[0], limit: request.limit, workerId, leaseExpiresAt, now })
      : leaseAcrossQueues(ctx, request, leaseExpiresAt);
  rows.sort((a, b) => (b.priority as number) - (a.priority as number) || (a.seq as number) - (b.seq as number));
  return rows.map((row) => {
    const task = rowToLeasedTask(row, leaseExpiresAt);
    ctx.events.add({
      type: 'task.started',
      taskId: task.id,
      name: task.name,
      queue: task.queue,
      timestamp: now,
      workerId,
      attempt: task.attempt,
    });
    return task;
  });
}

/** Whether any of the queues has a task to lease; lets an idle worker's poll stay read-only. */
export function hasReadyTask(ctx: SqliteContext, queues: string[]): boolean {
  const hasReady = ctx.statements.get('has_ready');
  return queues.some((queue) => hasReady.get({ queue }) !== undefined);
}

/** Several queues: the best `limit` heads of each (one index seek per queue), merged, then leased. */
function leaseAcrossQueues(ctx: SqliteContext, request: LeaseRequest, leaseExpiresAt: number): TaskRow[] {
  const nextReady = ctx.statements.get('next_ready');
  const candidates: TaskRow[] = [];
  for (const queue of request.queues) candidates.push(...nextReady.all({ queue, limit: request.limit }));
  candidates.sort((a, b) => (b.priority as number) - (a.priority as number) || (a.seq as number) - (b.seq as number));
  const lease = ctx.statements.get('lease_task');
  const rows: TaskRow[] = [];
  for (const candidate of candidates.slice(0, request.limit)) {
    const row = lease.get({ id: candidate.id, workerId: request.workerId, leaseExpiresAt, now: request.now });
    if (row) rows.push(row);
  }
  return rows;
}

/** Cancels the queued tasks whose expiry passed (reason 'expired'): before every lease, and in each maintenance pass. */
export function expireQueued(ctx: SqliteContext, now: number): void {
  const error = cancelledError('expired');
  for (const row of ctx.statements.get('expired_queued').all({ now, error })) {
    addCancelled(ctx, row.id, row, now, 'expired');
  }
}

export function renewLeases(
  ctx: SqliteContext,
  workerId: string,
  taskIds: string[],
  leaseMs: number,
  now: number,
  attempts?: number[],
): RenewOutcome {
  const renew = ctx.statements.get('renew_leases');
  const outcome: RenewOutcome = { lost: [], cancelRequested: [] };
  for (const [i, id] of taskIds.entries()) {
    const row = renew.get({ id, workerId, leaseExpiresAt: now + leaseMs, attempt: attempts?.[i] ?? null });
    if (!row) outcome.lost.push(id);
    else if (row.cancel_requested) outcome.cancelRequested.push(id);
  }
  return outcome;
}

export function releaseTasks(ctx: SqliteContext, workerId: string, taskIds: string[], now: number, attempts?: number[]): number {
  const release = ctx.statements.get('release_task');
  let released = 0;
  for (const [i, id] of taskIds.entries()) {
    const attempt = attempts?.[i] ?? null;
    const row = release.get({ id, workerId, now, attempt });
    if (!row) {
      finishCancellation(ctx, id, workerId, now, attempt);
      continue;
    }
    released++;
    addQueued(ctx, id, row, now);
  }
  return released;
}

/** A task handed back while its cancellation was pending is cancelled rather than queued again. */
function finishCancellation(ctx: SqliteContext, id: string, workerId: string, now: number, attempt: number | null): void {
  const row = ctx.statements.get('cancel_requested_task').get({ id, workerId, now, attempt, error: cancelledError('revoked') });
  if (row) addCancelled(ctx, id, row, now, 'revoked');
}
