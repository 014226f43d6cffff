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
  const batchKeys = new Map<string, EnqueueOutcome>();
  return tasks.map((task) => {
    if (task.key !== undefined) {
      const existing = batchKeys.get(task.key) ?? findByKey.get({ key: task.key });
      if (existing) {
        const outcome = { id: existing.id as string, created: false, state: existing.state as TaskState };
        return outcome;
      }
    }
    const scheduled = task.runAt !== undefined && task.runAt > now;
    const state: TaskState = scheduled ? 'scheduled' : 'queued';
    insert.run({
      id: task.id,
      name: task.name,
      queue: task.queue,
      state,
      priority: task.priority,
      seq: seq++,
      input: encode(task.input),
      execution: encodeExecution(task.execution),
      maxRetries: task.execution.retry.maxRetries,
      createdAt: task.createdAt,
      runAt: scheduled ? task.runAt! : null,
      readyAt: scheduled ? task.runAt! : now,
      expiresAt: task.expiresAt ?? null,
      key: task.key ?? null,
    });
    const common = { taskId: task.id, name: task.name, queue: task.queue, timestamp: now, priority: task.priority };
    ctx.events.add(
      scheduled ? { type: 'task.scheduled', ...common, runAt: task.runAt! } : { type: 'task.queued', ...common },
    );
    const outcome: EnqueueOutcome = { id: task.id, created: true, state };
    if (task.key !== undefined) batchKeys.set(task.key, outcome);
    return outcome;
  });
}
