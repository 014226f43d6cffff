// Ending attempts (complete, fail, retry later, cancel), cancelling tasks, and recording progress.
import type { CancelOutcome, Settlement } from '../../broker/broker.js';
import type { TaskError } from '../../errors.js';
import { encode } from './codec.js';
import { byQueue, chunks, publishing, script, type RedisContext } from './context.js';
import { toStoredId } from './ids.js';

export async function settleTasks(ctx: RedisContext, settlements: Settlement[]): Promise<boolean[]> {
  const ids = settlements.map((s) => s.taskId);
  // Usually all cached (this instance leased them): the scripts go out at once, ahead of a lease.
  const queues = ctx.queues.cached(ids) ?? (await ctx.queues.lookup(ids));
  const held = new Array<boolean>(settlements.length).fill(false);
  await publishing(ctx, queues.values(), (header) => {
    const calls: Array<Promise<void>> = [];
    for (const [queue, members] of byQueue(settlements, (s) => queues.get(s.taskId))) {
      const keys = ctx.keys.queue(queue);
      for (const chunk of byWorker(members).flatMap((ofWorker) => chunks(ofWorker))) {
        const rows = JSON.stringify(chunk.map(({ item }) => settlementRow(item)));
        const args = [keys.taskPrefix, queue, ctx.keys.channelOf(queue), header, chunk[0]!.item.workerId, rows];
        const call = script<string>(ctx, 'settle', [keys.active, keys.completed, keys.failed, keys.cancelled, keys.retrying, keys.idle], args);
        calls.push(call.then((reply) => chunk.forEach(({ index }, i) => (held[index] = reply.charCodeAt(i) === ONE))));
      }
    }
    return calls;
  });
  for (const id of ids) ctx.queues.forget(id);
  return held;
}

const ONE = '1'.charCodeAt(0);

/** A queue's settlements by the worker that made them: one call names one worker (a batch has one). */
function byWorker<T extends { item: Settlement }>(members: T[]): T[][] {
  const first = members[0]!.item.workerId;
  if (members.every(({ item }) => item.workerId === first)) return [members];
  const groups = new Map<string, T[]>();
  for (const member of members) {
    const group = groups.get(member.item.workerId);
    if (group) group.push(member);
    else groups.set(member.item.workerId, [member]);
  }
  return [...groups.values()];
}

/** kind, id, now, attempt, then three fields whose meaning depends on the kind (see settle.lua). */
function settlementRow(s: Settlement): string[] {
  const id = toStoredId(s.taskId);
  const now = String(s.now);
  const attempt = s.attempt === undefined ? '' : String(s.attempt);
  switch (s.kind) {
    case 'complete':
      return [s.kind, id, now, attempt, encode(s.result), '', ''];
    case 'fail':
      return [s.kind, id, now, attempt, JSON.stringify(s.error), attemptError(s.error, s.now), ''];
    case 'retry':
      return [s.kind, id, now, attempt, JSON.stringify(s.error), attemptError(s.error, s.now), String(s.runAt)];
    case 'cancel':
      return [s.kind, id, now, attempt, wellFormed(s.reason), '', ''];
  }
}

/**
 * Lone surrogates as U+FFFD, as writing the text as UTF-8 would make them: JSON.stringify escapes them
 * (\ud800), and cjson refuses such an escape. (JSON texts, the results and errors, escape theirs already.)
 */
function wellFormed(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

function attemptError(error: TaskError, now: number): string {
  return JSON.stringify({ ...error, at: now });
}

export async function cancelTask(ctx: RedisContext, id: string, reason: string, now: number): Promise<CancelOutcome> {
  const queue = await ctx.queues.queueOf(id);
  if (queue === undefined) return 'not_found';
  const keys = ctx.keys.queue(queue);
  const [outcome] = await publishing(ctx, [queue], (header) => [
    script<CancelOutcome>(
      ctx,
      'cancel',
      [keys.task(id), keys.queued, keys.scheduled, keys.retrying, keys.expiring, keys.cancelled],
      [toStoredId(id), queue, reason, now, ctx.keys.channelOf(queue), header],
    ),
  ]);
  return outcome!;
}

export async function setProgress(
  ctx: RedisContext,
  id: string,
  workerId: string,
  percent: number,
  meta: unknown,
  now: number,
  attempt?: number,
): Promise<boolean> {
  const queue = await ctx.queues.queueOf(id);
  if (queue === undefined) return false;
  const progress = JSON.stringify(meta === undefined ? { percent } : { percent, meta });
  const metaJson = meta === undefined ? '' : JSON.stringify(meta);
  const args = [toStoredId(id), queue, workerId, now, progress, JSON.stringify(percent), metaJson, ctx.keys.channelOf(queue)];
  const [recorded] = await publishing(ctx, [queue], (header) => [
    script<number>(ctx, 'progress', [ctx.keys.queue(queue).task(id)], [...args, header, attempt ?? '']),
  ]);
  return Number(recorded) === 1;
}
