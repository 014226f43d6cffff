// A worker: leases tasks from its queues into an async pool, runs them, renews their leases, and
// shuts down gracefully. Maintenance services (maintainer, pruner) run alongside.
import { hostname } from 'node:os';
import type { Broker, LeaseRequest, LeasedTask, RenewOutcome, Settlement } from '../broker/broker.js';
import { toMs, type Duration } from '../duration.js';
import { TaskCancelledError, WorkerShutdownError } from '../errors.js';
import type { CeleriacEvent } from '../events.js';
import { newTaskId } from '../ids.js';
import type { Logger } from '../logger.js';
import { DEFAULT_QUEUE } from '../options.js';
import type { Task } from '../task.js';
import type { WorkerInfo } from '../types.js';
import { sleep, Wake } from '../wake.js';
import { Acker } from './acker.js';
import { LeaseLostError, type Attempt } from './attempt.js';
import { executeAttempt, type ExecutorEnv } from './executor.js';
import { createMaintainer } from './maintenance/maintainer.js';
import { createPruner } from './maintenance/pruner.js';
import type { MaintenanceService, PeriodicService } from './maintenance/service.js';
import { expandWorkerName } from './names.js';
import { HandoffReceiver } from './handoff-receiver.js';
import { LeaseBudget, type LeaseTicket } from './lease-budget.js';
import { HOLD_MS, Pool } from './pool.js';

/** A worker whose host clock is this far off the broker's warns (docs/redis.md, "Clocks"). */
const CLOCK_WARN_MS = 1_000;
/** How often a worker compares its clock with the broker's, after its start. */
const CLOCK_CHECK_MS = 10 * 60_000;

export interface WorkerOptions {
  /** Queues to consume, strict priority across them; default ['default']. */
  queues?: string[];
  /** Attempts running at once; default 10. */
  concurrency?: number;
  /**
   * Most leased tasks that may wait for a slot, so a busy worker starts its next task without a round
   * trip; default 1000. Adaptive: never more than the worker finished in the last 100 ms, nor a tenth of
   * what it finished in the last second, so a task waits about 100 ms at most and tasks that take a few
   * hundred ms or more are not held waiting; one that waited 0.5 s is handed back. 0 turns prefetching off.
   */
  prefetch?: number;
  /** Name with %h, %n, %d, %i expanded; default 'celeriac@%h'. */
  name?: string;
  /** How long a lease lasts without renewal; default '30s'. Renewed every third of it. */
  leaseTime?: Duration;
  /** How long close() lets active tasks finish before aborting them; default '30s'. */
  shutdownTimeout?: Duration;
  /** Default '2s'. */
  heartbeatInterval?: Duration;
  /** How often an idle worker looks for work when no event woke it; default '1s'. */
  pollInterval?: Duration;
  /** Run the maintenance services (maintainer, pruner) in this worker; default true. */
  maintenance?: boolean;
  /** Close gracefully on SIGINT/SIGTERM, then let the signal take its course; default true. */
  handleSignals?: boolean;
  /** Logger for this worker; default the app's. */
  logger?: Logger;
}

/** What a worker needs from its app. */
export interface WorkerHost {
  readonly logger: Logger;
  readonly resultTtlMs: number;
  broker(): Promise<Broker>;
  getRegisteredTask(name: string): Task<unknown, unknown> | undefined;
  registeredTasks(): string[];
}

const MAX_FETCH_BACKOFF_MS = 5_000;
const DEFAULT_PREFETCH = 1_000;

