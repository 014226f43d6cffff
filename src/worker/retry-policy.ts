// When a failed attempt runs again: exponential or fixed backoff, capped, with optional full jitter.
import type { RetryPolicy } from '../types.js';

/**
 * The delay before retry number `attempt` (1 after the first failure).
 * `min(maxDelay, delay * 2^(attempt-1))`, then a uniform draw from [0, that] under full jitter.
 */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = policy.backoff === 'fixed' ? policy.delay : policy.delay * 2 ** Math.max(0, attempt - 1);
  const capped = Math.min(policy.maxDelay, base);
  return policy.jitter ? Math.floor(random() * capped) : capped;
}

/** Whether an attempt that failed may run again. `attempt` is 1-based. */
export function mayRetry(policy: RetryPolicy, attempt: number): boolean {
  return attempt <= policy.maxRetries;
}
