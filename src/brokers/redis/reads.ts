// Reads for users and stats: one task, filtered lists, counts and recent finishes. Lists and samples
// read at most `limit` entries of each queue's state sets (and queued lists), so they stay bounded
// however large a queue.
import type { FinishedSample, TaskFilter, TaskOutcome } from '../../broker/broker.js';
import { emptyCounts, FINISHED_STATES, TASK_STATES, type StateCounts, type TaskInfo, type TaskState } from '../../types.js';
import { hashToTaskInfo, storedCreatedAt, storedOutcome, toNumber } from './codec.js';
import { byQueue, chunks, pipelined, script, type RedisContext } from './context.js';
import { fromStoredId } from './ids.js';
import type { QueueKeys } from './keys.js';
import { knownQueues } from './maintenance.js';

export async function getTask(ctx: RedisContext, id: string): Promise<TaskInfo | null> {
  const queue = await ctx.queues.queueOf(id);
  if (queue === undefined) return null;
  const hash = await ctx.client.hgetall(ctx.keys.queue(queue).task(id));
  return hashToTaskInfo(id, queue, hash);
}

/** State, result and error only: the input is not read. */
export async function getOutcome(ctx: RedisContext, id: string): Promise<TaskOutcome | null> {
  const queue = await ctx.queues.queueOf(id);
  if (queue === undefined) return null;
  const [state, result, error] = await ctx.client.hmget(ctx.keys.queue(queue).task(id), 'state', 'result', 'error');
  return storedOutcome(state, result, error);
}

/** Tasks matching the filter, oldest first: the first `limit` of each matching queue and state, merged. */
export async function listTasks(ctx: RedisContext, filter: TaskFilter): Promise<TaskInfo[]> {
  const limit = filter.limit ?? 100;
  const queues = filter.queue === undefined ? await knownQueues(ctx) : [filter.queue];
  const states = filter.state === undefined ? TASK_STATES : [filter.state];
  const sets = queues.flatMap((queue) => states.map((state) => ({ queue, state })));
  const members = await Promise.all(sets.map(({ queue, state }) => firstMembers(ctx, ctx.keys.queue(queue), state, limit)));
  const candidates = sets.flatMap(({ queue, state }, i) => members[i]!.map((stored) => ({ id: fromStoredId(stored), queue, state })));
  const hashes = await Promise.all(candidates.map(({ id, queue }) => ctx.client.hgetall(ctx.keys.queue(queue).task(id))));
  const found: TaskInfo[] = [];
  candidates.forEach(({ id, queue, state }, i) => {
    const info = hashToTaskInfo(id, queue, hashes[i]!);
    // An entry whose task moved on (a stale queued-list entry) is not listed under its old state.
    if (!info || info.state !== state) return;
    if (filter.name === undefined || info.name === filter.name) found.push(info);
  });
  // Oldest first; ties (a bulk enqueue in one millisecond) by id, which is time-ordered in one process.
  found.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return found.slice(0, limit);
}

/** The first `limit` ids of one state: queued in lease order (highest priority first), others by score. */
async function firstMembers(ctx: RedisContext, keys: QueueKeys, state: TaskState, limit: number): Promise<string[]> {
  if (state !== 'queued') return ctx.client.zrange(keys.ofState(state), '0', String(limit - 1));
  const lists = await pipelined<string[]>(ctx, keys.queuedLists().map((list) => ['lrange', list, 0, limit - 1]));
  return lists.flat().slice(0, limit);
}

/** Counts by queue and state (count.lua, one call per queue); queues with no tasks are left out. */
export async function counts(ctx: RedisContext): Promise<Record<string, StateCounts>> {
  const queues = await knownQueues(ctx);
  const sizes = await Promise.all(
    queues.map((queue) => {
      const keys = ctx.keys.queue(queue);
      return script<number[]>(ctx, 'count', TASK_STATES.map((state) => (state === 'queued' ? keys.queued : keys.ofState(state))), []);
    }),
  );
  const byQueue: Record<string, StateCounts> = {};
  queues.forEach((queue, q) => {
    const counted = emptyCounts();
    TASK_STATES.forEach((state, s) => (counted[state] = Number(sizes[q]![s])));
    if (Object.values(counted).some((n) => n > 0)) byQueue[queue] = counted;
  });
  return byQueue;
}

type FinishedState = 'completed' | 'failed' | 'cancelled';

/** Per queue, how many tasks finished at or after `since` (count_finished.lua: a ZCOUNT of each finished set, O(log n)). */
export async function countFinishedSince(ctx: RedisContext, since: number): Promise<Record<string, number>> {
  const queues = await knownQueues(ctx);
  const counted = await Promise.all(
    queues.map((queue) => {
      const keys = ctx.keys.queue(queue);
      return script<number>(ctx, 'count_finished', [keys.completed, keys.failed, keys.cancelled], [since]);
    }),
  );
  const byQueue: Record<string, number> = {};
  queues.forEach((queue, i) => {
    const n = Number(counted[i]);
    if (n > 0) byQueue[queue] = n;
  });
  return byQueue;
}

/** Tasks finished at or after `since`, newest first. */
export async function finishedSince(ctx: RedisContext, since: number, limit: number): Promise<FinishedSample[]> {
  const queues = await knownQueues(ctx);
  const sets = queues.flatMap((queue) => FINISHED_STATES.map((state) => ({ queue, state })));
  const entries = await Promise.all(
    sets.map(({ queue, state }) =>
      ctx.client.zrevrangebyscore(ctx.keys.queue(queue).ofState(state as FinishedState), '+inf', since, 'WITHSCORES', 'LIMIT', 0, limit),
    ),
  );
  const finished: Array<{ stored: string; queue: string; state: TaskState; finishedAt: number }> = [];
  sets.forEach(({ queue, state }, i) => {
    const list = entries[i]!;
    for (let at = 0; at < list.length; at += 2) finished.push({ stored: list[at]!, queue, state, finishedAt: Number(list[at + 1]) });
  });
  finished.sort((a, b) => b.finishedAt - a.finishedAt);
  const chosen = finished.slice(0, limit);
  const times = await finishTimes(ctx, chosen);
  return chosen.map(({ stored, queue, state, finishedAt }, i) => {
    const [ready, created, started] = times[i]!;
    return {
      queue,
      state,
      readyAt: ready ? toNumber(ready) : storedCreatedAt(created ?? null, fromStoredId(stored), finishedAt),
      ...(started ? { startedAt: toNumber(started) } : {}),
      finishedAt,
    };
  });
}

/** The `ready`, `created` and `started` fields of each task (finish_times.lua, up to 1,000 tasks of a queue per call). */
async function finishTimes(ctx: RedisContext, tasks: Array<{ stored: string; queue: string }>): Promise<Array<Array<string | null>>> {
  const times: Array<Array<string | null>> = new Array(tasks.length);
  const calls: Array<Promise<void>> = [];
  for (const [queue, members] of byQueue(tasks, (task) => task.queue)) {
    const keys = ctx.keys.queue(queue);
    for (const chunk of chunks(members)) {
      const ids = chunk.map(({ item }) => item.stored);
      const call = script<Array<string | null>>(ctx, 'finish_times', [keys.completed], [keys.taskPrefix, ...ids]).then((reply) => {
        chunk.forEach(({ index }, n) => (times[index] = reply.slice(n * 3, n * 3 + 3)));
      });
      calls.push(call);
    }
  }
  await Promise.all(calls);
  return times;
}
