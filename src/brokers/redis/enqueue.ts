// Enqueue: stores new tasks as queued or scheduled, honouring idempotency keys (scoped to a queue on
// Redis). One script call per queue and chunk, all sent in one round trip with the queue registration.
import type { EnqueueOutcome, NewTask } from '../../broker/broker.js';
import type { TaskState } from '../../types.js';
import { encode, encodeExecution } from './codec.js';
import { byQueue, chunks, publishing, script, type RedisContext } from './context.js';

/**
 * A process-wide, strictly increasing enqueue stamp (microseconds-ish): lists of tasks created in the
 * same millisecond keep their enqueue order.
 */
let lastStamp = 0;
function nextStamp(): number {
  lastStamp = Math.max(lastStamp + 1, Date.now() * 1000);
  return lastStamp;
}

function taskArgs(task: NewTask, args: Array<string | number>): void {
  args.push(
    task.id,
    task.name,
    task.priority,
    encode(task.input),
    encodeExecution(task.execution),
    task.createdAt,
    nextStamp(),
    task.runAt ?? '',
    task.expiresAt ?? '',
    task.key ?? '',
  );
}

export async function enqueueTasks(ctx: RedisContext, tasks: NewTask[], now: number): Promise<EnqueueOutcome[]> {
  const outcomes = new Array<EnqueueOutcome>(tasks.length);
  const groups = byQueue(tasks, (task) => task.queue);
  // Sent first, in the same round trip: getTask(id) looks for a task in the known queues.
  const registered = ctx.client.sadd(ctx.keys.queues, ...groups.keys());
  await publishing(ctx, (header) => {
    const calls: Array<Promise<void>> = [];
    for (const [queue, members] of groups) {
      const keys = ctx.keys.queue(queue);
      for (const chunk of chunks(members)) {
        const args: Array<string | number> = [keys.taskPrefix, queue, now, ctx.keys.channel, header];
        for (const { item } of chunk) taskArgs(item, args);
        const call = script<Array<string | number>>(ctx, 'enqueue', [keys.queued, keys.scheduled, keys.seq, keys.keys, keys.expiring], args);
        calls.push(call.then((reply) => chunk.forEach(({ index: i }, n) => (outcomes[i] = outcome(reply, n * 3)))));
      }
    }
    return calls;
  });
  await registered;
  return outcomes;
}

function outcome(reply: Array<string | number>, at: number): EnqueueOutcome {
  return { id: String(reply[at]), created: Number(reply[at + 1]) === 1, state: String(reply[at + 2]) as TaskState };
}
