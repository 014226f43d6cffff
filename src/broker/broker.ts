// The broker contract: every broker (SQLite today, Redis next) implements this interface, and the
// conformance suite in test/conformance pins its semantics. Times are milliseconds since the epoch.
import type { CeleriacEvent, EventType } from '../events.js';
import type { TaskError } from '../errors.js';
import type { ExecutionOptions, StateCounts, TaskInfo, TaskState, WorkerInfo } from '../types.js';

/** A task to store. `runAt` in the future makes it `scheduled`; otherwise it is `queued`. */
export interface NewTask {
  id: string;
  name: string;
  queue: string;
  priority: number;
  input: unknown;
  createdAt: number;
  runAt?: number;
  expiresAt?: number;
  /** Idempotency key: while an unfinished task of the same queue has this key, enqueue returns it instead. */
  key?: string;
  execution: ExecutionOptions;
}

export interface EnqueueOutcome {
  id: string;
  /** False when an unfinished task of the queue with the same key already existed; `id` is that task's. */
  created: boolean;
  state: TaskState;
}

/** A task handed to a worker under a lease. */
export interface LeasedTask {
  id: string;
  name: string;
  queue: string;
  priority: number;
  /** The decoded input; absent when `decodeError` is set. */
  input: unknown;
  /** Set when the stored record could not be decoded; the worker fails the task with it. */
  decodeError?: string;
  /** 1-based number of this attempt. */
  attempt: number;
  createdAt: number;
  execution: ExecutionOptions;
  leaseExpiresAt: number;
  /**
   * Set when the broker cannot tell whether the worker has received this lease already, through another
   * way, and even finished the attempt: the worker confirms the lease (a renewal naming the attempt)
   * before running it. On Redis: what a reclaim found (see `openInbox`), and what a lease call brings
   * back when a reclaim delivered tasks while the call was in flight (a reply held up by a call of it
   * that was sent again).
   */
  unconfirmed?: boolean;
}

export interface LeaseRequest {
  workerId: string;
  /** Queues to take from; strict priority across them, FIFO within a priority. */
  queues: string[];
  limit: number;
  leaseMs: number;
  now: number;
  /**
   * Set by a worker that has an {@link Inbox} open: a lease that comes back short (nothing more waits)
   * registers the worker, until this time, to receive tasks enqueued later through its inbox; a full
   * lease ends the registration, and so does a lease of `limit` 0 with it (a worker of several queues
   * that hand-offs filled ends its registrations in the others this way). Brokers without hand-off
   * ignore it.
   */
  handoffUntil?: number;
}

/**
 * Direct hand-off (optional): a task enqueued while an idle worker is registered (see
 * `LeaseRequest.handoffUntil`) is leased to that worker by the enqueue itself and delivered through the
 * worker's inbox, which saves the worker a lease round trip. Only tasks that would otherwise start at
 * once are handed off: never one that would overtake a task waiting in the queue.
 */
export interface Inbox {
  /**
   * Waits a while for tasks handed to this worker (already leased to it); [] when none came, null once
   * the inbox is closed and everything handed over was returned.
   */
  take(): Promise<LeasedTask[] | null>;
  /** Ends the registration; `take` then returns what was handed before, then null. */
  close(): Promise<void>;
  /** Drops the inbox's connection (after `take` returned null, or when `close` failed). */
  dispose(): void;
}

export interface RenewOutcome {
  /** Tasks this worker no longer holds (rescued after expiry, or gone). */
  lost: string[];
  /** Tasks whose cancellation was asked while they run. */
  cancelRequested: string[];
}

/** What every settlement names: the task, the worker, the time, and the attempt it ends. */
interface SettlementOf {
  taskId: string;
  workerId: string;
  now: number;
  /**
   * The attempt it ends (`LeasedTask.attempt`). When given, the settlement applies only while that attempt
   * runs: one for an attempt whose lease was lost (and which went back to the queue) cannot end a later
   * attempt of the same task that the same worker leased again. Workers always give it.
   */
  attempt?: number;
}

/** How a worker ends an attempt. Ignored (returns false) if the worker no longer holds the lease. */
export type Settlement =
  | (SettlementOf & { kind: 'complete'; result: unknown })
  | (SettlementOf & { kind: 'fail'; error: TaskError })
  | (SettlementOf & { kind: 'retry'; error: TaskError; runAt: number })
  | (SettlementOf & { kind: 'cancel'; reason: string });

export type CancelOutcome =
  /** It was waiting and is now `cancelled`. */
  | 'cancelled'
  /** It is running; its worker was asked to abort it. */
  | 'requested'
  /** It had already finished; nothing changed. */
  | 'finished'
  | 'not_found';

