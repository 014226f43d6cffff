// Leases: handing queued tasks to a worker, renewing what it holds, and taking them back.
import type { LeaseRequest, LeasedTask, RenewOutcome } from '../../broker/broker.js';
import { rowToLeasedTask } from './codec.js';
import { CANCELLED_TYPE, reserveSeq, type SqliteContext } from './context.js';

interface Candidate {
  id: string;
  priority: number;
  seq: number;
  expiresAt: number | null;
}

/** The best `limit` queued tasks across the queues: one index seek per queue, merged here. */
function nextCandidates(ctx: SqliteContext, queues: string[], limit: number): Candidate[] {
  const nextReady = ctx.statements.get('next_ready');
  const candidates: Candidate[] = [];
  for (const queue of queues) {
    for (const row of nextReady.all({ queue, limit })) {
      candidates.push({
        id: row.id as string,
        priority: row.priority as number,
        seq: row.seq as number,
        expiresAt: row.expires_at as number | null,
      });
    }
  }
  if (queues.length > 1) candidates.sort((a, b) => b.priority - a.priority || a.seq - b.seq);
  return candidates.slice(0, limit);
}

export function leaseTasks(ctx: SqliteContext, request: LeaseRequest): LeasedTask[] {
  const { workerId, queues, limit, leaseMs, now } = request;
  const leaseExpiresAt = now + leaseMs;
  const lease = ctx.statements.get('lease_task');
  const leased: LeasedTask[] = [];
  // Tasks found expired are cancelled instead of leased, so look again until the batch is full.
  while (leased.length < limit) {
    const candidates = nextCandidates(ctx, queues, limit - leased.length);
    if (candidates.length === 0) break;
    const before = leased.length;
    let expired = 0;
    for (const candidate of candidates) {
      if (candidate.expiresAt !== null && candidate.expiresAt <= now) {
        expireTask(ctx, candidate.id, now);
        expired++;
        continue;
      }
      const row = lease.get({ id: candidate.id, workerId, leaseExpiresAt, now });
      if (!row) continue;
      const task = rowToLeasedTask(row, leaseExpiresAt);
      leased.push(task);
      ctx.events.add({
        type: 'task.started',
        taskId: task.id,
        name: task.name,
        queue: task.queue,
        timestamp: now,
        workerId,
        attempt: task.attempt,
      });
    }
    if (leased.length === before && expired === 0) break;
  }
  return leased;
}

function expireTask(ctx: SqliteContext, id: string, now: number): void {
  const error = { type: CANCELLED_TYPE, message: 'expired' };
  const row = ctx.statements.get('expire_task').get({ id, now, error: JSON.stringify(error) });
  if (!row) return;
  ctx.events.add({
    type: 'task.cancelled',
    taskId: id,
    name: row.name as string,
    queue: row.queue as string,
    timestamp: now,
    reason: 'expired',
  });
}

export function renewLeases(
  ctx: SqliteContext,
  workerId: string,
  taskIds: string[],
  leaseMs: number,
  now: number,
): RenewOutcome {
  const renew = ctx.statements.get('renew_leases');
  const outcome: RenewOutcome = { lost: [], cancelRequested: [] };
  for (const id of taskIds) {
    const row = renew.get({ id, workerId, leaseExpiresAt: now + leaseMs });
    if (!row) outcome.lost.push(id);
    else if (row.cancel_requested) outcome.cancelRequested.push(id);
  }
  return outcome;
}

export function releaseTasks(ctx: SqliteContext, workerId: string, taskIds: string[], now: number): number {
  const release = ctx.statements.get('release_task');
  let seq = reserveSeq(ctx, taskIds.length);
  let released = 0;
  for (const id of taskIds) {
    const row = release.get({ id, workerId, seq: seq++, now });
    if (!row) continue;
    released++;
    ctx.events.add({
      type: 'task.queued',
      taskId: id,
      name: row.name as string,
      queue: row.queue as string,
      timestamp: now,
      priority: row.priority as number,
    });
  }
  return released;
}
