// Maintenance: rescue expired leases and promote due tasks (one pass, `maintain`), prune past
// retention, purge waiting tasks, and the leadership that lets one process at a time run each
// maintenance service. Each runs one script per known queue (`{P}:queues`), all sent in one round trip.
import type { MaintenanceOutcome, PruneOutcome, RetentionPolicy } from '../../broker/broker.js';
import { publishing, script, type RedisContext } from './context.js';
import { pruneWorkers } from './workers.js';

const BATCH = 1_000;

export function knownQueues(ctx: RedisContext): Promise<string[]> {
  return ctx.client.smembers(ctx.keys.queues);
}

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

/** Rescue, promotion and the next due time in one call per queue (maintain.lua), all in one round trip. */
export async function maintain(ctx: RedisContext, now: number): Promise<MaintenanceOutcome> {
  const queues = await maintainedQueues(ctx);
  const outcome: MaintenanceOutcome = { rescued: 0, promoted: 0, nextDueAt: null };
  if (queues.length === 0) return outcome;
  const replies = await publishing(ctx, (header) =>
    queues.map((queue) => {
      const keys = ctx.keys.queue(queue);
      return script<[number, number, string | null]>(
        ctx,
        'maintain',
        [keys.active, keys.queued, keys.expiring, keys.cancelled, keys.idle, keys.scheduled, keys.retrying],
        [keys.taskPrefix, queue, now, BATCH, ctx.keys.channel, header],
      );
    }),
  );
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
  const replies = await Promise.all(
    queues.map((queue) => {
      const keys = ctx.keys.queue(queue);
      const args = [keys.taskPrefix, before, BATCH];
      return script<[number, number]>(ctx, 'prune', [keys.completed, keys.failed, keys.cancelled, keys.keys], args);
    }),
  );
  await pruneWorkers(ctx, now - policy.workerTtlMs);
  return {
    pruned: sum(replies.map(([deleted]) => deleted)),
    more: replies.some(([, full]) => Number(full) === 1),
  };
}

export async function purge(ctx: RedisContext, queue: string | undefined): Promise<number> {
  const queues = queue === undefined ? await knownQueues(ctx) : [queue];
  let total = 0;
  for (const name of queues) {
    const keys = ctx.keys.queue(name);
    for (;;) {
      const deleted = Number(
        await script<number>(ctx, 'purge', [keys.queued, keys.scheduled, keys.retrying, keys.expiring, keys.keys], [keys.taskPrefix, BATCH]),
      );
      total += deleted;
      if (deleted === 0) break;
    }
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
  const reply = await script<unknown[]>(ctx, 'acquire_leadership', [ctx.keys.leader(service), ctx.keys.queues], [
    holderId,
    Math.max(1, Math.round(ttlMs)),
  ]);
  if (Number(reply[0]) !== 1) return false;
  if (ctx.queueRegistrations === registrations) ctx.ledQueues = { names: reply.slice(1).map(String), at: Date.now() };
  return true;
}