export interface TaskFilter {
  state?: TaskState;
  queue?: string;
  name?: string;
  limit?: number;
}

/** What stats need of a finished task. */
export interface FinishedSample {
  queue: string;
  state: TaskState;
  readyAt: number;
  startedAt?: number;
  finishedAt: number;
}

/** What one maintenance pass did (`Broker.maintain`). */
export interface MaintenanceOutcome {
  /** Tasks returned to their queue because their worker is gone. */
  rescued: number;
  /** Scheduled and retrying tasks moved to their queue. */
  promoted: number;
  /** When the next scheduled or retrying task falls due, or null. */
  nextDueAt: number | null;
}

/** What one prune call did (`Broker.prune`). */
export interface PruneOutcome {
  /** Finished tasks deleted. */
  pruned: number;
  /** A batch was full (of tasks, or on SQLite of events): more may be past retention. */
  more: boolean;
}

export interface RetentionPolicy {
  /** Finished tasks older than this are deleted. */
  resultTtlMs: number;
  /** Events older than this are deleted. */
  eventTtlMs: number;
  /** Workers silent for longer than this are dropped from the registry. */
  workerTtlMs: number;
}

export type EventListener = (events: CeleriacEvent[]) => void;

/** How a task stands, without the rest of it: see {@link Broker.getOutcome}. */
export type TaskOutcome = Pick<TaskInfo, 'state' | 'result' | 'error'>;

export interface SubscribeOptions {
  types?: readonly EventType[];
  /**
   * A worker's subscription: only what a worker acts on need be delivered (`task.queued` of tasks
   * waiting in a queue, not of those handed to a worker as they were queued; `task.scheduled`,
   * `task.retrying`, `task.revoked`), which spares a process that only runs workers the rest of the
   * event stream. A broker may deliver more; listeners still filter by type.
   */
  forWorker?: boolean;
  /**
   * The queues the listener needs above all (a worker's). A broker that subscribes per queue (Redis on
   * a Cluster) subscribes to these at once, even before any task of theirs exists, and never leaves
   * them; it follows the other queues as they come and go. Not a filter: other queues' events may come too.
   */
  queues?: readonly string[];
}

export interface Broker {
  /** The URL it was opened from, with any password masked. */
  readonly url: string;
  /** Leases on SQLite are renewed by timers; brokers may suggest defaults. */
  readonly kind: string;

  enqueue(tasks: NewTask[]): Promise<EnqueueOutcome[]>;
  lease(request: LeaseRequest): Promise<LeasedTask[]>;
  /**
   * Extends the leases the worker still holds. With `attempts` (one per id, as `LeasedTask.attempt`), a
   * lease is renewed only while that attempt runs (as `Settlement.attempt`): a task that went back to its
   * queue and was leased again, even by the same worker, counts as lost for the earlier attempt. Workers
   * always give it.
   */
  renew(workerId: string, taskIds: string[], leaseMs: number, now: number, attempts?: number[]): Promise<RenewOutcome>;
  /**
   * Hands active tasks back to their queue at once (graceful shutdown, or leased tasks that waited too
   * long for a slot), in the place they had in line (ahead of tasks queued after them); the attempt is
   * not counted. With `attempts` (one per id, as in `renew`), a task is handed back only in that attempt:
   * one leased again since, even by the same worker, is left to its new lease. Workers always give it.
   */
  release(workerId: string, taskIds: string[], now: number, attempts?: number[]): Promise<number>;
  settle(settlements: Settlement[]): Promise<boolean[]>;
  /**
   * Settles attempts and leases more in one step (a busy worker's "ack and fetch next"): the same
   * outcome as `settle` then `lease`, in one transaction or round trip where the broker can.
   */
  settleAndLease(settlements: Settlement[], next: LeaseRequest): Promise<{ held: boolean[]; leased: LeasedTask[] }>;
  cancel(taskId: string, reason: string, now: number): Promise<CancelOutcome>;
  /** Records a running attempt's progress; with `attempt`, only while that attempt runs (as `Settlement.attempt`). */
  progress(taskId: string, workerId: string, percent: number, meta: unknown, now: number, attempt?: number): Promise<boolean>;

