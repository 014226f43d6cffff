// Leases: handing queued tasks to a worker, renewing what it holds, and taking them back.
import type { LeaseRequest, LeasedTask, RenewOutcome } from '../../broker/broker.js';
import { LEASED_FIELDS, leasedTask } from './codec.js';
import { toStoredId } from './ids.js';
import { byQueue, publishing, script, type RedisContext } from './context.js';
import { fanOut } from './fanout.js';

/**
 * Leases up to `limit` tasks: strict priority across the queues, FIFO within a priority and queue.
 * One queue: one script call. Several (possibly on different cluster shards): read how many tasks each
 * queue holds at each priority, hand out the limit from the highest priority down (queues at the same
 * priority in the order the worker lists them), then lease from each queue the number it won.
 *
 * With `handoffUntil` (a worker with an inbox) and several queues, every queue first gets a probe
 * (lease.lua): an empty queue registers the worker with the whole limit as its room, one with tasks
 * answers so and changes nothing. All empty (an idle worker's poll): done, one call per queue. Else
 * the lease is planned across the queues that had tasks, and every queue gets a call asking for what
 * it won plus the room the whole lease leaves: a queue that had no more than it won then registers the
 * worker with that room, and when nothing is left over every registration ends, as a full lease of one
 * queue ends its one. Tasks that arrive between the read and the calls are leased too, so a lease may
 * then return more than `limit` (the worker holds them waiting, under lease, as a prefetch).
 */
export async function leaseTasks(ctx: RedisContext, request: LeaseRequest): Promise<LeasedTask[]> {
  if (request.queues.length === 0) return [];
  if (request.limit <= 0) {
    // With an inbox: a full lease, which ends the worker's registration in every queue.
    if (request.handoffUntil !== undefined) await runScripts(ctx, request, new Map([...new Set(request.queues)].map((queue) => [queue, 0])));
    return [];
  }
  if (request.queues.length === 1) return runLeases(ctx, request, new Map([[request.queues[0]!, request.limit]]));
  if (request.handoffUntil === undefined) {
    const plan = await planAcrossQueues(ctx, request, await heldQueues(ctx, request.queues));
    return plan.size === 0 ? [] : runLeases(ctx, request, plan);
  }
  const queues = [...new Set(request.queues)];
  const probed = await runScripts(ctx, request, new Map(queues.map((queue) => [queue, request.limit])), 'probe');
  const holding = queues.filter((_, q) => probed[q]!.reply === null);
  if (holding.length === 0) return [];
  const plan = await planAcrossQueues(ctx, request, holding);
  let planned = 0;
  for (const count of plan.values()) planned += count;
  const room = request.limit - planned;
  for (const queue of queues) plan.set(queue, (plan.get(queue) ?? 0) + room);
  return runLeases(ctx, request, plan);
}

const NO_TASKS: readonly number[] = new Array<number>(16).fill(0);

/** The queues that hold a queued task: one EXISTS each (an idle worker without an inbox asks every poll interval). */
async function heldQueues(ctx: RedisContext, queues: string[]): Promise<string[]> {
  const held = await fanOut<number>(ctx.client, queues.map((queue) => ['exists', ...ctx.keys.queue(queue).queuedLists()]));
  return queues.filter((_, q) => held[q]! > 0);
}

/**
 * How many tasks to lease from each queue: the best `limit` across them; only `holding` are read, after
 * their expired tasks are cancelled (queued_counts.lua), so that no queue wins part of the lease with
 * tasks it cannot give.
 */
