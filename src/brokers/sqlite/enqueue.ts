// Enqueue: stores new tasks as queued or scheduled, honouring idempotency keys.
import type { EnqueueOutcome, NewTask } from '../../broker/broker.js';
import type { ExecutionOptions, TaskState } from '../../types.js';
import { encode, encodeExecution as encodeExecutionRow } from './codec.js';
import { reserveSeq, type SqliteContext } from './context.js';

/** Tasks enqueued with the same options share one ExecutionOptions object: encode it once. */
const encodedExecution = new WeakMap<ExecutionOptions, string>();

function encodeExecution(execution: ExecutionOptions): string {
  let encoded = encodedExecution.get(execution);
  if (encoded === undefined) {
    encoded = encodeExecutionRow(execution);
    encodedExecution.set(execution, encoded);
  }
  return encoded;
}

export function enqueueTasks(ctx: SqliteContext, tasks: NewTask[], now: number): EnqueueOutcome[] {
  const insert = ctx.statements.get('insert_task');
  const findByKey = ctx.statements.get('find_by_key');
  let seq = reserveSeq(ctx, tasks.length);
  // Idempotency keys are scoped to a queue (migrations/002): "<queue>\0<key>" -> the batch's task.
  const batchKeys = new Map<string, EnqueueOutcome>();
  return tasks.map((task) => {
    const scopedKey = task.key === undefined ? undefined : `${task.queue}\0${task.key}`;
    if (scopedKey !== undefined) {
      const existing = batchKeys.get(scopedKey) ?? findByKey.get({ queue: task.queue, key: task.key });
      if (existing) return { id: existing.id as string, created: false, state: existing.state as TaskState };
    }
    const scheduled = task.runAt !== undefined && task.runAt > now;
    const state: TaskState = scheduled ? 'scheduled' : 'queued';
    // In the order of the statement's positional parameters.
    insert.run(
      task.id,
      task.name,
      task.queue,
      state,
      task.priority,
      seq++,
      encode(task.input),
      encodeExecution(task.execution),
      task.execution.retry.maxRetries,
      task.createdAt,
      scheduled ? task.runAt! : null,
      scheduled ? task.runAt! : now,
      task.expiresAt ?? null,
      task.key ?? null,
    );
    const { id: taskId, name, queue, priority } = task;
    ctx.events.add(
      scheduled
        ? { type: 'task.scheduled', taskId, name, queue, timestamp: now, priority, runAt: task.runAt! }
        : { type: 'task.queued', taskId, name, queue, timestamp: now, priority },
    );
    const outcome: EnqueueOutcome = { id: task.id, created: true, state };
    if (scopedKey !== undefined) batchKeys.set(scopedKey, outcome);
    return outcome;
  });
}
