// Maintenance operations: promote due tasks, rescue expired leases, prune past retention, purge.
import type { PruneOutcome, RetentionPolicy } from '../../broker/broker.js';
import { addCancelled, addQueued, cancelledError, reserveSeq, type SqliteContext } from './context.js';

const BATCH = 1000;

export function promoteDue(ctx: SqliteContext, now: number): number {
  const due = ctx.statements.get('due_tasks').all({ now, limit: BATCH });
  if (due.length === 0) return 0;
  const promote = ctx.statements.get('promote_task');
  let seq = reserveSeq(ctx, due.length);
  let promoted = 0;
  for (const { id } of due) {
    const row = promote.get({ id, seq: seq++, now });
    if (!row) continue;
    promoted++;
    addQueued(ctx, id, row, now);
  }
  return promoted;
}

export function nextDueAt(ctx: SqliteContext): number | null {
  return (ctx.statements.get('next_due_at').get()!.at as number | null) ?? null;
}

export function hasExpiredQueued(ctx: SqliteContext, now: number): boolean {
  return ctx.statements.get('has_expired_queued').get({ now }) !== undefined;
}

export function hasExpiredLease(ctx: SqliteContext, now: number): boolean {
  return ctx.statements.get('has_expired_lease').get({ now }) !== undefined;
}

export function rescueExpired(ctx: SqliteContext, now: number): number {
  const expired = ctx.statements.get('expired_leases').all({ now, limit: BATCH });
  if (expired.length === 0) return 0;
  const rescue = ctx.statements.get('rescue_task');
  const cancel = ctx.statements.get('cancel_requested_task');
  let seq = reserveSeq(ctx, expired.length);
  let rescued = 0;
  for (const lost of expired) {
    const workerId = lost.worker_id as string;
    if (lost.cancel_requested) {
      // It was being cancelled when its worker died: finish the cancellation instead of running it again.
      const row = cancel.get({ id: lost.id, workerId, now, attempt: null, error: cancelledError('revoked') });
      if (row) addCancelled(ctx, lost.id, row, now, 'revoked');
      continue;
    }
    const attemptError = JSON.stringify({
      type: 'WorkerLostError',
      message: `worker ${workerId} stopped renewing its lease; the task was returned to its queue`,
      at: now,
    });
    const row = rescue.get({ id: lost.id, seq: seq++, now, attemptError });
    if (!row) continue;
    rescued++;
    addQueued(ctx, lost.id, row, now);
  }
  return rescued;
}

/** Up to BATCH tasks and BATCH events a call (one write transaction); `more` when either was full. */
export function prune(ctx: SqliteContext, now: number, policy: RetentionPolicy): PruneOutcome {
  const tasks = ctx.statements.get('prune_tasks').run({ before: now - policy.resultTtlMs, limit: BATCH });
  const events = ctx.statements.get('prune_events').run({ before: now - policy.eventTtlMs, limit: BATCH });
  ctx.statements.get('prune_workers').run({ before: now - policy.workerTtlMs });
  return { pruned: tasks.changes, more: tasks.changes >= BATCH || events.changes >= BATCH };
}

export function purge(ctx: SqliteContext, queue: string | undefined): number {
  return ctx.statements.get('purge_waiting').run({ queue: queue ?? null }).changes;
}