  /**
   * One pass of the maintenance leader, in as few calls as the broker can (on Redis one per queue):
   * first returns tasks whose lease expired to their queue as a new attempt (`rescued`), then moves
   * scheduled and retrying tasks whose time has come to `queued` (`promoted`, a bounded batch), then
   * reads when the next scheduled or retrying task falls due (`nextDueAt`). A `nextDueAt` at or before
   * `now` means more were due than one pass moves.
   */
  maintain(now: number): Promise<MaintenanceOutcome>;
  /**
   * Deletes finished tasks, events and workers past retention, a bounded batch at a time (so that no call
   * holds the broker long); `more` says a batch was full and the caller should call again.
   */
  prune(now: number, policy: RetentionPolicy): Promise<PruneOutcome>;
  /** Deletes waiting (queued, scheduled, retrying) tasks of a queue, or of every queue. */
  purge(queue: string | undefined, now: number): Promise<number>;
  /**
   * Optional: takes, or keeps, the leadership of a maintenance service ('maintainer', 'pruner') for
   * `ttlMs`, so that one process at a time runs it; resolves whether `holderId` leads.
   * A broker without it lets every worker run maintenance (the operations are idempotent).
   */
  acquireLeadership?(service: string, holderId: string, ttlMs: number): Promise<boolean>;
  /** Gives up the leadership if `holderId` holds it, so another process takes over at once. */
  releaseLeadership?(service: string, holderId: string): Promise<void>;
  /**
   * Optional: an inbox for direct hand-offs to a worker of these queues, or undefined (not offered).
   * `local`, when given, receives (synchronously) the tasks that this same broker instance's own
   * enqueues hand to the worker, which then skip the inbox: a producer and a worker in one process
   * pass a task without a second trip through the broker. Whatever an enqueue handed over before
   * `close()` was called reaches `local` before `close()` resolves.
   * `holding`, given with `local`, lists the ids of the tasks the worker holds now (waiting, running, or
   * being stored). A broker that can lose a hand-off in transit (a reply lost with its connection) then
   * delivers such tasks through `local` once it notices, in the attempt they were handed at, marked
   * `unconfirmed`: a task may so arrive twice, the second time even after its outcome was stored, so
   * the worker ignores a task it holds in the same attempt, and confirms the lease of any other (a
   * renewal naming its attempt) before it runs it.
   */
  openInbox?(
    workerId: string,
    queues: string[],
    local?: (tasks: LeasedTask[]) => void,
    holding?: () => Iterable<string>,
  ): Promise<Inbox | undefined>;

  getTask(id: string): Promise<TaskInfo | null>;
  /**
   * Optional: a task's state, and its result or error once it has them, or null if it does not exist:
   * what a wait for its end reads (`run.result()`), without its input, which can be large (an agent's
   * prompt). A broker without it is read with `getTask`.
   */
  getOutcome?(id: string): Promise<TaskOutcome | null>;
  /**
   * Optional: the outcome an event delivered by this broker carried along, if any (on Redis a
   * `task.completed` event's message carries a small result), so a wait need not read the task. Listeners
   * never see it in the event itself.
   */
  carriedOutcome?(event: CeleriacEvent): TaskOutcome | undefined;
  listTasks(filter: TaskFilter): Promise<TaskInfo[]>;
  counts(): Promise<Record<string, StateCounts>>;
  /** Up to `limit` tasks finished at or after `since`, newest first: a sample, for percentiles. */
  finishedSince(since: number, limit: number): Promise<FinishedSample[]>;
  /** How many tasks finished (completed, failed or cancelled) at or after `since`, per queue; queues with none are left out. */
  countFinishedSince(since: number): Promise<Record<string, number>>;

  registerWorker(worker: WorkerInfo): Promise<void>;
  /**
   * Records a worker's heartbeat and counters and publishes its `worker.heartbeat` event, in one step
   * (an idle worker's most frequent call).
   */
  heartbeat(workerId: string, stats: { active: number; processed: number; failed: number }, now: number): Promise<void>;
  unregisterWorker(workerId: string, now: number): Promise<void>;
  listWorkers(): Promise<WorkerInfo[]>;

  /** Publishes worker events; task events are published by the operations that cause them. */
  publish(events: CeleriacEvent[]): Promise<void>;
  /**
   * Receives events published after subscribing, from any process (once `subscribed()` resolved, where
   * a broker has it), in order. With `types`, only
   * batches holding at least one of them need be delivered (listeners still filter by type).
   */
  subscribe(listener: EventListener, options?: SubscribeOptions): () => void;
  /**
   * Optional: resolves once the subscriptions made so far hear events published by any process from
   * now on (a broker that subscribes in the background). What this broker instance itself publishes
   * after `subscribe` returned is always delivered.
   */
  subscribed?(): Promise<void>;
  /**
   * Optional: how far the broker's clock is ahead of this process's, in ms (negative: behind), for a
   * broker shared by several hosts. Leases, hand-off registrations and due times compare times taken on
   * different hosts, so a worker warns when its host's clock is off.
   */
  clockOffset?(): Promise<number>;

  close(): Promise<void>;
}
