// The app: a registry of tasks bound to one broker, the producer API, and the factory for workers.
import type { Broker, CancelOutcome, NewTask, TaskFilter, TaskOutcome } from './broker/broker.js';
import { connectBroker, maskUrl, resolveBrokerUrl } from './broker/connect.js';
import { toMs, type Duration } from './duration.js';
import type { CeleriacEvent, EventOf, EventType } from './events.js';
import { newTaskId, timeOfTaskId } from './ids.js';
import { createLogger, type Logger } from './logger.js';
import { resolveEnqueue, type EnqueueOptions, type ResolvedEnqueue } from './options.js';
import { validateInput, type StandardSchemaV1 } from './schema.js';
import { collectStats, type Stats } from './stats.js';
import { Task, type TaskDefinition, type TaskDefinitionWithSchema, type TaskProducer } from './task.js';
import { TaskRun, type TaskRunHost } from './task-run.js';
import type { TaskInfo, WorkerInfo } from './types.js';
import { TaskWaiters } from './waiters.js';
import { Worker, type WorkerOptions } from './worker/worker.js';

export interface CeleriacOptions {
  /** Broker URL or instance; else env CELERIAC_BROKER_URL, else `sqlite:.celeriac/celeriac.db`. */
  broker?: string | Broker;
  /** A pino logger; default: JSON at level CELERIAC_LOG_LEVEL or 'warn'. */
  logger?: Logger;
  /** How long finished tasks and their results are kept; default '1d'. */
  resultTtl?: Duration;
}

/** One item of {@link Celeriac.enqueueMany}. */
export interface EnqueueItem {
  task: string;
  input?: unknown;
  options?: EnqueueOptions;
}

type AnyTask = Task<any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * A Celeriac app: define tasks, enqueue them, start workers.
 * @example
 * const app = new Celeriac({ broker: 'sqlite:./jobs.db' });
 * const add = app.task({ name: 'math.add', run: (input: { a: number; b: number }) => input.a + input.b });
 * const run = await add.enqueue({ a: 1, b: 2 });
 */
export class Celeriac implements TaskProducer, TaskRunHost {
  readonly logger: Logger;
  readonly resultTtlMs: number;
  private readonly tasks = new Map<string, AnyTask>();
  private readonly resolvedDefaults = new Map<string, ResolvedEnqueue>();
  private readonly brokerUrl: string;
  private brokerPromise: Promise<Broker> | undefined;
  private waiters: TaskWaiters | undefined;
  private readonly workers = new Set<Worker>();
  private closed = false;

  constructor(options: CeleriacOptions = {}) {
    this.logger = options.logger ?? createLogger();
    this.resultTtlMs = toMs(options.resultTtl ?? '1d', 'resultTtl');
    if (typeof options.broker === 'object') {
      this.brokerUrl = options.broker.url;
      this.brokerPromise = Promise.resolve(options.broker);
    } else {
      this.brokerUrl = resolveBrokerUrl(options.broker);
    }
  }

  /** The broker URL in use, password masked. */
  get url(): string {
    return maskUrl(this.brokerUrl);
  }

  /** The connected broker; opened on first use. */
  broker(): Promise<Broker> {
    if (this.closed) return Promise.reject(new Error('the Celeriac app is closed'));
    this.brokerPromise ??= connectBroker(this.brokerUrl);
    return this.brokerPromise;
  }

  /**
   * Registers a task under a stable name.
   * @example
   * const summarize = app.task({
   *   name: 'agent.summarize',
   *   input: z.object({ text: z.string() }),
   *   run: async (input, ctx) => ({ summary: input.text.slice(0, 10) }),
   * });
   */
  task<Schema extends StandardSchemaV1, Output>(
    definition: TaskDefinitionWithSchema<Schema, Output>,
  ): Task<StandardSchemaV1.InferInput<Schema>, Awaited<Output>>;
  task<Input = unknown, Output = unknown>(definition: TaskDefinition<Input, Output>): Task<Input, Awaited<Output>>;
  task(definition: TaskDefinition<unknown, unknown> & { input?: StandardSchemaV1 }): AnyTask {
    if (typeof definition.name !== 'string' || definition.name === '') {
      throw new TypeError('a task needs a non-empty string name');
    }
    if (this.tasks.has(definition.name)) throw new Error(`a task named '${definition.name}' is already registered`);
    if (typeof definition.run !== 'function') throw new TypeError(`task '${definition.name}' needs a run function`);
    // Fail at definition time on bad defaults rather than at the first enqueue.
    resolveEnqueue(definition, {}, Date.now());
    const task = new Task(this, definition);
    this.tasks.set(definition.name, task);
    return task;
  }

