// One bit per event type, so brokers can let a subscriber skip batches holding nothing it wants.
import type { EventType } from './events.js';

const BITS: Record<EventType, number> = {
  'task.queued': 1 << 0,
  'task.scheduled': 1 << 1,
  'task.started': 1 << 2,
  'task.progress': 1 << 3,
  'task.retrying': 1 << 4,
  'task.completed': 1 << 5,
  'task.failed': 1 << 6,
  'task.cancelled': 1 << 7,
  'task.revoked': 1 << 8,
  'worker.online': 1 << 9,
  'worker.heartbeat': 1 << 10,
  'worker.offline': 1 << 11,
};

export const ALL_KINDS = (1 << 12) - 1;

export function kindBit(type: EventType): number {
  return BITS[type] ?? ALL_KINDS;
}

/** The mask for a set of types; every type when none are given. */
export function kindMask(types: readonly EventType[] | undefined): number {
  if (!types || types.length === 0) return ALL_KINDS;
  return types.reduce((mask, type) => mask | kindBit(type), 0);
}
