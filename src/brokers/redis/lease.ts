// Leases: handing queued tasks to a worker, renewing what it holds, and taking them back.
import type { LeaseRequest, LeasedTask, RenewOutcome } from '../../broker/broker.js';
import { LEASED_FIELDS, leasedTask } from './codec.js';
import { byQueue, publishing, script, type RedisContext } from './context.js';

/**
 * Leases up to `limit` tasks: strict priority across the queues, FIFO within a priority and queue.
 * One queue: one script call. Several (possibly on different cluster shards): peek at the head of each,
 * merge by score, then lease from each queue the number it won.
 */
export async function leaseTasks(ctx: RedisContext, request: LeaseRequest): Promise<LeasedTask[]> {
  if (request.limit <= 0 || request.queues.length === 0) return [];
  const plan =
    request.queues.length === 1 ? new Map([[request.queues[0]!, request.limit]]) : await planAcrossQueues(ctx, request);
  if (plan.size === 0) return [];
  return runLeases(ctx, request, plan);
}

/** How many tasks to lease from each queue: the best `limit` heads across all of them. */
async function planAcrossQueues(ctx: RedisContext, request: LeaseRequest): Promise<Map<string, number>> {
  const heads = await Promise.all(
    request.queues.map((queue) => ctx.client.zrange(ctx.keys.queue(queue).queued, '0', String(request.limit - 1), 'WITHSCORES')),
  );
  const candidates: Array<{ queue: string; score: number }> = [];
  heads.forEach((head, q) => {
    for (let i = 0; i < head.length; i += 2) candidates.push({ queue: request.queues[q]!, score: Number(head[i + 1]) });
  });
  candidates.sort((a, b) => a.score - b.score);
  const plan = new Map<string, number>();
  for (const { queue } of candidates.slice(0, request.limit)) plan.set(queue, (plan.get(queue) ?? 0) + 1);
  return plan;
}

async function runLeases(ctx: RedisContext, request: LeaseRequest, plan: Map<string, number>): Promise<LeasedTask[]> {
  const leaseExpiresAt = request.now + request.leaseMs;
  const replies = await publishing(ctx, (header) =>
    [...plan].map(([queue, limit]) => {
      const keys = ctx.keys.queue(queue);
      const args = [keys.taskPrefix, queue, request.now, limit, leaseExpiresAt, request.workerId, ctx.keys.channel, header];
      return script<unknown[]>(ctx, 'lease', [keys.queued, keys.active, keys.expiring, keys.cancelled], args).then((reply) => ({
        queue,
        reply,
      }));
    }),
  );
  const leased: Array<{ task: LeasedTask; score: number }> = [];
  for (const { queue, reply } of replies) {
    for (let at = 0; at < reply.length; at += LEASED_FIELDS) leased.push(leasedTask(reply, at, queue, leaseExpiresAt));
  }
  if (replies.length > 1) leased.sort((a, b) => a.score - b.score);
  for (const { task } of leased) ctx.queues.remember(task.id, task.queue);
  return leased.map(({ task }) => task);
}

export async function renewLeases(
  ctx: RedisContext,
  workerId: string,
  taskIds: string[],
  leaseMs: number,
  now: number,
): Promise<RenewOutcome> {
  const queues = ctx.queues.cached(taskIds) ?? (await ctx.queues.lookup(taskIds));
  const status = new Array<number>(taskIds.length).fill(0);
  await Promise.all(
    [...byQueue(taskIds, (id) => queues.get(id))].map(async ([queue, members]) => {
      const keys = ctx.keys.queue(queue);
      const args = [keys.taskPrefix, workerId, now + leaseMs, ...members.map(({ item }) => item)];
      const reply = await script<number[]>(ctx, 'renew', [keys.active], args);
      members.forEach(({ index }, i) => (status[index] = Number(reply[i])));
    }),
  );
  const outcome: RenewOutcome = { lost: [], cancelRequested: [] };
  taskIds.forEach((id, i) => {
    if (status[i] === 0) {
      outcome.lost.push(id);
      ctx.queues.forget(id);
    } else if (status[i] === 2) outcome.cancelRequested.push(id);
  });
  return outcome;
}

export async function releaseTasks(ctx: RedisContext, workerId: string, taskIds: string[], now: number): Promise<number> {
  const queues = await ctx.queues.lookup(taskIds);
  const counts = await publishing(ctx, (header) =>
    [...byQueue(taskIds, (id) => queues.get(id))].map(([queue, members]) => {
      const keys = ctx.keys.queue(queue);
      const args = [keys.taskPrefix, queue, workerId, now, ctx.keys.channel, header, ...members.map(({ item }) => item)];
      return script<number>(ctx, 'release', [keys.active, keys.queued, keys.seq, keys.expiring, keys.cancelled], args);
    }),
  );
  for (const id of taskIds) ctx.queues.forget(id);
  return counts.reduce((sum, n) => sum + Number(n), 0);
}