  /** The task registered under `name`, if any. */
  getRegisteredTask(name: string): AnyTask | undefined {
    return this.tasks.get(name);
  }

  /** Names of every registered task. */
  registeredTasks(): string[] {
    return [...this.tasks.keys()].sort();
  }

  enqueueTask<Input, Output>(task: Task<Input, Output>, input: Input, options?: EnqueueOptions) {
    return this.enqueue(task.name, input, options) as Promise<TaskRun<Output>>;
  }

  /**
   * Enqueues a task by name, without needing its code. A task registered here is validated against its schema.
   * @example
   * await app.enqueue('agent.summarize', { text: 'hi' }, { priority: 'high' });
   */
  async enqueue(name: string, input: unknown, options: EnqueueOptions = {}): Promise<TaskRun> {
    const [run] = await this.enqueueMany([{ task: name, input, options }]);
    return run!;
  }

  /** Enqueues many tasks in one broker transaction; all are validated before any is stored. */
  async enqueueMany(items: EnqueueItem[]): Promise<TaskRun[]> {
    const now = Date.now();
    const records: NewTask[] = [];
    // Validate everything before storing anything; await only the schemas that are asynchronous.
    const validated = items.map((item) => this.validate(item));
    const inputs = validated.some((input) => input instanceof Promise) ? await Promise.all(validated) : validated;
    items.forEach((item, i) => records.push(this.prepare(item, now, inputs[i])));
    const broker = await this.broker();
    const outcomes = await broker.enqueue(records);
    return outcomes.map((outcome) => new TaskRun(this, outcome.id, outcome.created));
  }

  /** The input to store: checked by the task's schema when this app knows the task and it has one. */
  private validate(item: EnqueueItem): unknown {
    if (typeof item.task !== 'string' || item.task === '') throw new TypeError('enqueue needs a task name');
    const schema = this.tasks.get(item.task)?.definition.input;
    return schema ? validateInput(item.task, schema, item.input) : item.input;
  }

  private prepare(item: EnqueueItem, now: number, input: unknown): NewTask {
    // JSON.stringify turns these into nothing at all: say so here rather than store an empty input.
    if (typeof input === 'function' || typeof input === 'symbol') {
      throw new TypeError(`the input of '${item.task}' cannot be stored as JSON (it is a ${typeof input})`);
    }
    const id = newTaskId();
    // The time in the id: the same instant (a broker can then leave it out of the stored record), from
    // which delays and expiry count.
    const createdAt = timeOfTaskId(id) ?? now;
    const resolved = isEmpty(item.options) ? this.defaultsFor(item.task) : this.resolve(item.task, item.options!, createdAt);
    return { id, name: item.task, input, createdAt, ...resolved };
  }

  private resolve(name: string, options: EnqueueOptions, now: number): ResolvedEnqueue {
    return resolveEnqueue(this.tasks.get(name)?.definition ?? {}, options, now);
  }

  /** A task's options when an enqueue overrides none: resolved once, shared by every such task. */
  private defaultsFor(name: string): ResolvedEnqueue {
    let resolved = this.resolvedDefaults.get(name);
    if (!resolved) {
      resolved = this.resolve(name, {}, 0);
      this.resolvedDefaults.set(name, resolved);
    }
    return resolved;
  }

  async getTask(id: string): Promise<TaskInfo | null> {
    return (await this.broker()).getTask(id);
  }

  /** Tasks by state, queue and name, for inspection. */
  async listTasks(filter: TaskFilter = {}): Promise<TaskInfo[]> {
    return (await this.broker()).listTasks(filter);
  }

