// Enqueue: stores new tasks as queued or scheduled, honouring idempotency keys (scoped to a queue on
// Redis). One script call per queue and chunk of up to 1,000 tasks, each sent as soon as it is built.
import { setTimeout as sleep } from 'node:timers/promises';
import type { EnqueueOutcome, LeasedTask, NewTask } from '../../broker/broker.js';
import type { TaskState } from '../../types.js';
import { timeOfTaskId } from '../../ids.js';
import { nextMacrotask } from '../../wake.js';
import { encode, encodeExecution } from './codec.js';
import { fromStoredId, toStoredId } from './ids.js';
import { byQueue, chunks, publishing, script, type LocalWorker, type RedisContext } from './context.js';
import { workChannelOf } from './events.js';
import { fanOut } from './fanout.js';
import { scriptCommand } from './scripts.js';

/**
 * The arguments of one chunk: its specs (6 values each) and 4 per task (see enqueue.lua). Tasks of one
 * bulk call mostly share name, priority, options and times: those go once per chunk as a spec that
 * tasks refer to by number, which halves what a bulk enqueue sends.
 */
function chunkArgs(chunk: Array<{ item: NewTask }>): { specs: Array<string | number>; tasks: Array<string | number> } {
  const specs: Array<string | number> = [];
  const tasks: Array<string | number> = [];
  const numbers = new Map<string, number>();
  let last: { item: NewTask; created: number | ''; number: number } | undefined;
  for (const { item } of chunk) {
    // '' when the creation time is the one in the id (every id Celeriac makes): the hash leaves it out.
    const created = item.createdAt === timeOfTaskId(item.id) ? '' : item.createdAt;
    if (!last || created !== last.created || !sameSpec(last.item, item)) {
      const text = encodeExecution(item.execution);
      const key = `${item.name}\u0000${item.priority}\u0000${text}\u0000${created}\u0000${item.runAt ?? ''}\u0000${item.expiresAt ?? ''}`;
      let number = numbers.get(key);
      if (number === undefined) {
        number = numbers.size + 1;
        numbers.set(key, number);
        specs.push(item.name, item.priority, text, created, item.runAt ?? '', item.expiresAt ?? '');
      }
      last = { item, created, number };
    }
    tasks.push(toStoredId(item.id), encode(item.input), last.number, item.key ?? '');
  }
  return { specs: [numbers.size, ...specs], tasks };
}

/** Whether two tasks share everything a spec holds but the creation time. */
function sameSpec(a: NewTask, b: NewTask): boolean {
  return (
    a.name === b.name &&
    a.priority === b.priority &&
    a.execution === b.execution &&
    a.runAt === b.runAt &&
    a.expiresAt === b.expiresAt
  );
}

export async function enqueueTasks(ctx: RedisContext, tasks: NewTask[], now: number): Promise<EnqueueOutcome[]> {
  if (tasks.length === 1 && isPlain(tasks[0]!, now)) return [await enqueueOne(ctx, tasks[0]!, now)];
  const outcomes = tasks.map((task): EnqueueOutcome => ({
    id: task.id,
    created: true,
    state: task.runAt !== undefined && task.runAt > now ? 'scheduled' : 'queued',
  }));
  const groups = byQueue(tasks, (task) => task.queue);
  // Sent first (getTask(id) looks for a task in the known queues), and on one server not waited for
  // before the scripts; on a Cluster waited for, as a new queue's subscribers must join it first (nameQueues).
  const unregistered = ctx.queues.toRegister(groups.keys(), now);
  const registered = unregistered.length > 0 ? nameQueues(ctx, unregistered) : undefined;
  registered?.catch(() => undefined); // Awaited below; if the scripts fail first, their error is the one thrown.
  if (registered && ctx.keys.sharded) await unnamedOnFailure(ctx, unregistered, registered);
  const written = publishing(ctx, groups.keys(), async (header) => {
    const calls: Array<Promise<void>> = [];
    for (const [queue, members] of groups) {
      const keys = ctx.keys.queue(queue);
      for (const chunk of chunks(members)) {
        // After the first chunk, let the previous one go out first: Redis stores it while this one is built.
        if (calls.length > 0) await nextMacrotask();
        const { specs, tasks: taskArgs } = chunkArgs(chunk);
        const args = [keys.taskPrefix, queue, now, ctx.keys.channelOf(queue), header, ...specs, ...taskArgs];
        const call = script<Array<string | number>>(ctx, 'enqueue', [keys.queued, keys.scheduled, keys.keys, keys.expiring, keys.idle, keys.active], args);
        const stored = call.then((held) => {
          // Only the tasks whose idempotency key an unfinished task held come back.
          for (let at = 0; at < held.length; at += 3) {
            const { index } = chunk[Number(held[at]) - 1]!;
            outcomes[index] = { id: fromStoredId(String(held[at + 1])), created: false, state: String(held[at + 2]) as TaskState };
          }
        });
        stored.catch(() => undefined); // Rejections are collected by publishing(), after the loop.
        calls.push(stored);
      }
    }
    return calls;
  });
  await unnamedOnFailure(ctx, unregistered, written);
  if (registered) await nameAgain(ctx, unregistered, registered);
  outcomes.forEach((outcome, i) => ctx.queues.enqueuedTo(outcome.id, tasks[i]!.queue));
  return outcomes;
}

/** A task enqueue_one.lua can store: ready now, with no idempotency key and no expiry. */
function isPlain(task: NewTask, now: number): boolean {
  return task.key === undefined && task.expiresAt === undefined && (task.runAt === undefined || task.runAt <= now);
}

