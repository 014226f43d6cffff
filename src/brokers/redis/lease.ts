// Leases: handing queued tasks to a worker, renewing what it holds, and taking them back.
import type { LeaseRequest, LeasedTask, RenewOutcome } from '../../broker/broker.js';
import { LEASED_FIELDS, leasedTask } from './codec.js';
import { toStoredId } from './ids.js';
import { byQueue, publishing, queuedLengths, script, type RedisContext } from './context.js';

/**
 * Leases up to `limit` tasks: strict priority across the queues, FIFO within a priority and queue.
 * One queue: one script call. Several (possibly on different cluster shards): read how many tasks each
 * queue holds at each priority, hand out the limit from the highest priority down (queues at the same
 * priority in the order the worker lists them), then lease from each queue the number it won.
 *
 * With `handoffUntil` (a worker with an inbox) and several queues, every queue gets a call, asking for
 * what it won plus the room the whole lease leaves: a queue that had no more than it won then registers
 * the worker with that room (lease.lua), and when nothing is left over every registration ends, as a full
 * lease of one queue ends its one. Tasks that arrive between the read and the calls are leased too, so a
 * lease may then return more than `limit` (the worker holds them waiting, under lease, as a prefetch).
 */
export async function leaseTasks(ctx: RedisContext, request: LeaseRequest): Promise<LeasedTask[]> {
  if (request.limit <= 0 || request.queues.length === 0) return [];
  if (request.queues.length === 1) return runLeases(ctx, request, new Map([[request.queues[0]!, request.limit]]));
  const plan = await planAcrossQueues(ctx, request);
  if (request.handoffUntil !== undefined) {
    let planned = 0;
    for (const count of plan.values()) planned += count;
    const room = request.limit - planned;
    for (const queue of new Set(request.queues)) plan.set(queue, (plan.get(queue) ?? 0) + room);
  }
  if (plan.size === 0) return [];
  return runLeases(ctx, request, plan);
}

const NO_TASKS: readonly number[] = new Array<number>(16).fill(0);

/** How many tasks to lease from each queue: the best `limit` across all of them. */
async function planAcrossQueues(ctx: RedisContext, request: LeaseRequest): Promise<Map<string, number>> {
  // One EXISTS per queue first (an idle worker asks every poll interval), then the 16 lengths of each
  // queue that holds anything. lengths[q][i]: tasks of queue q at priority 15 - i.
  const lengths = await Promise.all(
    request.queues.map(async (queue) => {
      const lists = ctx.keys.queue(queue).queuedLists();
      const holding = Number(await ctx.client.call('EXISTS', ...lists));
      return holding > 0 ? queuedLengths(ctx, queue) : NO_TASKS;
    }),
  );
  const plan = new Map<string, number>();
  let remaining = request.limit;
  for (let i = 0; i < 16 && remaining > 0; i++) {
    request.queues.forEach((queue, q) => {
      const take = Math.min(remaining, lengths[q]![i]!);
      if (take > 0) plan.set(queue, (plan.get(queue) ?? 0) + take);
      remaining -= take;
    });
  }
  return plan;
}

async function runLeases(ctx: RedisContext, request: LeaseRequest, plan: Map<string, number>): Promise<LeasedTask[]> {
  const leaseExpiresAt = request.now + request.leaseMs;
  const replies = await publishing(ctx, (header) =>
    [...plan].map(([queue, limit]) => {
      const keys = ctx.keys.queue(queue);
      const handoff = request.handoffUntil ?? '';
      const args = [keys.taskPrefix, queue, request.now, limit, leaseExpiresAt, request.workerId, ctx.keys.channel, header, handoff];
      return script<unknown[]>(ctx, 'lease', [keys.queued, keys.active, keys.expiring, keys.cancelled, keys.idle], args).then((reply) => ({
        queue,
        reply,
      }));
    }),
  );
  const leased: LeasedTask[] = [];
  for (const { queue, reply } of replies) {
    for (let at = 0; at < reply.length; at += LEASED_FIELDS) leased.push(leasedTask(reply, at, queue, leaseExpiresAt));
  }
  // Across queues: priority, then age (ids are time-ordered UUIDv7, strictly increasing in one process).
  if (replies.length > 1) leased.sort((a, b) => b.priority - a.priority || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const task of leased) ctx.queues.remember(task.id, task.queue);
  return leased;
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
      const args = [keys.taskPrefix, workerId, now + leaseMs, ...members.map(({ item }) => toStoredId(item))];
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
      const args = [keys.taskPrefix, queue, workerId, now, ctx.keys.channel, header, ...members.map(({ item }) => toStoredId(item))];
      return script<number>(ctx, 'release', [keys.active, keys.queued, keys.expiring, keys.cancelled], args);
    }),
  );
  for (const id of taskIds) ctx.queues.forget(id);
  return counts.reduce((sum, n) => sum + Number(n), 0);
}
