// Task definitions: a stable name, an optional input schema, defaults, and the code that runs.
import type { Logger } from './logger.js';
import type { EnqueueOptions, TaskOptions } from './options.js';
import type { StandardSchemaV1 } from './schema.js';
import type { TaskRun } from './task-run.js';

/** What a running attempt can see and do. */
export interface TaskContext {
  id: string;
  name: string;
  /** 1-based number of this attempt. */
  attempt: number;
  queue: string;
  priority: number;
  maxRetries: number;
  /** Aborts on soft time limit, cancellation, lost lease or worker shutdown; `signal.reason` says which. */
  signal: AbortSignal;
  /** Records progress (0..100) with optional JSON meta; emits `task.progress`. */
  progress(percent: number, meta?: unknown): Promise<void>;
  /** A child logger bound to this task and attempt. */
  log: Logger;
  enqueuedAt: Date;
}

export interface TaskDefinition<Input, Output> extends TaskOptions {
  /** Stable string id, never derived from code. */
  name: string;
  run(input: Input, ctx: TaskContext): Output | Promise<Output>;
}

export interface TaskDefinitionWithSchema<Schema extends StandardSchemaV1, Output>
  extends TaskDefinition<StandardSchemaV1.InferOutput<Schema>, Output> {
  /** Any Standard Schema (zod, valibot, arktype); checked at enqueue and again before running. */
  input: Schema;
}

/** Where a task sends its enqueues: the app that defined it. */
export interface TaskProducer {
  enqueueTask<Input, Output>(task: Task<Input, Output>, input: Input, options?: EnqueueOptions): Promise<TaskRun<Output>>;
}

/**
 * A task registered on an app; enqueue it from any process connected to the same broker.
 * @example
 * const run = await summarize.enqueue({ text: 'hello' }, { priority: 'urgent' });
 * console.log(await run.result({ timeout: '30s' }));
 */
export class Task<Input = unknown, Output = unknown> {
  readonly name: string;

  constructor(
    private readonly producer: TaskProducer,
    readonly definition: TaskDefinition<unknown, Output> & { input?: StandardSchemaV1 },
  ) {
    this.name = definition.name;
  }

  /** Validates the input, stores the task and returns a handle to it. */
  enqueue(input: Input, options: EnqueueOptions = {}): Promise<TaskRun<Output>> {
    return this.producer.enqueueTask(this, input, options);
  }
}
