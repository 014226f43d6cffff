// Leadership of a maintenance service: on a broker that elects (Redis), only the process holding the
// leadership runs the service's job, renewing it on each run; on others (SQLite) every process leads.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Broker } from '../../broker/broker.js';

/** A check to call before each run: whether this service instance leads now. */
export function leadership(broker: Broker, service: string, ttlMs: number): () => Promise<boolean> {
  const holder = `${hostname()}:${process.pid}:${randomUUID()}`;
  return () => (broker.acquireLeadership ? broker.acquireLeadership(service, holder, ttlMs) : Promise.resolve(true));
}
