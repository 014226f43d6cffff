// SQLite and Redis, side by side (test/unit/broker-differential.test.ts, and on a Cluster in
// test/conformance/redis-cluster.test.ts): seeded random sequences of broker calls (enqueues with priorities,
// delays, expiries and idempotency keys; leases from one or both queues; completions, failures, retries
// and cancellations, by the holder or not; cancels, renewals, releases, maintenance passes, purges) run
// against both brokers, with the same tasks and the same times, and every reply must be the same, as
// must each task's record at the end and the task events each broker published.
// The conformance suite pins each rule with a chosen case; this looks for the combinations nobody
// chose. The sequences keep to what the two brokers document alike: tasks with an expiry only in
// 'a', which every lease reads (Redis cancels an expired task when its queue is leased from); no
// priority used in both queues (at one priority, a lease from several queues takes in the order the
// worker lists them on Redis, in the order the tasks became ready on SQLite); tasks handed back
// (release) only by one worker at a time (see the release step). Idempotency keys go to both queues,
// the same two keys in each (keys are scoped to a queue on both brokers).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Broker, FinishedSample, LeasedTask, LeaseRequest, NewTask, Settlement } from '../../src/broker/broker.js';
import { connectBroker, type CeleriacEvent } from '../../src/index.js';
import { newTaskId } from '../../src/ids.js';
import type { TaskInfo } from '../../src/types.js';
import { recordBroker } from './events.js';

/** A small seeded generator (mulberry32): the same seed, the same sequence. */
function random(seed: number) {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    chance: (p: number) => next() < p,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}

/** What both brokers must agree on of a task. */
function seen(task: TaskInfo | null) {
  if (!task) return null;
  return {
    state: task.state,
    queue: task.queue,
    priority: task.priority,
    attempts: task.attempts,
    result: task.result,
    error: task.error?.message,
    errors: task.errors.map((error) => error.message),
    workerId: task.workerId,
    scheduledFor: task.scheduledFor?.getTime(),
    startedAt: task.startedAt?.getTime(),
    finishedAt: task.finishedAt?.getTime(),
    key: task.key,
    progress: task.progress,
    name: task.name,
  };
}

function leasedView(tasks: LeasedTask[]) {
  return tasks.map((task) => ({ id: task.id, queue: task.queue, priority: task.priority, attempt: task.attempt, input: task.input, leaseExpiresAt: task.leaseExpiresAt }));
}

/**
 * The calls' clock starts here, in the future, and moves on in jumps: past the real clock, so that the
 * times the brokers take from it themselves (an enqueue's) are told apart, and every `runAt` is ahead of them.
 */
const SIMULATED_START = Date.UTC(2030, 0, 1);
const QUEUES = ['a', 'b'] as const;
const WORKERS = ['w1', 'w2'] as const;
const LEASE_MS = 3_000;

/**
 * Runs one seeded sequence of `steps` calls on a fresh `sqlite::memory:` broker and on a Redis broker of
 * `redisUrl` with a fresh prefix, and fails at the first reply, record or event that differs.
 */
