// Reads for users and stats: one task, filtered lists, counts and recent finishes. Lists and samples
// read at most `limit` entries of each queue's state sets (and queued lists), so they stay bounded
// however large a queue.
import type { FinishedSample, TaskFilter, TaskOutcome } from '../../broker/broker.js';
import { emptyCounts, FINISHED_STATES, TASK_STATES, type StateCounts, type TaskInfo, type TaskState } from '../../types.js';
import { hashToTaskInfo, storedCreatedAt, storedOutcome, toNumber } from './codec.js';
import { byQueue, chunks, type RedisContext } from './context.js';
import { fanOut } from './fanout.js';
import { fromStoredId } from './ids.js';
import type { QueueKeys } from './keys.js';
import { knownQueues } from './maintenance.js';
import { scriptCommand, type RedisCommand } from './scripts.js';

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
  // A wait (run.result()) subscribes, then reads its task's outcome. On a Cluster, where each queue has
  // channels of its own, its queue's channel is joined before the read too (if anything listens), so a
  // finish between the two is heard, also in a queue this process had not heard of yet.
  const joining = ctx.events.beforeQueue(queue);
  if (joining) await joining;
  const [state, result, error] = await ctx.client.hmget(ctx.keys.queue(queue).task(id), 'state', 'result', 'error');
  return storedOutcome(state, result, error);
}

/**
 * Tasks matching the filter, oldest first: the first `limit` of each matching queue and state (with a
 * name filter, up to ten times that: `candidateWindow`), merged. Each candidate's state, name and
 * creation time are read first (a task's input may be an agent's
 * 100 KB prompt, and without a state filter there are up to seven candidates per task returned); whole
 * records only for those returned, in order, skipping any that moved on in between.
 */
export async function listTasks(ctx: RedisContext, filter: TaskFilter): Promise<TaskInfo[]> {
  const limit = filter.limit ?? 100;
  const queues = filter.queue === undefined ? await knownQueues(ctx) : [filter.queue];
  const states = filter.state === undefined ? TASK_STATES : [filter.state];
  const wanted = states.map((state) => TASK_STATES.indexOf(state) + 1);
  const window = candidateWindow(limit, queues.length * states.length, filter.name !== undefined);
  const firsts = await fanOut<string[][]>(
    ctx.client,
    queues.map((queue) => scriptCommand('list_first', stateKeys(ctx.keys.queue(queue)), [window, ...wanted])),
  );
  const candidates = queues.flatMap((queue, q) =>
    states.flatMap((state, s) => firsts[q]![s]!.map((stored) => ({ id: fromStoredId(stored), queue, state }))),
  );
  const heads = await fanOut<Array<string | null>>(
    ctx.client,
    candidates.map(({ id, queue }) => ['hmget', ctx.keys.queue(queue).task(id), 'state', 'name', 'created']),
  );
  const chosen = candidates
    .map((candidate, i) => ({ ...candidate, head: heads[i]!, createdAt: storedCreatedAt(heads[i]![2], candidate.id) }))
    // An entry whose task moved on (a stale queued-list entry) is not listed under its old state.
    .filter(({ state, head: [stored, name] }) => stored === state && (filter.name === undefined || name === filter.name));
  // Oldest first; ties (a bulk enqueue in one millisecond) by id, which is time-ordered in one process.
  chosen.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const found: TaskInfo[] = [];
  for (let next = 0; found.length < limit && next < chosen.length; ) {
    const batch = chosen.slice(next, (next += limit - found.length));
    // One command each, not a fan-out: a pipeline of large replies (20 KB inputs) took about twice as
    // long as the same commands sent one by one, whose replies the client reads while Redis writes more.
    const hashes = await Promise.all(batch.map(({ id, queue }) => ctx.client.hgetall(ctx.keys.queue(queue).task(id))));
    batch.forEach(({ id, queue, state }, i) => {
      const info = hashToTaskInfo(id, queue, hashes[i]!);
      if (info && info.state === state && (filter.name === undefined || info.name === filter.name)) found.push(info);
    });
  }
  return found;
}

/** With a name filter, how many candidates a list reads at most, across its queues and states. */
const NAMED_CANDIDATES = 10_000;

/**
 * How many ids `listTasks` reads from each queue and state: `limit`; with a name filter, which drops
 * the tasks of other names after the read, up to ten times that, as far as NAMED_CANDIDATES allows
 * (one queue and state: 1,000 for a limit of 100; 100 queues of seven states: the limit).
 */
export function candidateWindow(limit: number, sets: number, named: boolean): number {
  if (!named) return limit;
  return Math.max(limit, Math.min(limit * 10, Math.floor(NAMED_CANDIDATES / Math.max(1, sets))));
}

/** A queue's key of each state, in the order of TASK_STATES (count.lua, list_first.lua). */
function stateKeys(keys: QueueKeys): string[] {
  return TASK_STATES.map((state) => (state === 'queued' ? keys.queued : keys.ofState(state)));
}

/** Counts by queue and state (count.lua, one call per queue); queues with no tasks are left out. */
export async function counts(ctx: RedisContext): Promise<Record<string, StateCounts>> {
  const queues = await knownQueues(ctx);
  const sizes = await fanOut<number[]>(
    ctx.client,
    queues.map((queue) => {
      const keys = ctx.keys.queue(queue);
      return scriptCommand('count', stateKeys(keys), []);
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
  const counted = await fanOut<number>(
    ctx.client,
    queues.map((queue) => {
      const keys = ctx.keys.queue(queue);
      return scriptCommand('count_finished', [keys.completed, keys.failed, keys.cancelled], [since]);
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
  const entries = await fanOut<string[]>(
    ctx.client,
    sets.map(({ queue, state }) => ['zrevrangebyscore', ctx.keys.queue(queue).ofState(state as FinishedState), '+inf', since, 'WITHSCORES', 'LIMIT', 0, limit]),
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
  const calls: Array<Array<{ index: number }>> = [];
  const commands: RedisCommand[] = [];
  for (const [queue, members] of byQueue(tasks, (task) => task.queue)) {
    const keys = ctx.keys.queue(queue);
    for (const chunk of chunks(members)) {
      calls.push(chunk);
      commands.push(scriptCommand('finish_times', [keys.completed], [keys.taskPrefix, ...chunk.map(({ item }) => item.stored)]));
    }
  }
  const replies = await fanOut<Array<string | null>>(ctx.client, commands);
  calls.forEach((chunk, c) => chunk.forEach(({ index }, n) => (times[index] = replies[c]!.slice(n * 3, n * 3 + 3))));
  return times;
}