export class Worker {
  readonly id = newTaskId();
  readonly name: string;
  readonly queues: string[];
  readonly concurrency: number;
  private readonly leaseMs: number;
  private readonly shutdownMs: number;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private readonly log: Logger;
  private readonly pool: Pool;
  private readonly wake = new Wake();
  private readonly stopping = new AbortController();
  private broker!: Broker;
  private acker!: Acker;
  private executorEnv!: ExecutorEnv;
  private services: MaintenanceService[] = [];
  private maintainer: PeriodicService | undefined;
  private timers: NodeJS.Timeout[] = [];
  /** Fires when the oldest task waiting for a slot will have waited HOLD_MS; armed only while some wait. */
  private holdTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  /** Receives tasks the broker hands straight to this worker while it is idle, where the broker offers it. */
  private handoffs: HandoffReceiver | undefined;
  /** Renewals confirming the leases of tasks that arrived late or unconfirmed (`accept`). */
  private readonly confirming = new Set<Promise<void>>();
  /**
   * The tasks such a renewal is confirming: how many renewals confirm each, and the latest attempt of it
   * that joined the pool meanwhile (0: none). A renewal's answer can come after the same attempt arrived
   * another way, ran and was stored; "still held" is then out of date, and the attempt must not run again.
   */
  private readonly beingConfirmed = new Map<string, { renewals: number; joined: number }>();
  /** Tasks whose cancellation this worker heard of before the task itself arrived. */
  private readonly revokedAhead: RevokedAhead;
  /** A lease of limit 0 ending the registrations of a worker that hand-offs filled is in flight. */
  private endingRegistrations = false;
  private readonly budget: LeaseBudget;
  /** The lease sent with the acker's batch in flight (one at a time). */
  private refillTicket: LeaseTicket | undefined;
  private closing: Promise<void> | undefined;
  private signalHandlers: Array<[NodeJS.Signals, () => void]> = [];
  private startedAt = new Date();
  private processed = 0;
  private failed = 0;