export async function runSequence(redisUrl: string, seed: number, steps: number): Promise<void> {
  const rng = random(seed);
  const sqlite = await connectBroker('sqlite::memory:');
  const redis = await connectBroker(`${redisUrl}${redisUrl.includes('?') ? '&' : '?'}prefix=diff-${randomUUID().slice(0, 8)}`);
  const heard = { sqlite: await recordBroker(sqlite), redis: await recordBroker(redis) };
  const ids: string[] = [];
  /** Who holds each leased task, as the replies said. */
  const held = new Map<string, string>();
  /** The attempt each leased task was leased in, last. */
  const attempts = new Map<string, number>();
  let now = SIMULATED_START;
  const log: string[] = [];
  const both = async <T>(what: string, call: (broker: Broker) => Promise<T>, view: (reply: T) => unknown = (reply) => reply): Promise<T> => {
    log.push(what);
    const [fromSqlite, fromRedis] = [await call(sqlite), await call(redis)];
    assert.deepEqual(view(fromRedis), view(fromSqlite), `seed ${seed}, step ${log.length}: ${what}\n(the steps: ${log.slice(-12).join('; ')})`);
    return fromSqlite;
  };
  const leaseRequest = (): LeaseRequest => ({
    workerId: rng.pick(WORKERS),
    queues: rng.pick([['a'], ['a', 'b'], ['b', 'a']]),
    limit: rng.int(1, 3),
    leaseMs: LEASE_MS,
    now,
  });
  /** Tasks handed back (release), until leased again: see the release step. */
  const handedBack = new Set<string>();
  /** Tasks a release kept held (it named a wrong attempt), until leased again: see the release step. */
  const keptHeld = new Set<string>();
  const noteLeased = (leased: LeasedTask[], workerId: string): void => {
    for (const task of leased) {
      handedBack.delete(task.id);
      keptHeld.delete(task.id);
      held.delete(task.id); // Then last in the map, which keeps the order of the leases.
      held.set(task.id, workerId);
      attempts.set(task.id, task.attempt);
    }
  };
  /**
   * One or two held tasks' ends, by their holder in the attempt it leased (now and then by the other
   * worker, or for the attempt before: refused alike).
   */
  const someSettlements = (): Settlement[] => {
    const settlements: Settlement[] = [];
    for (const taskId of new Set([rng.pick([...held.keys()]), rng.pick([...held.keys()])])) {
      // Settled again at the very instant it was settled: Redis takes that for the first call sent again
      // after a lost reply, and reports it stored (docs/redis.md, "Differences from SQLite").
      if (settledAt.get(taskId) === now) continue;
      const holder = held.get(taskId)!;
      const workerId = rng.chance(0.1) ? (holder === 'w1' ? 'w2' : 'w1') : holder;
      const attempt = attempts.get(taskId)! - (rng.chance(0.05) ? 1 : 0);
      const base = { taskId, workerId, now, attempt };
      const kind = rng.pick(['complete', 'complete', 'fail', 'retry', 'cancel'] as const);
      if (kind === 'complete') settlements.push({ kind, ...base, result: { done: taskId.slice(-4) } });
      else if (kind === 'fail') settlements.push({ kind, ...base, error: { type: 'Error', message: `failed at ${now}` } });
      else if (kind === 'retry') settlements.push({ kind, ...base, error: { type: 'Error', message: `retry at ${now}` }, runAt: now + 1_000 });
      else settlements.push({ kind, ...base, reason: 'asked' });
    }
    return settlements;
  };
  const settledAt = new Map<string, number>();
  const noteSettled = (settlements: Settlement[]): void => {
    for (const settlement of settlements) {
      settledAt.set(settlement.taskId, now);
      if (rng.chance(0.9)) held.delete(settlement.taskId); // Some are settled again later: refused alike.
    }
  };
  const describe = (settlements: Settlement[]): string => settlements.map((s) => `${s.kind}:${ids.indexOf(s.taskId)}:${s.workerId}`).join(',');
  /** Whether a task handed back earlier still waits in its queue (read from SQLite, off the record). */
  const handedBackWaits = async (): Promise<boolean> => {
    for (const id of handedBack) {
      if ((await sqlite.getTask(id))?.state === 'queued') return true;
      handedBack.delete(id);
    }
    return false;
  };
  /** Whether a task a release kept held is held together with tasks leased since (see the release step). */
  const keptWithOthers = (): boolean => [...held.keys()].some((id) => keptHeld.has(id)) && [...held.keys()].some((id) => !keptHeld.has(id));
  try {
    for (let step = 0; step < steps; step++) {
      now += rng.pick([0, 0, 1, 7, 250, 1_000, 2_500]);
      const roll = rng.int(0, 99);
      if (roll < 22) {
        const tasks: NewTask[] = Array.from({ length: rng.pick([1, 1, 1, 2, 3]) }, () => {
          const queue = rng.pick(QUEUES);
          const task: NewTask = {
            id: newTaskId(),
            name: rng.pick(['diff', 'other']),
            queue,
            // No priority in both queues: across queues at one priority the brokers take in different orders.
            priority: queue === 'a' ? rng.pick([0, 4, 10, 14]) : rng.pick([1, 5, 5, 11, 15]),
            input: { n: ids.length, at: now },
            // Stamped as the app stamps it, just before the enqueue: a task queued at its enqueue is ready from
            // its creation on Redis and from the enqueue call on SQLite, which reads the clock itself.
            createdAt: Date.now(),
            execution: {
              retry: { maxRetries: rng.int(0, 2), backoff: 'fixed', delay: 1_000, maxDelay: 60_000, jitter: false },
              ignoreResult: false,
            },
          };
          if (rng.chance(0.25)) task.runAt = now + rng.pick([0, 500, 2_000, 5_000]);
          if (queue === 'a' && rng.chance(0.15)) task.expiresAt = now + rng.pick([100, 3_000]);
          if (rng.chance(0.25)) task.key = rng.pick(['k1', 'k2']);
          return task;
        });
        const outcomes = await both(`enqueue ${tasks.map((t) => `${t.queue}/p${t.priority}${t.runAt ? `/at+${t.runAt - now}` : ''}${t.key ? `/${t.key}` : ''}`).join(',')}`, (b) => b.enqueue(tasks));
        for (const outcome of outcomes) if (outcome.created) ids.push(outcome.id);
      } else if (roll < 39) {
        const request = leaseRequest();
        noteLeased(await both(`lease ${request.workerId} ${request.queues.join('+')} ${request.limit}`, (b) => b.lease(request), leasedView), request.workerId);
      } else if (roll < 54 && held.size > 0) {
        const settlements = someSettlements();
        await both(`settle ${describe(settlements)}`, (b) => b.settle(settlements));
        noteSettled(settlements);
      } else if (roll < 59 && held.size > 0) {
        const settlements = someSettlements();
        const request = leaseRequest();
        const view = (reply: { held: boolean[]; leased: LeasedTask[] }) => ({ held: reply.held, leased: leasedView(reply.leased) });
        const reply = await both(`settleAndLease ${describe(settlements)} then ${request.workerId} ${request.queues.join('+')} ${request.limit}`, (b) => b.settleAndLease(settlements, request), view);
        noteSettled(settlements);
        noteLeased(reply.leased, request.workerId);
      } else if (roll < 65 && ids.length > 0) {
        const taskId = rng.chance(0.9) ? rng.pick(ids) : newTaskId();
        // A reason of its own: on Redis a second cancel at the same instant for the same reason is taken for
        // the first sent again after a lost reply, and says 'cancelled' as the first did (docs/redis.md).
        await both(`cancel ${ids.indexOf(taskId)}`, (b) => b.cancel(taskId, `by user, step ${step}`, now));
      } else if (roll < 70 && held.size > 0) {
        const workerId = rng.pick(WORKERS);
        const taskIds = [...held].filter(([, holder]) => holder === workerId || rng.chance(0.2)).map(([id]) => id);
        const sorted = (outcome: { lost: string[]; cancelRequested: string[] }) => ({ lost: [...outcome.lost].sort(), cancelRequested: [...outcome.cancelRequested].sort() });
        // Half the time naming attempts, right or wrong (a worker's renewal names the attempt it holds).
        const attempts = rng.chance(0.5) ? taskIds.map(() => rng.int(1, 3)) : undefined;
        await both(`renew ${workerId} ${taskIds.length} ${attempts?.join(',') ?? ''}`, (b) => b.renew(workerId, taskIds, LEASE_MS, now, attempts), sorted);
      } else if (roll < 74 && held.size > 0 && new Set(held.values()).size === 1 && !(await handedBackWaits()) && !keptWithOthers()) {
        // A worker shutting down hands back all it holds, in the order it leased them. (Only while no other
        // worker holds tasks and no task handed back earlier still waits: Redis puts what is handed back at
        // the front of the queue, in the order given, so a task handed back later goes ahead of one handed
        // back earlier, where SQLite puts each in the place it had. A release naming a wrong attempt keeps
        // that task held; with tasks leased after it, the order it was leased in need not be the order of
        // their places, so it is handed back only alone, or with others kept held by the same release.)
        // Half the time naming attempts, now and then the one before (that task stays held).
        const [workerId] = held.values() as Iterable<string>;
        const taskIds = [...held.keys()];
        const named = rng.chance(0.5) ? taskIds.map((id) => attempts.get(id)! - (rng.chance(0.1) ? 1 : 0)) : undefined;
        await both(`release ${workerId} ${taskIds.length} ${named?.join(',') ?? ''}`, (b) => b.release(workerId!, taskIds, now, named));
        keptHeld.clear(); // Those still held were kept by this release, and are all that is held.
        taskIds.forEach((id, i) => {
          if (named !== undefined && named[i] !== attempts.get(id)) {
            keptHeld.add(id);
            return;
          }
          held.delete(id);
          handedBack.add(id);
        });
      } else if (roll < 82) {
        await both('maintain', (b) => b.maintain(now));
      } else if (roll < 83) {
        const queue = rng.pick([...QUEUES, undefined]);
        await both(`purge ${queue ?? 'all'}`, (b) => b.purge(queue, now));
      } else if (roll < 86) {
        await both('prune', (b) => b.prune(now, { resultTtlMs: 5_000, eventTtlMs: 86_400_000, workerTtlMs: 86_400_000 }));
      } else if (roll < 89 && held.size > 0) {
        const taskId = rng.pick([...held.keys()]);
        const workerId = rng.chance(0.9) ? held.get(taskId)! : rng.pick(WORKERS);
        const percent = rng.int(0, 100);
        const attempt = attempts.get(taskId)! - (rng.chance(0.05) ? 1 : 0);
        await both(`progress ${ids.indexOf(taskId)} ${workerId} ${percent} #${attempt}`, (b) => b.progress(taskId, workerId, percent, { step }, now, attempt));
      } else if (roll < 92) {
        const filter = { queue: rng.pick([...QUEUES, undefined]), state: rng.pick([undefined, 'queued', 'active', 'scheduled', 'retrying', 'completed', 'failed', 'cancelled'] as const), name: rng.pick([undefined, 'other']), limit: 5_000 };
        // A limit above the number of tasks: on Redis a list is exact only while each state holds fewer than
        // the limit (it reads that many of each, then filters and sorts; docs/redis.md).
        const listed = (tasks: TaskInfo[]) => tasks.map((task) => ({ id: task.id, ...seen(task) }));
        await both(`listTasks ${JSON.stringify(filter)}`, (b) => b.listTasks(filter), listed);
      } else if (roll < 95) {
        const since = now - rng.pick([1_000, 10_000]);
        await both(`countFinishedSince -${now - since}`, (b) => b.countFinishedSince(since));
        // Ready times matter for the tasks that started (stats' wait times); those queued at their enqueue
        // became ready at their creation on Redis and at the enqueue call on SQLite.
        const ready = (sample: FinishedSample) => (sample.startedAt === undefined ? 'never started' : sample.readyAt < SIMULATED_START ? 'at its enqueue' : sample.readyAt);
        // Compared as sets: the order of samples that finished together is not the contract's.
        const samples = (found: FinishedSample[]) => found.map((sample) => JSON.stringify({ ...sample, readyAt: ready(sample) })).sort();
        await both(`finishedSince -${now - since}`, (b) => b.finishedSince(since, 1_000), samples);
      } else if (roll < 98 && ids.length > 0) {
        const taskId = rng.pick(ids);
        await both(`getTask ${ids.indexOf(taskId)}`, (b) => b.getTask(taskId), seen);
      } else {
        await both('counts', (b) => b.counts());
      }
    }
    await both('counts at the end', (b) => b.counts());
    for (const id of ids) await both(`getTask ${ids.indexOf(id)}`, (b) => b.getTask(id), seen);
    // The events: each broker's task events, task by task. SQLite's have all arrived once a last event
    // published after them has (it delivers in order); Redis's once as many have arrived (on a Cluster
    // the shards' events may interleave any way, but each task's come from one shard, in order).
    const marker = { type: 'worker.offline', workerId: `end-${seed}`, name: 'end', timestamp: now } as const;
    await sqlite.publish([marker]);
    await heard.sqlite.waitFor((event) => event.type === 'worker.offline' && event.workerId === marker.workerId, 1, 10_000, "SQLite's last event");
    const isTaskEvent = (event: CeleriacEvent) => 'taskId' in event;
    await heard.redis.waitFor(isTaskEvent, heard.sqlite.matching(isTaskEvent).length, 10_000, "Redis's task events, as many as SQLite's");
    // And its own last event, so that on one server an event too many has arrived too.
    await redis.publish([marker]);
    await heard.redis.waitFor((event) => event.type === 'worker.offline' && event.workerId === marker.workerId, 1, 10_000, "Redis's last event");
    // An enqueue's events carry the time of the enqueue call, read by each broker from the real clock.
    const events = (list: CeleriacEvent[]) => list.map((event) => ({ ...event, timestamp: event.timestamp < SIMULATED_START ? 'at its enqueue' : event.timestamp }));
    for (const id of ids) {
      assert.deepEqual(events(heard.redis.ofTask(id)), events(heard.sqlite.ofTask(id)), `seed ${seed}: the events of task ${ids.indexOf(id)}`);
    }
  } finally {
    heard.sqlite.stop();
    heard.redis.stop();
    await sqlite.close();
    await redis.close();
  }
}
