// Maintenance: rescue expired leases and promote due tasks (one pass, `maintain`), prune past
// retention, purge waiting tasks, and the leadership that lets one process at a time run each
// maintenance service. Each runs one script per known queue (`{P}:queues`), sent as pipelines
// (fanout.ts).
// The pruner also forgets queues that held nothing for a while (forgetQueues).
import { randomUUID } from 'node:crypto';
import type { MaintenanceOutcome, PruneOutcome, RetentionPolicy } from '../../broker/broker.js';
import { publishing, queueNames, script, type RedisContext } from './context.js';
import { fanOut } from './fanout.js';
import { scriptCommand } from './scripts.js';
import { pruneWorkers } from './workers.js';

const BATCH = 1_000;

export function knownQueues(ctx: RedisContext): Promise<string[]> {
  return queueNames(ctx.client, ctx.keys);
}

/**
 * How long a queue holds nothing before the pruner forgets its name (lua/includes/unused.lua). It is far
 * longer than a producer goes without naming a queue it writes to again (TaskQueues.REGISTER_EVERY_MS in
 * context.ts, 10 s) plus any sane clock skew between hosts: a producer that named a queue before it was
 * found empty, and did not name it again since, writes no task to it after it is forgotten. (Its last
 * task there was written after it named the queue; that task's pruning, or a purge, restarted the
 * grace, so the grace ends more than 10 s after the naming, when the producer names it again.)
 */
export const FORGET_UNUSED_QUEUE_MS = 10 * 60_000;

/**
 * How long the queue names a leadership call returned stand in for reading them: a service asks for its
 * leadership right before each run, whose calls follow within milliseconds.
 */
const LED_QUEUES_FRESH_MS = 500;

/**
 * The queues a maintenance job looks at: those the leadership call just before it returned, unless this
 * instance has registered a queue since (enqueue.ts), else read now.
 */
function maintainedQueues(ctx: RedisContext): Promise<string[]> {
  const led = ctx.ledQueues;
  if (led && Date.now() - led.at < LED_QUEUES_FRESH_MS) return Promise.resolve(led.names);
  return knownQueues(ctx);
}

function sum(values: Array<number | string>): number {
  return values.reduce<number>((total, n) => total + Number(n), 0);
}

/** Rescue, promotion and the next due time in one call per queue (maintain.lua), sent as pipelines (fanout.ts). */
export async function maintain(ctx: RedisContext, now: number): Promise<MaintenanceOutcome> {
  const queues = await maintainedQueues(ctx);
  const outcome: MaintenanceOutcome = { rescued: 0, promoted: 0, nextDueAt: null };
  if (queues.length === 0) return outcome;
  const [replies = []] = await publishing(ctx, queues, (header) => [
    fanOut<[number, number, string | null]>(
      ctx.client,
      queues.map((queue) => {
        const keys = ctx.keys.queue(queue);
        return scriptCommand(
          'maintain',
          [keys.active, keys.queued, keys.expiring, keys.cancelled, keys.idle, keys.scheduled, keys.retrying],
          [keys.taskPrefix, queue, now, BATCH, ctx.keys.channelOf(queue), header],
        );
      }),
    ),
  ]);
  for (const [rescued, promoted, head] of replies) {
    outcome.rescued += Number(rescued);
    outcome.promoted += Number(promoted);
    if (head === null) continue;
    const at = Number(head);
    if (outcome.nextDueAt === null || at < outcome.nextDueAt) outcome.nextDueAt = at;
  }
  return outcome;
}

/** Up to BATCH tasks of each finished state per queue and call; `more` when any of those was full. */
export async function prune(ctx: RedisContext, now: number, policy: RetentionPolicy): Promise<PruneOutcome> {
  const queues = await maintainedQueues(ctx);
  const before = now - policy.resultTtlMs;
  const replies = await fanOut<[number, number, number]>(
    ctx.client,
    queues.map((queue) => {
      const keys = ctx.keys.queue(queue);
      return scriptCommand('prune', keys.contents(), [keys.taskPrefix, before, BATCH, now, FORGET_UNUSED_QUEUE_MS]);
    }),
  );
  await forgetQueues(ctx, queues.filter((_, q) => Number(replies[q]![2]) === 1));
  await pruneWorkers(ctx, now - policy.workerTtlMs);
  return {
    pruned: sum(replies.map(([deleted]) => deleted)),
    more: replies.some(([, full]) => Number(full) === 1),
  };
}