async function planAcrossQueues(ctx: RedisContext, request: LeaseRequest, holding: string[]): Promise<Map<string, number>> {
  // lengths[q][i]: tasks of queue q at priority 15 - i.
  const lengths = await publishing(ctx, holding, (header) =>
    request.queues.map((queue) => {
      if (!holding.includes(queue)) return Promise.resolve(NO_TASKS);
      const keys = ctx.keys.queue(queue);
      const args = [keys.taskPrefix, queue, request.now, ctx.keys.channelOf(queue), header];
      return script<number[]>(ctx, 'queued_counts', [keys.queued, keys.expiring, keys.cancelled], args);
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

/** Numbers this process's lease calls (lease.lua ARGV[11]: a call sent again returns what it leased). */
let leaseCalls = 0;

/** One lease.lua call per queue of the plan, for the number it holds; the replies in the plan's order. */
function runScripts(
  ctx: RedisContext,
  request: LeaseRequest,
  plan: Map<string, number>,
  mode: 'probe' | '' = '',
): Promise<Array<{ queue: string; reply: string | null }>> {
  const leaseExpiresAt = request.now + request.leaseMs;
  return publishing(ctx, plan.keys(), (header) =>
    [...plan].map(([queue, limit]) => {
      const keys = ctx.keys.queue(queue);
      const handoff = request.handoffUntil ?? '';
      const call = (leaseCalls = (leaseCalls + 1) % Number.MAX_SAFE_INTEGER).toString(36);
      const args = [keys.taskPrefix, queue, request.now, limit, leaseExpiresAt, request.workerId, ctx.keys.channelOf(queue), header, handoff, mode, call];
      return script<string | null>(ctx, 'lease', [keys.queued, keys.active, keys.expiring, keys.cancelled, keys.idle], args).then((reply) => ({
        queue,
        reply,
      }));
    }),
  );
}

async function runLeases(ctx: RedisContext, request: LeaseRequest, plan: Map<string, number>): Promise<LeasedTask[]> {
  const leaseExpiresAt = request.now + request.leaseMs;
  const reclaims = ctx.reclaimsDelivered;
  const replies = await runScripts(ctx, request, plan);
  // A reclaim delivered tasks while this call was in flight: they may be this call's, taken from a reply
  // that came and was held here while another queue's call was sent again (or from a first run whose reply
  // was lost). The worker may have run them already: it confirms each lease before running it.
  const unconfirmed = ctx.reclaimsDelivered !== reclaims;
  const leased: LeasedTask[] = [];
  for (const { queue, reply: text } of replies) {
    const reply = JSON.parse(text!) as unknown[];
    for (let at = 0; at < reply.length; at += LEASED_FIELDS) {
      const task = leasedTask(reply, at, queue, leaseExpiresAt);
      if (unconfirmed) task.unconfirmed = true;
      leased.push(task);
    }
  }
  // Across queues: by priority, each queue's tasks in the order its script took them (a stable sort). Not
  // by id: a task that came back (a retry, a rescue) joined the back of its queue, behind younger ones.
  if (replies.length > 1) leased.sort((a, b) => b.priority - a.priority);
  for (const task of leased) ctx.queues.remember(task.id, task.queue);
  return leased;
}

export async function renewLeases(
  ctx: RedisContext,
  workerId: string,
  taskIds: string[],
  leaseMs: number,
  now: number,
  attempts?: number[],
): Promise<RenewOutcome> {
  const queues = ctx.queues.cached(taskIds) ?? (await ctx.queues.lookup(taskIds));
  const status = new Array<number>(taskIds.length).fill(0);
  await Promise.all(
    [...byQueue(taskIds, (id) => queues.get(id))].map(async ([queue, members]) => {
      const keys = ctx.keys.queue(queue);
      const args: Array<string | number> = [keys.taskPrefix, workerId, now + leaseMs];
      for (const { item, index } of members) args.push(toStoredId(item), attempts?.[index] ?? '');
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

export async function releaseTasks(
  ctx: RedisContext,
  workerId: string,
  taskIds: string[],
  now: number,
  attempts?: number[],
): Promise<number> {
  const queues = await ctx.queues.lookup(taskIds);
  const counts = await publishing(ctx, queues.values(), (header) =>
    [...byQueue(taskIds, (id) => queues.get(id))].map(([queue, members]) => {
      const keys = ctx.keys.queue(queue);
      const args: Array<string | number> = [keys.taskPrefix, queue, workerId, now, ctx.keys.channelOf(queue), header];
      for (const { item, index } of members) args.push(toStoredId(item), attempts?.[index] ?? '');
      return script<number>(ctx, 'release', [keys.active, keys.queued, keys.expiring, keys.cancelled], args);
    }),
  );
  for (const id of taskIds) ctx.queues.forget(id);
  return counts.reduce((sum, n) => sum + Number(n), 0);
}
