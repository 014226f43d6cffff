// The embedded SQLite broker: the Broker contract over one database file shared by the processes of
// one machine. Every state change is one short IMMEDIATE transaction that also appends its events.
import type {
  Broker,
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
import type { SqliteContext } from './context.js';
import { openDatabase, parseSqliteUrl, Statements } from './database.js';
import { enqueueTasks } from './enqueue.js';
import { EventLog } from './event-log.js';
import { expireQueued, hasReadyTask, leaseTasks, releaseTasks, renewLeases } from './lease.js';
import * as maintenance from './maintenance.js';
import * as reads from './reads.js';
import { cancelTask, setProgress, settleTasks } from './settle.js';
import * as registry from './workers.js';

export class SqliteBroker implements Broker {
  readonly kind = 'sqlite';
  private readonly ctx: SqliteContext;
  private readonly transaction: { immediate: <T>(write: () => T) => T };
  private closed = false;

  constructor(readonly url: string) {
    const path = parseSqliteUrl(url);
    const db = openDatabase(path);
    const statements = new Statements(db);
    this.ctx = { db, statements, events: new EventLog(statements, path) };
    const run = db.transaction((write: () => unknown) => {
      const result = write();
      this.ctx.events.flush(Date.now());
      return result;
    });
    this.transaction = { immediate: <T>(write: () => T) => run.immediate(write) as T };
  }

  /** Runs an operation, turning any failure into a rejected BrokerError. */
  private run<T>(operation: string, body: () => T): Promise<T> {
    try {
      this.assertOpen();
      return Promise.resolve(body());
    } catch (error) {
      this.ctx.events.discard();
      return Promise.reject(asBrokerError(operation, error));
    }
  }

  /** One IMMEDIATE transaction; wakes event subscribers after it commits. */
  private transact<T>(write: () => T): T {
    const result = this.transaction.immediate(write);
    this.ctx.events.committed();
    return result;
  }

  private write<T>(operation: string, write: () => T): Promise<T> {
    return this.run(operation, () => this.transact(write));
  }

  private read<T>(operation: string, read: () => T): Promise<T> {
    return this.run(operation, read);
  }

  private assertOpen(): void {
    if (this.closed) throw new BrokerError('the broker is closed');
  }

  enqueue(tasks: NewTask[]): Promise<EnqueueOutcome[]> {
    if (tasks.length === 0) return Promise.resolve([]);
    return this.write('enqueue', () => enqueueTasks(this.ctx, tasks, Date.now()));
  }

  lease(request: LeaseRequest): Promise<LeasedTask[]> {
    // Nothing queued: answer from a read, without taking the write lock.
    return this.run('lease', () =>
      request.limit > 0 && hasReadyTask(this.ctx, request.queues) ? this.transact(() => leaseTasks(this.ctx, request)) : [],
    );
  }

  renew(workerId: string, taskIds: string[], leaseMs: number, now: number, attempts?: number[]): Promise<RenewOutcome> {
    if (taskIds.length === 0) return Promise.resolve({ lost: [], cancelRequested: [] });
    return this.write('renew', () => renewLeases(this.ctx, workerId, taskIds, leaseMs, now, attempts));
  }

  release(workerId: string, taskIds: string[], now: number, attempts?: number[]): Promise<number> {
    if (taskIds.length === 0) return Promise.resolve(0);
    return this.write('release', () => releaseTasks(this.ctx, workerId, taskIds, now, attempts));
  }

  settle(settlements: Settlement[]): Promise<boolean[]> {
    if (settlements.length === 0) return Promise.resolve([]);
    return this.write('settle', () => settleTasks(this.ctx, settlements));
  }

  settleAndLease(settlements: Settlement[], next: LeaseRequest): Promise<{ held: boolean[]; leased: LeasedTask[] }> {
    return this.write('settle', () => ({ held: settleTasks(this.ctx, settlements), leased: leaseTasks(this.ctx, next) }));
  }

  cancel(taskId: string, reason: string, now: number): Promise<CancelOutcome> {
    return this.write('cancel', () => cancelTask(this.ctx, taskId, reason, now));
  }

  progress(taskId: string, workerId: string, percent: number, meta: unknown, now: number, attempt?: number): Promise<boolean> {
    return this.write('progress', () => setProgress(this.ctx, taskId, workerId, percent, meta, now, attempt));
  }

  maintain(now: number): Promise<MaintenanceOutcome> {
    return this.run('maintain', () => {
      const rescued = this.rescueIfExpired(now);
      const due = maintenance.nextDueAt(this.ctx);
      const promoting = due !== null && due <= now;
      const promoted = promoting ? this.transact(() => maintenance.promoteDue(this.ctx, now)) : 0;
      // Queued tasks past their expiry are cancelled here too, not only when a worker leases: a task no
      // worker is there to lease still ends, and whoever waits on it hears so.
      if (maintenance.hasExpiredQueued(this.ctx, now)) this.transact(() => expireQueued(this.ctx, now));
      return { rescued, promoted, nextDueAt: promoting ? maintenance.nextDueAt(this.ctx) : due };
    });
  }

  /** A read first: an idle broker's maintenance costs a look, not a write transaction. */
  private rescueIfExpired(now: number): number {
    return maintenance.hasExpiredLease(this.ctx, now) ? this.transact(() => maintenance.rescueExpired(this.ctx, now)) : 0;
  }

  prune(now: number, policy: RetentionPolicy): Promise<PruneOutcome> {
    return this.write('prune', () => maintenance.prune(this.ctx, now, policy));
  }

  purge(queue: string | undefined): Promise<number> {
    return this.write('purge', () => maintenance.purge(this.ctx, queue));
  }

  getTask(id: string): Promise<TaskInfo | null> {
    return this.read('getTask', () => reads.getTask(this.ctx, id));
  }

  getOutcome(id: string): Promise<TaskOutcome | null> {
    return this.read('getOutcome', () => reads.getOutcome(this.ctx, id));
  }

  listTasks(filter: TaskFilter): Promise<TaskInfo[]> {
    return this.read('listTasks', () => reads.listTasks(this.ctx, filter));
  }

  counts(): Promise<Record<string, StateCounts>> {
    return this.read('counts', () => reads.counts(this.ctx));
  }

  finishedSince(since: number, limit: number): Promise<FinishedSample[]> {
    return this.read('finishedSince', () => reads.finishedSince(this.ctx, since, limit));
  }

  countFinishedSince(since: number): Promise<Record<string, number>> {
    return this.read('countFinishedSince', () => reads.countFinishedSince(this.ctx, since));
  }

  registerWorker(worker: WorkerInfo): Promise<void> {
    return this.write('registerWorker', () => registry.registerWorker(this.ctx, worker));
  }

  heartbeat(workerId: string, stats: { active: number; processed: number; failed: number }, now: number) {
    return this.write('heartbeat', () => {
      // Like Redis: a worker that is not registered (pruned as silent) is neither recorded nor announced.
      if (registry.heartbeat(this.ctx, workerId, stats, now)) {
        this.ctx.events.add({ type: 'worker.heartbeat', workerId, timestamp: now, ...stats });
      }
    });
  }

  unregisterWorker(workerId: string): Promise<void> {
    return this.write('unregisterWorker', () => registry.unregisterWorker(this.ctx, workerId));
  }

  listWorkers(): Promise<WorkerInfo[]> {
    return this.read('listWorkers', () => registry.listWorkers(this.ctx));
  }

  publish(events: CeleriacEvent[]): Promise<void> {
    return this.write('publish', () => {
      for (const event of events) this.ctx.events.add(event);
    });
  }

  subscribe(listener: EventListener, options?: SubscribeOptions): () => void {
    return this.ctx.events.subscribe(listener, options);
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.ctx.events.close();
      this.ctx.db.close();
    }
    return Promise.resolve();
  }
}

function asBrokerError(operation: string, error: unknown): Error {
  if (error instanceof BrokerError) return error;
  const reason = error instanceof Error ? error.message : String(error);
  return new BrokerError(`SQLite broker could not ${operation}: ${reason}`);
}
