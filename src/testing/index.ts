// celeriac/testing: an isolated in-process app, run-inline and assert-enqueued helpers.
import { Celeriac, type CeleriacOptions } from '../app.js';
import { validateInput } from '../schema.js';
import type { Task, TaskContext } from '../task.js';
import type { TaskInfo } from '../types.js';
import { createLogger } from '../logger.js';

/**
 * A fresh app on its own `sqlite::memory:` broker: nothing is shared with any other test.
 * @example
 * const app = createTestApp();
 * const add = app.task({ name: 'add', run: (input: { a: number; b: number }) => input.a + input.b });
 */
export function createTestApp(options: Omit<CeleriacOptions, 'broker'> = {}): Celeriac {
  return new Celeriac({ logger: createLogger({ level: 'silent' }), ...options, broker: 'sqlite::memory:' });
}

/**
 * Runs a task's code in this process, without a broker: validates the input like a worker would and
 * returns the result. Progress calls are recorded on the returned context.
 * @example
 * expect(await runInline(add, { a: 1, b: 2 })).toBe(3);
 */
export async function runInline<Input, Output>(
  task: Task<Input, Output>,
  input: Input,
  overrides: Partial<TaskContext> = {},
): Promise<Output> {
  const validated = await validateInput(task.name, task.definition.input, input);
  const controller = new AbortController();
  const ctx: TaskContext = {
    id: 'inline',
    name: task.name,
    attempt: 1,
    queue: task.definition.queue ?? 'default',
    priority: 5,
    maxRetries: task.definition.retry?.maxRetries ?? 0,
    signal: controller.signal,
    progress: async () => undefined,
    log: createLogger({ level: 'silent' }),
    enqueuedAt: new Date(),
    ...overrides,
  };
  return (await task.definition.run(validated, ctx)) as Output;
}

/** Tasks enqueued on `app` under `name`, optionally matching `where`; oldest first. */
export async function enqueued(
  app: Celeriac,
  name: string,
  where: (task: TaskInfo) => boolean = () => true,
): Promise<TaskInfo[]> {
  const tasks = await app.listTasks({ name, limit: 10_000 });
  return tasks.filter(where);
}

/**
 * Throws unless `app` has exactly `count` (default: at least one) tasks named `name` matching `where`.
 * @example
 * await assertEnqueued(app, 'email.send', { where: (t) => t.input.to === 'a@b.c' });
 */
export async function assertEnqueued(
  app: Celeriac,
  name: string,
  options: { where?: (task: TaskInfo) => boolean; count?: number } = {},
): Promise<TaskInfo[]> {
  const found = await enqueued(app, name, options.where);
  const ok = options.count === undefined ? found.length > 0 : found.length === options.count;
  if (!ok) {
    const wanted = options.count === undefined ? 'at least one' : String(options.count);
    throw new Error(`expected ${wanted} enqueued '${name}' task(s) matching, found ${found.length}`);
  }
  return found;
}