/**
 * Forgets queues that held nothing for the grace (prune.lua found them so), in three steps: their names
 * move from `{P}:queues` to `{P}:forgetting` (one transaction; the names stay known), each queue is asked
 * whether it is still empty (forget.lua), and the names leave `{P}:forgetting`, those of queues that are
 * not empty going back to `{P}:queues` (one transaction). A pruner that dies in between leaves names in
 * `{P}:forgetting`, still known, which the next call finishes with: it takes up every name there.
 *
 * A task written to a queue while it is forgotten: the queue's slot and `{P}:queues` may be on different
 * Cluster shards, so the steps cannot be one script. A producer names a queue (`{P}:queues`) before and
 * again after it writes to it, at most once per 10 s per queue (enqueue.ts): a write before forget.lua
 * looked is seen by it, and one after it is followed by the producer naming the queue again.
 */
export async function forgetQueues(ctx: RedisContext, unused: string[]): Promise<void> {
  if (unused.length > 0) {
    await ctx.client.multi().srem(ctx.keys.queues, ...unused).sadd(ctx.keys.forgetting, ...unused).exec();
    ctx.ledQueues = undefined;
  }
  const names = await ctx.client.smembers(ctx.keys.forgetting);
  if (names.length === 0) return;
  const empty = await fanOut<number>(ctx.client, names.map((queue) => scriptCommand('forget', ctx.keys.queue(queue).contents(), [])));
  const held = names.filter((_, q) => Number(empty[q]) !== 1);
  const finish = ctx.client.multi().srem(ctx.keys.forgetting, ...names);
  if (held.length > 0) finish.sadd(ctx.keys.queues, ...held);
  await finish.exec();
}

/** Up to BATCH waiting tasks per queue and call, every queue at once, again for those that had any. */
export async function purge(ctx: RedisContext, queue: string | undefined): Promise<number> {
  let queues = queue === undefined ? await knownQueues(ctx) : [queue];
  let total = 0;
  while (queues.length > 0) {
    const deleted = await fanOut<number>(
      ctx.client,
      queues.map((name) => {
        const keys = ctx.keys.queue(name);
        return scriptCommand('purge', [keys.queued, keys.scheduled, keys.retrying, keys.expiring, keys.keys, keys.unused], [keys.taskPrefix, BATCH, randomUUID()]);
      }),
    );
    total += sum(deleted);
    queues = queues.filter((_, q) => Number(deleted[q]) > 0);
  }
  return total;
}

export async function releaseLeadership(ctx: RedisContext, service: string, holderId: string): Promise<void> {
  await script<number>(ctx, 'release_leadership', [ctx.keys.leader(service)], [holderId]);
}

/**
 * Takes or keeps the leadership of a maintenance service for `ttlMs`; true if `holderId` leads. The
 * leader's reply carries the queue names, which the job that follows looks at (`maintainedQueues`).
 */
export async function acquireLeadership(ctx: RedisContext, service: string, holderId: string, ttlMs: number): Promise<boolean> {
  // A queue this instance registers while the call is out may be missing from its reply: then it is not kept.
  const registrations = ctx.queueRegistrations;
  const reply = await script<unknown[]>(ctx, 'acquire_leadership', [ctx.keys.leader(service), ctx.keys.queues, ctx.keys.forgetting], [
    holderId,
    Math.max(1, Math.round(ttlMs)),
  ]);
  if (Number(reply[0]) !== 1) return false;
  if (ctx.queueRegistrations === registrations) ctx.ledQueues = { names: reply.slice(1).map(String), at: Date.now() };
  return true;
}