/**
 * Adds queue names to `{P}:queues`; the names a leadership call brought may lack them now. A producer
 * names a queue it has not named for a while (TaskQueues.toRegister) before it writes tasks to it, so a
 * producer that dies after the write leaves the queue known, and again after the write (nameAgain).
 * Replies as name_queues.lua does.
 */
function registerQueues(ctx: RedisContext, queues: string[]): Promise<Array<string | number>> {
  ctx.ledQueues = undefined;
  ctx.queueRegistrations++;
  const notices = ctx.keys.queuesChannel;
  return script(ctx, 'name_queues', [ctx.keys.queues], [notices ?? '', notices ? workChannelOf(notices) : '', ...queues]);
}

/**
 * How long a producer waits, on a Cluster, for the subscribers told of a queue it added to subscribe
 * to the queue's channels (a subscriber connection being replaced may never): past it, they may miss
 * the queue's first events, as during any reconnection.
 */
const JOIN_WAIT_MS = 1_000;

/**
 * Names queues before a write to them (registerQueues). On a Cluster, where each queue's events go on
 * channels of its own, it then waits until the subscribers told of a queue it added have subscribed to
 * that queue's channels (each subscribes once told, in a millisecond or two): so a listener in another
 * process hears the first events of a queue that did not exist when it subscribed, as on one server.
 */
async function nameQueues(ctx: RedisContext, queues: string[]): Promise<void> {
  const [toldEvents, toldWork, ...added] = await registerQueues(ctx, queues);
  const told = { events: Number(toldEvents), work: Number(toldWork) };
  if (added.length === 0 || (told.events === 0 && told.work === 0)) return;
  const deadline = Date.now() + JOIN_WAIT_MS;
  // Asked in one fan-out per round (a bulk enqueue may add hundreds of queues), until all have joined.
  let waiting = added.map((queue) => ctx.keys.queue(String(queue)));
  for (;;) {
    const counts = await fanOut<number[]>(
      ctx.client,
      waiting.map((keys) => scriptCommand('queue_subscribers', [keys.unused], [keys.channel, workChannelOf(keys.channel)])),
    );
    waiting = waiting.filter((_, i) => counts[i]![0]! < told.events || counts[i]![1]! < told.work);
    if (waiting.length === 0 || Date.now() >= deadline) return;
    await sleep(1);
  }
}

/**
 * After a write to queues named just before it: waits for that naming and names them again, so a queue
 * the pruner forgot while the write was on its way is known again (forgetQueues, maintenance.ts). On a
 * failure the queues count as not named, and the next write names them.
 */
async function nameAgain(ctx: RedisContext, queues: string[], before: Promise<unknown>): Promise<void> {
  await unnamedOnFailure(ctx, queues, before.then(() => registerQueues(ctx, queues)));
}

/** Waits for a write or a naming; if it fails, the queues count as not named (the next write names them). */
async function unnamedOnFailure<T>(ctx: RedisContext, queues: string[], step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (error) {
    ctx.queues.unregister(queues);
    throw error;
  }
}

/**
 * The usual single enqueue (`app.enqueue`), on its own short path and script: it is what an idle
 * worker waits on, so every step between the call and the worker hearing of the task counts.
 */
async function enqueueOne(ctx: RedisContext, task: NewTask, now: number): Promise<EnqueueOutcome> {
  const keys = ctx.keys.queue(task.queue);
  const due = ctx.queues.toRegister([task.queue], now);
  const registered = due.length > 0 ? nameQueues(ctx, due) : undefined;
  registered?.catch(() => undefined); // As in enqueueTasks.
  if (registered && ctx.keys.sharded) await unnamedOnFailure(ctx, due, registered);
  const created = task.createdAt === timeOfTaskId(task.id) ? '' : task.createdAt;
  const input = encode(task.input);
  const local = ctx.local.candidate(task.queue);
  const pending = ctx.events.beforeQueue(task.queue);
  if (pending) await pending; // As in publishing() (context.ts).
  const { header, n } = ctx.events.nextCall();
  const call = script<string | [string, string]>(ctx, 'enqueue_one', [keys.queued, keys.idle, keys.active], [
    keys.taskPrefix,
    task.queue,
    now,
    ctx.keys.channelOf(task.queue),
    header,
    toStoredId(task.id),
    task.name,
    task.priority,
    input,
    encodeExecution(task.execution),
    created,
    local?.workerId ?? '',
  ]);
  const reply = registered ? await unnamedOnFailure(ctx, due, call) : await call;
  ctx.events.acked(n);
  if (local && Array.isArray(reply) && reply[0] === 'local') deliverLocally(ctx, local, task, input, Number(reply[1]));
  if (registered) await nameAgain(ctx, due, registered);
  ctx.queues.enqueuedTo(task.id, task.queue);
  // A task handed straight to a worker was still enqueued as queued (as enqueue.lua's callers report it).
  return { id: task.id, created: true, state: 'queued' };
}

/**
 * Hands a task the script leased to a worker of this broker instance to it in memory, as its inbox
 * would have: the input as a worker reads it (a copy through JSON), attempt 1.
 */
function deliverLocally(ctx: RedisContext, local: LocalWorker, task: NewTask, input: string, leaseExpiresAt: number): void {
  ctx.queues.remember(task.id, task.queue);
  const leased: LeasedTask = {
    id: task.id,
    name: task.name,
    queue: task.queue,
    priority: task.priority,
    input: JSON.parse(input) as unknown,
    attempt: 1,
    createdAt: task.createdAt,
    execution: task.execution,
    leaseExpiresAt,
  };
  try {
    local.deliver([leased]);
  } catch {
    // Never the enqueue's failure: the task is stored and leased, and returns to its queue when the
    // lease expires if the worker did not take it.
  }
}