  /** A handle to a task enqueued earlier, from its id. */
  run<Output = unknown>(id: string): TaskRun<Output> {
    return new TaskRun<Output>(this, id);
  }

  async cancel(id: string, reason = 'revoked'): Promise<CancelOutcome> {
    return (await this.broker()).cancel(id, reason, Date.now());
  }

  /** Waits for a task to finish and returns all of it; rejects with TimeoutError after `timeoutMs`. */
  async waitForTask(id: string, timeoutMs?: number): Promise<TaskInfo> {
    await this.waitForOutcome(id, timeoutMs);
    const info = await (await this.broker()).getTask(id);
    if (!info) throw new Error(`task ${id} no longer exists (pruned after its retention)`);
    return info;
  }

  /** Waits for a task to finish and returns its state, result and error (`run.result()`: not its input). */
  async waitForOutcome(id: string, timeoutMs?: number): Promise<TaskOutcome> {
    const broker = await this.broker();
    // After the await, not before it: waits started together (`runs.map((run) => run.result())`) all see
    // no waiters before the broker resolves, and each made its own, with its own subscription (found in
    // the sixth session: 15,000 pending results slowed a worker in the same process 20 times).
    this.waiters ??= new TaskWaiters(broker);
    return this.waiters.wait(id, timeoutMs);
  }

  async stats(): Promise<Stats> {
    return collectStats(await this.broker());
  }

  /** Workers registered on the broker (live or recently seen). */
  async listWorkers(): Promise<WorkerInfo[]> {
    return (await this.broker()).listWorkers();
  }

  /** Deletes waiting tasks of `queue`, or of every queue; returns how many. */
  async purge(queue?: string): Promise<number> {
    return (await this.broker()).purge(queue, Date.now());
  }

  /**
   * Subscribes to events from every process on the broker; `'*'` for all. Returns an unsubscribe function.
   * @example
   * const off = app.on('task.completed', (event) => console.log(event.taskId));
   */
  on<T extends EventType | '*'>(
    type: T,
    listener: (event: T extends EventType ? EventOf<T> : CeleriacEvent) => void,
  ): () => void {
    let unsubscribe: (() => void) | undefined;
    let cancelled = false;
    this.broker().then(
      (broker) => {
        if (cancelled) return;
        unsubscribe = broker.subscribe(
          (events) => {
            for (const event of events) {
              if (type === '*' || event.type === type) listener(event as never);
            }
          },
          type === '*' ? {} : { types: [type as EventType] },
        );
      },
      (error: Error) => this.logger.error({ err: error }, 'cannot subscribe to events'),
    );
    return () => {
      cancelled = true;
      unsubscribe?.();
    };
  }

  /**
   * Resolves once the listeners added with `on()` so far hear the events of every process: the broker is
   * open, and on Redis the subscription, which completes in the background, is confirmed. (What this
   * app itself does after `on()` is never missed.) Rejects if the broker cannot be opened.
   * @example
   * app.on('task.completed', (event) => console.log(event.taskId));
   * await app.subscribed(); // from here on, tasks other processes complete are heard too
   */
  async subscribed(): Promise<void> {
    // on() subscribes in a callback on the same broker promise, registered before this await's.
    const broker = await this.broker();
    await broker.subscribed?.();
  }

  /**
   * A worker for this app's tasks; call `start()` on it.
   * @example
   * const worker = app.worker({ queues: ['agents', 'default'], concurrency: 16, name: 'w1@%h' });
   * await worker.start();
   */
  worker(options: WorkerOptions = {}): Worker {
    const worker = new Worker(this, options);
    this.workers.add(worker);
    return worker;
  }

  /** Closes workers made by this app (gracefully), then the broker connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.workers].map((worker) => worker.close()));
    this.closed = true;
    this.waiters?.close();
    const broker = await this.brokerPromise?.catch(() => undefined);
    await broker?.close();
  }
}

function isEmpty(options: EnqueueOptions | undefined): boolean {
  if (!options) return true;
  for (const key in options) if ((options as Record<string, unknown>)[key] !== undefined) return false;
  return true;
}
