// The Redis broker: the Broker contract on Redis (standalone, Sentinel or Cluster) through ioredis.
// Every state change is one Lua script per queue (lua/*.lua) that also publishes its events; this class
// only opens connections, routes each operation to its module, and turns failures into BrokerErrors.
import type {
  Broker,
  Inbox,
  CancelOutcome,
  EnqueueOutcome,
  EventListener,
  FinishedSample,
  LeaseRequest,
  LeasedTask,
  MaintenanceOutcome,
  NewTask,
  PruneOutcome,
  RenewOutcome,
  RetentionPolicy,
  Settlement,
  SubscribeOptions,
  TaskFilter,
  TaskOutcome,
} from '../../broker/broker.js';
import { BrokerError } from '../../errors.js';
import type { CeleriacEvent } from '../../events.js';
import type { StateCounts, TaskInfo, WorkerInfo } from '../../types.js';
import { closeClient, openConnections, OUT_OF_MEMORY, type Client, type Connections } from './connection.js';
import { LocalWorkers, publishing, queueNames, script, TaskQueues, type RedisContext } from './context.js';
import { enqueueTasks } from './enqueue.js';
import { EventHub } from './events.js';
import { InboxGroup, RedisInbox } from './handoff.js';
import { Keys } from './keys.js';
import { leaseTasks, releaseTasks, renewLeases } from './lease.js';
import * as maintenance from './maintenance.js';
import * as reads from './reads.js';
import { cancelTask, setProgress, settleTasks } from './settle.js';
import { parseRedisUrl } from './url.js';
import * as registry from './workers.js';

/** Most queues a worker can have inboxes in: each costs the worker a blocking connection. */
export const MAX_INBOX_QUEUES = 8;

export class RedisBroker implements Broker {
  readonly kind = 'redis';
  private closed = false;

  private constructor(
    readonly url: string,
    private readonly ctx: RedisContext,
    private readonly connections: Connections,
  ) {}

  /**
   * Connects (failing within about 5 s with a clear BrokerError) and subscribes to events. `masked` is
   * the URL with its password hidden (`maskUrl`), used as `broker.url` and in every error.
   * @example
   * const broker = await RedisBroker.connect(url, maskUrl(url));
   */
  static async connect(url: string, masked: string): Promise<RedisBroker> {
    const target = parseRedisUrl(url, masked);
    const keys = new Keys(target.prefix, target.mode === 'cluster');
    const connections = await openConnections(target, masked);
    const ctx: RedisContext = {
      client: connections.client,
      keys,
      events: new EventHub(connections.subscriber, keys, target.socketTimeoutMs, () => queueNames(connections.client, keys)),
      queues: new TaskQueues(connections.client, keys),
      local: new LocalWorkers(),
      socketTimeoutMs: target.socketTimeoutMs,
      ledQueues: undefined,
      queueRegistrations: 0,
      reclaimsDelivered: 0,
    };
    return new RedisBroker(masked, ctx, connections);
  }

  /** Runs an operation, turning any failure into a rejected BrokerError. */
  private async run<T>(operation: string, body: (ctx: RedisContext) => Promise<T>): Promise<T> {
    if (this.closed) throw new BrokerError('the broker is closed');
    try {
      return await body(this.ctx);
    } catch (error) {
      throw asBrokerError(operation, this.url, error);
    }
  }

  enqueue(tasks: NewTask[]): Promise<EnqueueOutcome[]> {
    if (tasks.length === 0) return Promise.resolve([]);
    return this.run('enqueue', (ctx) => enqueueTasks(ctx, tasks, Date.now()));
  }

  lease(request: LeaseRequest): Promise<LeasedTask[]> {
    return this.run('lease', (ctx) => leaseTasks(ctx, request));
  }

  renew(workerId: string, taskIds: string[], leaseMs: number, now: number, attempts?: number[]): Promise<RenewOutcome> {
    if (taskIds.length === 0) return Promise.resolve({ lost: [], cancelRequested: [] });
    return this.run('renew', (ctx) => renewLeases(ctx, workerId, taskIds, leaseMs, now, attempts));
  }

  release(workerId: string, taskIds: string[], now: number, attempts?: number[]): Promise<number> {
    if (taskIds.length === 0) return Promise.resolve(0);
    return this.run('release', (ctx) => releaseTasks(ctx, workerId, taskIds, now, attempts));
  }

  settle(settlements: Settlement[]): Promise<boolean[]> {
    if (settlements.length === 0) return Promise.resolve([]);
    return this.run('settle', (ctx) => settleTasks(ctx, settlements));
  }

  /** Settle and lease sent together (one round trip for a one-queue worker); each settle still checks its lease. */
  settleAndLease(settlements: Settlement[], next: LeaseRequest): Promise<{ held: boolean[]; leased: LeasedTask[] }> {
    return this.run('settle', async (ctx) => {
      const settled = settlements.length === 0 ? Promise.resolve([]) : settleTasks(ctx, settlements);
      const leased = leaseTasks(ctx, next);
      const [held, tasks] = await Promise.all([settled, leased]);
      return { held, leased: tasks };
    });
  }

  cancel(taskId: string, reason: string, now: number): Promise<CancelOutcome> {
    return this.run('cancel', (ctx) => cancelTask(ctx, taskId, reason, now));
  }

  progress(taskId: string, workerId: string, percent: number, meta: unknown, now: number, attempt?: number): Promise<boolean> {
    return this.run('progress', (ctx) => setProgress(ctx, taskId, workerId, percent, meta, now, attempt));
  }

  maintain(now: number): Promise<MaintenanceOutcome> {
    return this.run('maintain', (ctx) => maintenance.maintain(ctx, now));
  }

