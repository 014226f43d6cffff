// Reads for users and stats: one task, filtered lists, counts and recent finishes. Lists and samples
// read at most `limit` entries of each queue's state sets, so they stay bounded however large a queue.
import type { FinishedSample, TaskFilter } from '../../broker/broker.js';
import { emptyCounts, FINISHED_STATES, TASK_STATES, type StateCounts, type TaskInfo, type TaskState } from '../../types.js';
import { hashToTaskInfo, toNumber } from './codec.js';
import type { RedisContext } from './context.js';
import { knownQueues } from './maintenance.js';

export async function getTask(ctx: RedisContext, id: string): Promise<TaskInfo | null> {
  const queue = await ctx.queues.queueOf(id);
  if (queue === undefined) return null;
  const hash = await ctx.client.hgetall(ctx.keys.queue(queue).task(id));
  return hashToTaskInfo(id, queue, hash);
}

/** Tasks matching the filter, oldest first: the first `limit` of each matching queue and state, merged. */
export async function listTasks(ctx: RedisContext, filter: TaskFilter): Promise<TaskInfo[]> {
  const limit = filter.limit ?? 100;
  const queues = filter.queue === undefined ? await knownQueues(ctx) : [filter.queue];
  const states = filter.state === undefined ? TASK_STATES : [filter.state];
  const sets = queues.flatMap((queue) => states.map((state) => ({ queue, key: ctx.keys.queue(queue).ofState(state) })));
  const members = await Promise.all(sets.map(({ key }) => ctx.client.zrange(key, '0', String(limit - 1))));
  const candidates = sets.flatMap(({ queue }, i) => members[i]!.map((id) => ({ id, queue })));
  const hashes = await Promise.all(candidates.map(({ id, queue }) => ctx.client.hgetall(ctx.keys.queue(queue).task(id))));
  const found: Array<{ info: TaskInfo; order: number }> = [];
  candidates.forEach(({ id, queue }, i) => {
    const hash = hashes[i]!;
    const info = hashToTaskInfo(id, queue, hash);
    if (info && (filter.name === undefined || info.name === filter.name)) found.push({ info, order: toNumber(hash.order) });
  });
  found.sort((a, b) => a.info.createdAt.getTime() - b.info.createdAt.getTime() || a.order - b.order);
  return found.slice(0, limit).map(({ info }) => info);
}

/** Counts by queue and state (ZCARD of each state set); queues with no tasks are left out. */
export async function counts(ctx: RedisContext): Promise<Record<string, StateCounts>> {
  const queues = await knownQueues(ctx);
  const sizes = await Promise.all(
    queues.flatMap((queue) => TASK_STATES.map((state) => ctx.client.zcard(ctx.keys.queue(queue).ofState(state)))),
  );
  const byQueue: Record<string, StateCounts> = {};
  queues.forEach((queue, q) => {
    const counted = emptyCounts();
    TASK_STATES.forEach((state, s) => (counted[state] = sizes[q * TASK_STATES.length + s]!));
    if (Object.values(counted).some((n) => n > 0)) byQueue[queue] = counted;
  });
  return byQueue;
}

/** Tasks finished at or after `since`, newest first. */
export async function finishedSince(ctx: RedisContext, since: number, limit: number): Promise<FinishedSample[]> {
  const queues = await knownQueues(ctx);
  const sets = queues.flatMap((queue) => FINISHED_STATES.map((state) => ({ queue, state })));
  const entries = await Promise.all(
    sets.map(({ queue, state }) =>
      ctx.client.zrevrangebyscore(ctx.keys.queue(queue).ofState(state), '+inf', since, 'WITHSCORES', 'LIMIT', 0, limit),
    ),
  );
  const finished: Array<{ id: string; queue: string; state: TaskState; finishedAt: number }> = [];
  sets.forEach(({ queue, state }, i) => {
    const list = entries[i]!;
    for (let at = 0; at < list.length; at += 2) finished.push({ id: list[at]!, queue, state, finishedAt: Number(list[at + 1]) });
  });
  finished.sort((a, b) => b.finishedAt - a.finishedAt);
  const chosen = finished.slice(0, limit);
  const times = await Promise.all(
    chosen.map(({ id, queue }) => ctx.client.hmget(ctx.keys.queue(queue).task(id), 'ready', 'created', 'started')),
  );
  return chosen.map(({ queue, state, finishedAt }, i) => {
    const [ready, created, started] = times[i]!;
    return {
      queue,
      state,
      readyAt: toNumber(ready ?? created ?? finishedAt),
      ...(started ? { startedAt: toNumber(started) } : {}),
      finishedAt,
    };
  });
}
