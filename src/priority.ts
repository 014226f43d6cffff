// Priorities: 16 strict levels, 0 (lowest) to 15 (highest), with four named ones.

export type PriorityName = 'low' | 'normal' | 'high' | 'urgent';
/** `'low'`=0, `'normal'`=5 (default), `'high'`=10, `'urgent'`=15, or an integer 0..15. */
export type Priority = PriorityName | number;

const NAMED: Record<PriorityName, number> = { low: 0, normal: 5, high: 10, urgent: 15 };
export const DEFAULT_PRIORITY = NAMED.normal;
export const MAX_PRIORITY = 15;

export function toPriority(priority: Priority | undefined): number {
  if (priority === undefined) return DEFAULT_PRIORITY;
  if (typeof priority === 'string') {
    const level = NAMED[priority as PriorityName];
    if (level === undefined) {
      throw new RangeError(`priority must be one of low, normal, high, urgent or 0..15, got '${priority}'`);
    }
    return level;
  }
  if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
    throw new RangeError(`priority must be an integer from 0 to 15, got ${priority}`);
  }
  return priority;
}
