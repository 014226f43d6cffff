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
      for (const chunk of chunks(members)) {
        const args: Array<string | number> = [keys.taskPrefix, queue, ctx.keys.channelOf(queue), header];
        for (const { item } of chunk) settlementArgs(item, args);
        const call = script<number[]>(ctx, 'settle', [keys.active, keys.completed, keys.failed, keys.cancelled, keys.retrying, keys.idle], args);
        calls.push(call.then((reply) => chunk.forEach(({ index }, i) => (held[index] = Number(reply[i]) === 1))));
      }
    }
    return calls;
  });
  for (const id of ids) ctx.queues.forget(id);
  return held;
}

/** kind, id, worker, now, attempt, then three arguments whose meaning depends on the kind (see settle.lua). */
function settlementArgs(s: Settlement, args: Array<string | number>): void {
  args.push(s.kind, toStoredId(s.taskId), s.workerId, s.now, s.attempt ?? '');
  switch (s.kind) {
    case 'complete':
      args.push(encode(s.result), '', '');
      break;
    case 'fail':
      args.push(JSON.stringify(s.error), attemptError(s.error, s.now), '');
      break;
    case 'retry':
      args.push(JSON.stringify(s.error), attemptError(s.error, s.now), s.runAt);
      break;
    case 'cancel':
      args.push(s.reason, '', '');
      break;
  }
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
