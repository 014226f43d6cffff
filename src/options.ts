// Task and enqueue options as users write them, and their resolution into what the broker stores.
import { toMs, toMsOptional, type Duration } from './duration.js';
import { toPriority, type Priority } from './priority.js';
import type { ExecutionOptions, RetryPolicy } from './types.js';

export interface RetryOptions {
  /** Retries after the first attempt; default 0. */
  maxRetries?: number;
  /** Default 'exponential': `min(maxDelay, delay * 2^(attempt-1))`. */
  backoff?: 'exponential' | 'fixed';
  /** Default '1s'. */
  delay?: Duration;
  /** Default '10m'. */
  maxDelay?: Duration;
  /** Full jitter: a random delay between 0 and the computed one. Default true. */
  jitter?: boolean;
}

/** Options every task has defaults for and every enqueue can override. */
export interface TaskOptions {
  queue?: string;
  priority?: Priority;
  retry?: RetryOptions;
  timeLimit?: Duration;
  softTimeLimit?: Duration;
  ignoreResult?: boolean;
}

export interface EnqueueOptions extends TaskOptions {
  /** Run no earlier than this long from now. */
  delay?: Duration;
  /** Run no earlier than this time. */
  eta?: Date;
  /** Not started by then -> cancelled with reason 'expired'. A duration from now, or a Date. */
  expires?: Duration | Date;
  /** Idempotency key: while a task of the same queue with this key is unfinished, enqueue returns it. Scoped to a queue. */
  key?: string;
}

export const DEFAULT_QUEUE = 'default';
const DEFAULT_RETRY: RetryPolicy = { maxRetries: 0, backoff: 'exponential', delay: 1000, maxDelay: 600_000, jitter: true };
/** What a task runs with when neither it nor its enqueue options say otherwise. */
export const DEFAULT_EXECUTION: Readonly<ExecutionOptions> = { retry: { ...DEFAULT_RETRY }, ignoreResult: false };

export function resolveRetry(...layers: Array<RetryOptions | undefined>): RetryPolicy {
  const policy = { ...DEFAULT_RETRY };
  for (const layer of layers) {
    if (!layer) continue;
    if (layer.maxRetries !== undefined) {
      if (!Number.isInteger(layer.maxRetries) || layer.maxRetries < 0) {
        throw new RangeError(`retry.maxRetries must be a non-negative integer, got ${layer.maxRetries}`);
      }
      policy.maxRetries = layer.maxRetries;
    }
    if (layer.backoff !== undefined) {
      if (layer.backoff !== 'exponential' && layer.backoff !== 'fixed') {
        throw new RangeError(`retry.backoff must be 'exponential' or 'fixed', got '${String(layer.backoff)}'`);
      }
      policy.backoff = layer.backoff;
    }
    if (layer.delay !== undefined) policy.delay = toMs(layer.delay, 'retry.delay');
    if (layer.maxDelay !== undefined) policy.maxDelay = toMs(layer.maxDelay, 'retry.maxDelay');
    if (layer.jitter !== undefined) policy.jitter = layer.jitter;
  }
  return policy;
}

export interface ResolvedEnqueue {
  queue: string;
  priority: number;
  runAt?: number;
  expiresAt?: number;
  key?: string;
  execution: ExecutionOptions;
}

/** Merges a task's defaults with one enqueue's options; throws RangeError on a bad value. */
export function resolveEnqueue(defaults: TaskOptions, options: EnqueueOptions, now: number): ResolvedEnqueue {
  const queue = options.queue ?? defaults.queue ?? DEFAULT_QUEUE;
  if (typeof queue !== 'string' || queue === '') throw new RangeError('queue must be a non-empty string');
  const timeLimit = toMsOptional(options.timeLimit ?? defaults.timeLimit, 'timeLimit');
  const softTimeLimit = toMsOptional(options.softTimeLimit ?? defaults.softTimeLimit, 'softTimeLimit');
  const execution: ExecutionOptions = {
    retry: resolveRetry(defaults.retry, options.retry),
    ignoreResult: options.ignoreResult ?? defaults.ignoreResult ?? false,
    ...(timeLimit === undefined ? {} : { timeLimit }),
    ...(softTimeLimit === undefined ? {} : { softTimeLimit }),
  };
  const resolved: ResolvedEnqueue = { queue, priority: toPriority(options.priority ?? defaults.priority), execution };
  if (options.delay !== undefined && options.eta !== undefined) throw new RangeError('give delay or eta, not both');
  if (options.delay !== undefined) resolved.runAt = now + toMs(options.delay, 'delay');
  if (options.eta !== undefined) resolved.runAt = dateMs(options.eta, 'eta');
  if (options.expires !== undefined) {
    resolved.expiresAt =
      options.expires instanceof Date ? dateMs(options.expires, 'expires') : now + toMs(options.expires, 'expires');
  }
  if (options.key !== undefined) {
    if (typeof options.key !== 'string' || options.key === '') throw new RangeError('key must be a non-empty string');
    resolved.key = options.key;
  }
  return resolved;
}

function dateMs(date: Date, what: string): number {
  const ms = date instanceof Date ? date.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new RangeError(`${what} must be a valid Date`);
  return ms;
}