  prune(now: number, policy: RetentionPolicy): Promise<PruneOutcome> {
    return this.run('prune', (ctx) => maintenance.prune(ctx, now, policy));
  }

  purge(queue: string | undefined): Promise<number> {
    return this.run('purge', (ctx) => maintenance.purge(ctx, queue));
  }

  acquireLeadership(service: string, holderId: string, ttlMs: number): Promise<boolean> {
    return this.run('acquireLeadership', (ctx) => maintenance.acquireLeadership(ctx, service, holderId, ttlMs));
  }

  releaseLeadership(service: string, holderId: string): Promise<void> {
    return this.run('releaseLeadership', (ctx) => maintenance.releaseLeadership(ctx, service, holderId));
  }

  /**
   * One inbox per queue, each on a blocking connection of its own (a worker's queues may live on
   * different Cluster shards, and one BLMPOP cannot wait on all of them), taken from as one. None for a
   * worker of more than MAX_INBOX_QUEUES queues: it is woken by events and leases.
   */
  async openInbox(
    workerId: string,
    queues: string[],
    local?: (tasks: LeasedTask[]) => void,
    holding?: () => Iterable<string>,
  ): Promise<Inbox | undefined> {
    const distinct = [...new Set(queues)];
    if (distinct.length === 0 || distinct.length > MAX_INBOX_QUEUES) return undefined;
    const settled = await Promise.allSettled(distinct.map(() => this.run('openInbox', () => this.connections.openBlocking())));
    const failed = settled.find((outcome) => outcome.status === 'rejected');
    if (failed) {
      for (const outcome of settled) if (outcome.status === 'fulfilled') outcome.value.disconnect();
      throw failed.reason;
    }
    const inboxes = distinct.map(
      (queue, i) =>
        new RedisInbox(this.ctx, (settled[i] as PromiseFulfilledResult<Client>).value, this.ctx.keys.queue(queue), workerId, local, holding),
    );
    return inboxes.length === 1 ? inboxes[0] : new InboxGroup(inboxes);
  }

  getTask(id: string): Promise<TaskInfo | null> {
    return this.run('getTask', (ctx) => reads.getTask(ctx, id));
  }

  getOutcome(id: string): Promise<TaskOutcome | null> {
    return this.run('getOutcome', (ctx) => reads.getOutcome(ctx, id));
  }

  listTasks(filter: TaskFilter): Promise<TaskInfo[]> {
    return this.run('listTasks', (ctx) => reads.listTasks(ctx, filter));
  }

  counts(): Promise<Record<string, StateCounts>> {
    return this.run('counts', (ctx) => reads.counts(ctx));
  }

  finishedSince(since: number, limit: number): Promise<FinishedSample[]> {
    return this.run('finishedSince', (ctx) => reads.finishedSince(ctx, since, limit));
  }

  countFinishedSince(since: number): Promise<Record<string, number>> {
    return this.run('countFinishedSince', (ctx) => reads.countFinishedSince(ctx, since));
  }

  registerWorker(worker: WorkerInfo): Promise<void> {
    return this.run('registerWorker', (ctx) => registry.registerWorker(ctx, worker));
  }

  heartbeat(workerId: string, stats: { active: number; processed: number; failed: number }, now: number): Promise<void> {
    return this.run('heartbeat', (ctx) => registry.heartbeat(ctx, workerId, stats, now));
  }

  unregisterWorker(workerId: string): Promise<void> {
    return this.run('unregisterWorker', (ctx) => registry.unregisterWorker(ctx, workerId));
  }

  listWorkers(): Promise<WorkerInfo[]> {
    return this.run('listWorkers', (ctx) => registry.listWorkers(ctx));
  }

  publish(events: CeleriacEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    return this.run('publish', async (ctx) => {
      // Through the node of the prefix's keys, as heartbeats are: one worker's events keep their order on a Cluster.
      const message = (header: string) => script<number>(ctx, 'publish', [ctx.keys.workers], [ctx.keys.channel, ctx.events.message(header, events)]);
      await publishing(ctx, [], (header) => [message(header)]);
    });
  }

  subscribe(listener: EventListener, options?: SubscribeOptions): () => void {
    return this.ctx.events.subscribe(listener, options);
  }

  carriedOutcome(event: CeleriacEvent): TaskOutcome | undefined {
    return this.ctx.events.carriedOutcome(event);
  }

  subscribed(): Promise<void> {
    return this.ctx.events.subscribed();
  }

  clockOffset(): Promise<number> {
    return this.run('read the server time', async (ctx) => {
      const sent = Date.now();
      const [seconds, micros] = await ctx.client.time();
      // Redis read its clock about halfway through the round trip.
      return Number(seconds) * 1_000 + Number(micros) / 1_000 - (sent + Date.now()) / 2;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.ctx.events.close();
    this.connections.unwatch();
    await Promise.all([closeClient(this.connections.subscriber), closeClient(this.connections.client)]);
  }
}

function asBrokerError(operation: string, url: string, error: unknown): Error {
  if (error instanceof BrokerError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  let hint = '';
  // An ACL user without a key, channel or command the broker needs.
  if (/NOPERM|can't publish to the channel/.test(reason)) hint = ' (docs/redis.md, "ACL users", lists what the user needs)';
  else if (/^OOM /.test(reason)) hint = OUT_OF_MEMORY; // Over maxmemory.
  // ioredis's words when a Cluster node is down: its retries ran out, or the cluster refused the call.
  else if (/Too many Cluster redirections|CLUSTERDOWN/.test(reason)) {
    hint = ' (a Cluster node is unreachable or its shard is failing over; calls work again once a replica has taken over: docs/redis.md, "Cluster")';
  }
  return new BrokerError(`Redis broker (${url}) could not ${operation}: ${reason}${hint}`);
}
