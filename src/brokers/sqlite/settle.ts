// Ending attempts (complete, fail, retry later, cancel), cancelling tasks, and recording progress.
import type { CancelOutcome, Settlement } from '../../broker/broker.js';
import type { TaskError } from '../../errors.js';
import type { TaskEvent } from '../../events.js';
import { encode } from './codec.js';
import { addCancelled, cancelledError, taskFields, type SqliteContext } from './context.js';

export function settleTasks(ctx: SqliteContext, settlements: Settlement[]): boolean[] {
  return settlements.map((settlement) => settleOne(ctx, settlement));
}

function settleOne(ctx: SqliteContext, s: Settlement): boolean {
  const key = { id: s.taskId, workerId: s.workerId, now: s.now, attempt: s.attempt ?? null };
  let row: Record<string, unknown> | undefined;
  let event: (base: { taskId: string; name: string; queue: string; timestamp: number }, attempt: number) => TaskEvent;
  switch (s.kind) {
    case 'complete':
      row = ctx.statements.get('complete_task').get({ ...key, result: encode(s.result) });
      event = (base, attempt) => ({ ...base, type: 'task.completed', workerId: s.workerId, attempt });
      break;
    case 'fail':
      row = ctx.statements
        .get('fail_task')
        .get({ ...key, error: JSON.stringify(s.error), attemptError: attemptError(s.error, s.now) });
      event = (base, attempt) => ({ ...base, type: 'task.failed', attempt, error: s.error });
      break;
    case 'retry': {
      // A task whose cancellation was asked while this attempt ran is not retried: it ends cancelled.
      const attemptErr = attemptError(s.error, s.now);
      row = ctx.statements.get('cancel_retrying_task').get({ ...key, cancelled: cancelledError('revoked'), attemptError: attemptErr });
      if (row) {
        event = (base) => ({ ...base, type: 'task.cancelled', reason: 'revoked' });
        break;
      }
      row = ctx.statements.get('retry_task').get({ ...key, runAt: s.runAt, error: JSON.stringify(s.error), attemptError: attemptErr });
      event = (base, attempt) => ({ ...base, type: 'task.retrying', attempt, error: s.error, runAt: s.runAt });
      break;
    }
    case 'cancel':
      row = ctx.statements
        .get('cancel_active_task')
        .get({ ...key, error: cancelledError(s.reason) });
      event = (base) => ({ ...base, type: 'task.cancelled', reason: s.reason });
      break;
  }
  if (!row) return false;
  const base = { taskId: s.taskId, name: row.name as string, queue: row.queue as string, timestamp: s.now };
  ctx.events.add(event(base, row.attempts as number));
  return true;
}

function attemptError(error: TaskError, now: number): string {
  return JSON.stringify({ ...error, at: now });
}

export function cancelTask(ctx: SqliteContext, id: string, reason: string, now: number): CancelOutcome {
  const waiting = ctx.statements.get('cancel_waiting_task').get({ id, now, error: cancelledError(reason) });
  if (waiting) {
    addCancelled(ctx, id, waiting, now, reason);
    return 'cancelled';
  }
  const active = ctx.statements.get('request_cancel').get({ id });
  if (active) {
    ctx.events.add({ type: 'task.revoked', ...taskFields(id, active, now), workerId: active.worker_id as string });
    return 'requested';
  }
  return ctx.statements.get('task_state').get({ id }) ? 'finished' : 'not_found';
}

export function setProgress(
  ctx: SqliteContext,
  id: string,
  workerId: string,
  percent: number,
  meta: unknown,
  now: number,
  attempt?: number,
): boolean {
  const progress = JSON.stringify(meta === undefined ? { percent } : { percent, meta });
  const row = ctx.statements.get('set_progress').get({ id, workerId, progress, attempt: attempt ?? null });
  if (!row) return false;
  ctx.events.add({
    type: 'task.progress',
    ...taskFields(id, row, now),
    workerId,
    percent,
    ...(meta === undefined ? {} : { meta }),
  });
  return true;
}