  constructor(
    private readonly host: WorkerHost,
    private readonly options: WorkerOptions = {},
  ) {
    this.queues = options.queues?.length ? [...new Set(options.queues)] : [DEFAULT_QUEUE];
    this.concurrency = options.concurrency ?? 10;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${options.concurrency}`);
    }
    const prefetch = options.prefetch ?? DEFAULT_PREFETCH;
    if (!Number.isInteger(prefetch) || prefetch < 0) {
      throw new RangeError(`prefetch must be a non-negative integer, got ${options.prefetch}`);
    }
    this.pool = new Pool(this.concurrency, prefetch, (attempt) => void this.runAttempt(attempt));
    this.name = expandWorkerName(options.name ?? 'celeriac@%h');
    this.leaseMs = toMs(options.leaseTime ?? '30s', 'leaseTime');
    this.shutdownMs = toMs(options.shutdownTimeout ?? '30s', 'shutdownTimeout');
    this.heartbeatMs = toMs(options.heartbeatInterval ?? '2s', 'heartbeatInterval');
    this.pollMs = toMs(options.pollInterval ?? '1s', 'pollInterval');
    this.budget = new LeaseBudget(this.pool, this.pollMs, this.concurrency + prefetch);
    this.revokedAhead = new RevokedAhead(this.leaseMs);
    this.log = (options.logger ?? host.logger).child({ worker: this.name });
  }

  /** Tasks running now. */
  get activeCount(): number {
    return this.pool.running;
  }

  /** Connects, registers, and starts fetching. Resolves once the worker is online. */
  async start(): Promise<void> {
    if (this.loop) return;
    this.broker = await this.host.broker();
    this.acker = new Acker(this.broker, this.log, {
      request: () => this.refillRequest(),
      leased: (tasks) => this.refilled(tasks),
      // The inbox's next wait goes first: a task handed over next would wait for it (measured: cold
      // cross-process latency 1.22-1.31x Bee-Queue's with the result first, 0.97-1.17x without).
      alone: () => this.pool.running === 0 && !this.handoffs?.sendingWait,
    });
    this.executorEnv = {
      workerId: this.id,
      broker: this.broker,
      log: this.log,
      findTask: (name) => this.host.getRegisteredTask(name),
    };
    this.startedAt = new Date();
    await this.broker.registerWorker(this.info());
    await this.broker.publish([
      {
        type: 'worker.online',
        workerId: this.id,
        timestamp: Date.now(),
        name: this.name,
        hostname: hostname(),
        pid: process.pid,
        queues: this.queues,
        concurrency: this.concurrency,
      },
    ]);
    this.unsubscribe = this.broker.subscribe((events) => this.onEvents(events), {
      types: ['task.queued', 'task.scheduled', 'task.retrying', 'task.revoked'],
      forWorker: true,
      queues: this.queues,
    });
    await this.subscribedOrLater();
    this.startServices();
    await this.openInbox();
    this.every(Math.max(10, Math.floor(this.leaseMs / 3)), () => this.renewLeases());
    this.every(this.heartbeatMs, () => this.heartbeat());
    await this.checkClock();
    this.every(CLOCK_CHECK_MS, () => this.checkClock());
    if (this.options.handleSignals ?? true) this.handleSignals();
    this.loop = this.fetchLoop();
    this.log.info({ queues: this.queues, concurrency: this.concurrency, broker: this.broker.url }, 'worker online');
  }

  /**
   * Graceful shutdown: stop fetching, let active tasks finish up to the shutdown timeout, then abort
   * the rest through `ctx.signal` and hand their leases back at once.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private info(): WorkerInfo {
    return {
      id: this.id,
      name: this.name,
      hostname: hostname(),
      pid: process.pid,
      queues: this.queues,
      concurrency: this.concurrency,
      tasks: this.host.registeredTasks(),
      startedAt: this.startedAt,
      heartbeatAt: new Date(),
      heartbeatInterval: this.heartbeatMs,
      active: this.pool.running,
      processed: this.processed,
      failed: this.failed,
    };
  }

  /** A lease for the acker to send with its next batch of results, if the worker has room. */
  private refillRequest(): LeaseRequest | undefined {
    const limit = this.stopping.signal.aborted ? 0 : this.budget.next();
    if (limit <= 0) return undefined;
    const now = Date.now();
    this.refillTicket = this.budget.started(limit, now);
    return this.leaseRequest(limit, now);
  }

  private refilled(tasks: LeasedTask[] | undefined): void {
    if (this.refillTicket) this.budget.answered(this.refillTicket, tasks?.length);
    this.refillTicket = undefined;
    this.accept(tasks ?? []);
    this.watchHeld();
    this.wake.notify();
  }

  private leaseRequest(limit: number, now: number): LeaseRequest {
    const request: LeaseRequest = { workerId: this.id, queues: this.queues, limit, leaseMs: this.leaseMs, now };
    // An idle worker leases again every poll interval, which renews the registration before it lapses.
    if (this.handoffs) request.handoffUntil = now + 2 * this.pollMs + 1_000;
    return request;
  }

  private async openInbox(): Promise<void> {
    try {
      const received = (tasks: LeasedTask[]) => {
        this.accept(tasks);
        this.watchHeld();
        this.endRegistrationsIfFull();
        this.wake.notify();
      };
      // `received` also takes what this process's own enqueues hand over in memory, and what the broker
      // finds handed over but never received (a reply lost with its connection).
      const inbox = await this.broker.openInbox?.(this.id, this.queues, received, () => this.pool.attempts.keys());
      if (!inbox) return;
      this.handoffs = new HandoffReceiver(inbox, this.log, received);
    } catch (error) {
      this.log.warn({ err: error }, 'cannot open a hand-off inbox; tasks are fetched by leases only');
    }
  }

  /**
   * A worker of several queues is registered for hand-offs in each with the room its last lease left, and
   * each queue counts only its own hand-offs: once hand-offs filled the worker, the other queues would go
   * on handing it tasks that wait in its pool while other workers may be idle. So a full worker ends its
   * registrations (a lease of limit 0); its next lease, once it has room again, registers it anew. (With
   * one queue, the registration's own room reaches 0.)
   */
  private endRegistrationsIfFull(): void {
    if (this.queues.length < 2 || this.endingRegistrations || this.stopping.signal.aborted || this.pool.room() > 0) return;
    this.endingRegistrations = true;
    this.broker
      .lease(this.leaseRequest(0, Date.now()))
      .catch((error: unknown) => this.log.warn({ err: error }, 'cannot end the hand-off registrations of a full worker; its next lease will'))
      .finally(() => (this.endingRegistrations = false));
  }

  /**
   * Waits until the broker confirms the subscription, for at most a poll interval: a broker that cannot
   * confirm it yet (reconnecting) completes it later, and meanwhile the worker's poll finds work.
   */
  private async subscribedOrLater(): Promise<void> {
    if (!this.broker.subscribed) return;
    const gaveUp = new AbortController();
    await Promise.race([this.broker.subscribed().catch(() => undefined), sleep(this.pollMs, gaveUp.signal)]);
    gaveUp.abort();
  }

  private startServices(): void {
    if (this.options.maintenance === false) return;
    this.maintainer = createMaintainer(this.broker, this.log, this.leaseMs);
    const policy = { resultTtlMs: this.host.resultTtlMs, eventTtlMs: 10 * 60_000, workerTtlMs: 10 * 60_000 };
    this.services = [this.maintainer, createPruner(this.broker, this.log, policy)];
    for (const service of this.services) service.start();
  }

  private every(ms: number, job: () => Promise<void>): void {
    const timer = setInterval(() => void job(), ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async fetchLoop(): Promise<void> {
    let failures = 0;
    // Keeps the process alive while the worker runs (its other timers are unref'd).
    const keepAlive = setInterval(() => undefined, 1 << 30);
    try {
      while (!this.stopping.signal.aborted) {
        const limit = this.budget.next();
        if (limit <= 0) {
          await this.wake.wait(this.pollMs);
          continue;
        }
        let leased: LeasedTask[];
        const now = Date.now();
        const ticket = this.budget.started(limit, now);
        try {
          leased = await this.broker.lease(this.leaseRequest(limit, now));
          if (failures > 0) this.log.info('broker reachable again; fetching resumed');
          failures = 0;
        } catch (error) {
          this.budget.answered(ticket, undefined);
          failures++;
          const delay = Math.min(MAX_FETCH_BACKOFF_MS, 50 * 2 ** failures);
          this.log.error({ err: error, retryInMs: delay }, 'cannot fetch tasks; retrying');
          await sleep(delay, this.stopping.signal);
          continue;
        }
        this.budget.answered(ticket, leased.length);
        this.accept(leased);
        this.watchHeld();
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  private async runAttempt(attempt: Attempt): Promise<void> {
    const { task } = attempt;
    if (this.revokedAhead.take(task.id)) attempt.stop(new TaskCancelledError('revoked'));
    let settlement: Settlement | null = null;
    try {
      settlement = await executeAttempt(attempt, this.executorEnv);
    } finally {
      attempt.ended = true;
      this.pool.ended();
      this.wake.notify();
    }
    try {
      if (!settlement || attempt.handedBack) return;
      if (settlement.kind === 'fail') {
        this.failed++;
        this.log.warn({ taskId: task.id, task: task.name, error: settlement.error.message }, 'task failed');
      } else if (settlement.kind === 'retry') {
        this.log.info({ taskId: task.id, task: task.name, error: settlement.error.message }, 'task will retry');
      }
      const held = await this.acker.settle(settlement);
      if (held === false) {
        this.log.warn(
          { taskId: task.id, task: task.name, attempt: task.attempt },
          'lease lost before the outcome was stored (the broker unreachable for longer than the lease time?); the outcome is discarded and the task runs again',
        );
      }
      this.processed++;
    } catch (error) {
      this.log.error({ err: error, taskId: task.id }, 'worker bug while settling a task');
    } finally {
      this.pool.settled(attempt);
      this.wake.notify();
    }
  }

  private onEvents(events: CeleriacEvent[]): void {
    const handedOver = startedIn(events);
    for (const event of events) {
      switch (event.type) {
        case 'task.queued':
          // A task handed to a worker as it was queued (started in the same batch) waits for nobody. (On
          // Redis the work channel leaves those out already; SQLite delivers every event.)
          if (this.queues.includes(event.queue) && !handedOver?.has(event.taskId)) {
            this.budget.taskQueued();
            this.wake.notify();
          }
          break;
        case 'task.scheduled':
        case 'task.retrying': {
          const runAt = event.runAt;
          this.maintainer?.poke(runAt - Date.now());
          break;
        }
        case 'task.revoked': {
          const attempt = this.pool.attempts.get(event.taskId);
          if (attempt) attempt.stop(new TaskCancelledError('revoked'));
          // Leased to this worker, and not here yet: the lease's reply, or the hand-off, is on its way.
          else if (event.workerId === this.id) this.revokedAhead.add(event.taskId);
          break;
        }
      }
    }
  }

  /**
   * Tasks leased ahead (prefetched) that waited too long for a slot go back to the front of their queue,
   * for a worker with room: the rate that let them in could not foresee that the tasks ahead were slow.
   * Checked when the oldest waiting task will have waited HOLD_MS, so an idle worker sets no timer.
   */
  private watchHeld(): void {
    const since = this.pool.oldestWaitingSince;
    if (this.holdTimer || since === undefined || this.stopping.signal.aborted) return;
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      void this.handBackHeld().finally(() => this.watchHeld());
    }, since + HOLD_MS - Date.now());
    this.holdTimer.unref();
  }

  private async handBackHeld(): Promise<void> {
    if (this.stopping.signal.aborted) return; // Shutdown hands back whatever waits.
    const held = this.pool.takeHeldTooLong();
    if (held.length === 0) return;
    this.log.debug({ tasks: held.length }, 'handing back tasks that waited too long for a slot');
    await this.handBack(held);
  }

  /**
   * Takes leased tasks into the pool. Some join only once a renewal of their attempt confirms the lease
   * (`confirm`), as started now they could run twice:
   * - a task whose lease has less than half the lease time left arrived late (a hand-off that sat in the
   *   inbox while its connection was down, or a reply held up): its lease may have run out and the task
   *   gone back to its queue, even run elsewhere already;
   * - a task marked `unconfirmed`, which this worker may have received another way, even finished.
   */
  private accept(tasks: LeasedTask[], now = Date.now()): void {
    let doubtful: LeasedTask[] | undefined;
    for (const task of tasks) {
      if (!task.unconfirmed && task.leaseExpiresAt - now >= this.leaseMs / 2) this.join(task);
      else (doubtful ??= []).push(task);
    }
    if (!doubtful) return;
    const confirming = this.confirm(doubtful);
    this.confirming.add(confirming);
    void confirming.finally(() => this.confirming.delete(confirming));
  }

  /** Puts a leased task in the pool; a renewal confirming the same task hears of it (`beingConfirmed`). */
  private join(task: LeasedTask): void {
    if (!this.pool.add(task) || this.beingConfirmed.size === 0) return;
    const watch = this.beingConfirmed.get(task.id);
    if (watch) watch.joined = Math.max(watch.joined, task.attempt);
  }

  /**
   * Renews the leases of tasks that arrived late or unconfirmed; those still held in their attempt join the
   * pool, the others are dropped (their task runs, or ran, as another attempt or delivery). If the broker
   * cannot be asked, late tasks whose lease has not run out yet join (their renewals go on as for any task
   * held); the rest are left to expire.
   */
  private async confirm(tasks: LeasedTask[]): Promise<void> {
    const pending = tasks.filter((task) => !this.pool.holds(task));
    if (pending.length === 0) return;
    for (const { id } of pending) {
      const watch = this.beingConfirmed.get(id);
      if (watch) watch.renewals++;
      else this.beingConfirmed.set(id, { renewals: 1, joined: 0 });
    }
    let outcome: RenewOutcome;
    try {
      const ids = pending.map((task) => task.id);
      outcome = await this.broker.renew(this.id, ids, this.leaseMs, Date.now(), pending.map((task) => task.attempt));
    } catch (error) {
      const now = Date.now();
      const lost = pending.filter((task) => task.unconfirmed || task.leaseExpiresAt <= now).map((task) => task.id);
      outcome = { lost, cancelRequested: [] };
      this.log.error({ err: error, tasks: pending.length }, 'cannot confirm the leases of tasks that arrived late or unconfirmed');
    }
    const lost = new Set(outcome.lost);
    for (const id of outcome.cancelRequested) this.revokedAhead.add(id);
    for (const task of pending) {
      const watch = this.beingConfirmed.get(task.id)!;
      const joinedMeanwhile = watch.joined >= task.attempt;
      if (--watch.renewals === 0) this.beingConfirmed.delete(task.id);
      if (joinedMeanwhile) this.log.debug({ taskId: task.id }, 'a task being confirmed arrived another way meanwhile; ignored');
      else if (!lost.has(task.id)) this.join(task);
      else if (task.unconfirmed) this.log.debug({ taskId: task.id }, 'a task delivered again is no longer held (it ran here already?); ignored');
      else {
        this.log.warn(
          { taskId: task.id, task: task.name, attempt: task.attempt },
          'a task arrived after its lease ran out (the connection to the broker was down?); not run here, it runs again as a new attempt',
        );
      }
    }
    this.watchHeld();
    this.endRegistrationsIfFull();
    this.wake.notify();
  }

  private async renewLeases(): Promise<void> {
    const attempts = [...this.pool.attempts.values()];
    if (attempts.length === 0) return;
    const ids = attempts.map((attempt) => attempt.task.id);
    try {
      const outcome = await this.broker.renew(this.id, ids, this.leaseMs, Date.now(), attempts.map((attempt) => attempt.task.attempt));
      // What the renewal says is of the attempts it named: a later attempt of a task may have taken an
      // earlier one's place meanwhile (its lease ran out, and the task came back here), and holds its own lease.
      const renewed = new Map(attempts.map((attempt) => [attempt.task.id, attempt]));
      const current = (id: string) => {
        const attempt = renewed.get(id);
        return attempt && this.pool.attempts.get(id) === attempt ? attempt : undefined;
      };
      for (const id of outcome.cancelRequested) current(id)?.stop(new TaskCancelledError('revoked'));
      for (const id of outcome.lost) {
        const attempt = current(id);
        // Settled meanwhile; or ended, its outcome being stored: a store that ran before this renewal
        // makes the task look lost here, and a lease really lost shows in the store's answer.
        if (!attempt || attempt.ended) continue;
        this.log.warn({ taskId: id }, 'lease lost (renewed too late?); abandoning the attempt');
        attempt.stop(new LeaseLostError('the lease on this task expired and it was returned to its queue'));
      }
    } catch (error) {
      this.log.error({ err: error }, 'cannot renew leases; will retry');
    }
  }

  /** Warns when this host's clock is off the broker's (a broker shared by hosts: Redis). */
  private async checkClock(): Promise<void> {
    let offset: number | undefined;
    try {
      offset = await this.broker.clockOffset?.();
    } catch {
      return; // The broker is unreachable: the other calls say so.
    }
    if (offset === undefined || Math.abs(offset) < CLOCK_WARN_MS) return;
    this.log.warn(
      { clockOffsetMs: Math.round(offset) },
      `this host's clock is ${(Math.abs(offset) / 1_000).toFixed(1)} s ${offset > 0 ? 'behind' : 'ahead of'} the broker's: ` +
        'leases, hand-off registrations and due times compare clocks of different hosts; a few seconds off delay ' +
        'hand-offs and scheduled tasks; two thirds of the lease time off (20 s by default) can run a task twice. Keep clocks in sync (NTP)',
    );
  }

  private async heartbeat(): Promise<void> {
    const stats = { active: this.pool.running, processed: this.processed, failed: this.failed };
    try {
      const now = Date.now();
      await this.broker.heartbeat(this.id, stats, now); // Also publishes worker.heartbeat.
    } catch (error) {
      this.log.error({ err: error }, 'cannot send heartbeat; will retry');
    }
  }

  private handleSignals(): void {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const handler = () => {
        this.log.info({ signal }, 'shutting down gracefully (send again to force)');
        this.removeSignalHandlers();
        process.once(signal, () => process.exit(130));
        void this.close().then(() => {
          // Let the signal take its default course unless the program handles it itself.
          if (process.listenerCount(signal) <= 1) process.exit(0);
        });
      };
      process.on(signal, handler);
      this.signalHandlers.push([signal, handler]);
    }
  }

  private removeSignalHandlers(): void {
    for (const [signal, handler] of this.signalHandlers) process.off(signal, handler);
    this.signalHandlers = [];
  }

  private async shutdown(): Promise<void> {
    if (!this.loop) return;
    this.stopping.abort();
    this.wake.notify();
    // Given up first, so other workers take over maintenance while this one finishes.
    const servicesStopped = Promise.all(this.services.map((service) => service.stop()));
    await this.loop;
    // Everything handed over before the registration ended joins the pool (and is finished or handed back).
    await this.handoffs?.stop();
    // Tasks being confirmed join the pool too, to be finished or handed back with the rest.
    await Promise.all(this.confirming);
    await this.finishOrHandBack();
    await this.acker.drain(Date.now() + this.shutdownMs);
    this.acker.stop();
    await servicesStopped;
    for (const timer of this.timers) clearInterval(timer);
    clearTimeout(this.holdTimer);
    this.unsubscribe?.();
    this.removeSignalHandlers();
    try {
      await this.broker.unregisterWorker(this.id, Date.now());
      await this.broker.publish([{ type: 'worker.offline', workerId: this.id, timestamp: Date.now(), name: this.name }]);
    } catch (error) {
      this.log.error({ err: error }, 'cannot unregister the worker');
    }
    this.log.info({ processed: this.processed, failed: this.failed }, 'worker offline');
  }

  /**
   * Hands back at once the tasks waiting for a slot, waits for running attempts up to the shutdown
   * timeout, then aborts and hands back the rest.
   */
  private async finishOrHandBack(): Promise<void> {
    const waiting = this.pool.takeWaiting();
    if (waiting.length > 0) await this.handBack(waiting);
    const deadline = Date.now() + this.shutdownMs;
    while (this.pool.attempts.size > 0 && Date.now() < deadline) {
      await this.wake.wait(deadline - Date.now());
    }
    if (this.pool.attempts.size === 0) return;
    const remaining = [...this.pool.attempts.values()];
    this.log.warn({ tasks: remaining.length }, 'shutdown timeout passed; aborting and handing back active tasks');
    for (const attempt of remaining) {
      attempt.handedBack = true;
      attempt.stop(new WorkerShutdownError('the worker is shutting down'));
    }
    await this.handBack(remaining);
  }

  private async handBack(attempts: Attempt[]): Promise<void> {
    for (const attempt of attempts) attempt.handedBack = true;
    try {
      await this.broker.release(
        this.id,
        attempts.map((attempt) => attempt.task.id),
        Date.now(),
        attempts.map((attempt) => attempt.task.attempt),
      );
    } catch (error) {
      this.log.error({ err: error }, 'cannot hand tasks back; they return to their queue when their lease expires');
    }
  }
}

/**
 * The tasks whose cancellation a worker heard of (a `task.revoked` naming it, or a renewal) before the task
 * arrived: the revoke travels on the event connection, the task on another, and either may come first. Such
 * a task is stopped before its handler starts. Kept a lease time: a task arriving later than that has run
 * down its lease and is confirmed first, and the renewal reports the cancellation again.
 */
export class RevokedAhead {
  /** Task id -> when it is forgotten; in insertion order, which is expiry order. */
  private readonly ids = new Map<string, number>();

  constructor(private readonly keepMs: number) {}

  add(id: string, now = Date.now()): void {
    for (const [old, until] of this.ids) {
      if (until > now) break;
      this.ids.delete(old);
    }
    this.ids.delete(id);
    this.ids.set(id, now + this.keepMs);
  }

  /** Whether `id` was revoked ahead (and not forgotten); forgets it. */
  take(id: string, now = Date.now()): boolean {
    if (this.ids.size === 0) return false;
    const until = this.ids.get(id);
    if (until === undefined) return false;
    this.ids.delete(id);
    return until > now;
  }
}

/** The ids of the tasks started in a batch that also queues some (hand-offs), or undefined. */
function startedIn(events: CeleriacEvent[]): Set<string> | undefined {
  let started: Set<string> | undefined;
  let queued = false;
  for (const event of events) {
    if (event.type === 'task.started') (started ??= new Set()).add(event.taskId);
    else if (event.type === 'task.queued') queued = true;
  }
  return queued ? started : undefined;
}
