// The handle enqueue returns: follow one task's state, wait for its result, cancel it.
import type { CancelOutcome, TaskOutcome } from './broker/broker.js';
import { toMsOptional, type Duration } from './duration.js';
import { TaskFailedError } from './errors.js';
import type { TaskInfo } from './types.js';

/** What a handle needs from its app. */
export interface TaskRunHost {
  getTask(id: string): Promise<TaskInfo | null>;
  waitForOutcome(id: string, timeoutMs?: number): Promise<TaskOutcome>;
  cancel(id: string): Promise<CancelOutcome>;
}

export class TaskRun<Output = unknown> {
  constructor(
    private readonly host: TaskRunHost,
    /** The task's UUID. */
    readonly id: string,
    /** False when an idempotency key matched an unfinished task: this handle is that task. */
    readonly created = true,
  ) {}

  /** The task as stored now; throws if it no longer exists (pruned after its retention). */
  async status(): Promise<TaskInfo<unknown, Output>> {
    const info = await this.host.getTask(this.id);
    if (!info) throw new Error(`task ${this.id} not found (it may have been pruned)`);
    return info as TaskInfo<unknown, Output>;
  }

  /**
   * Waits for the task to finish and returns its result.
   * Throws TaskFailedError if it failed or was cancelled, TimeoutError if `timeout` passes first.
   * @example
   * const summary = await run.result({ timeout: '30s' });
   */
  async result(options: { timeout?: Duration } = {}): Promise<Output> {
    const outcome = await this.host.waitForOutcome(this.id, toMsOptional(options.timeout, 'timeout'));
    if (outcome.state === 'completed') return outcome.result as Output;
    throw new TaskFailedError(this.id, outcome.state as 'failed' | 'cancelled', outcome.error);
  }

  /** Revokes the task: queued -> cancelled; active -> its `ctx.signal` aborts. */
  cancel(): Promise<CancelOutcome> {
    return this.host.cancel(this.id);
  }
}
