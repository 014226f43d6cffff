// Leadership of a maintenance service: on a broker that elects (Redis), only the process holding the
// leadership runs the service's job, renewing it on each run, and gives it up when it stops; on others
// (SQLite) every process leads.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Broker } from '../../broker/broker.js';

export interface Leadership {
  /** Call before each run: whether this service instance leads now (taking or renewing the lead). */
  leads(): Promise<boolean>;
  /** Gives the lead up (graceful stop), so another process takes over without waiting for the TTL. */
  release(): Promise<void>;
}

export function leadership(broker: Broker, service: string, ttlMs: number): Leadership {
  const holder = `${hostname()}:${process.pid}:${randomUUID()}`;
  let released = false;
  return {
    leads: () => {
      if (released) return Promise.resolve(false);
      return broker.acquireLeadership ? broker.acquireLeadership(service, holder, ttlMs) : Promise.resolve(true);
    },
    release: async () => {
      released = true;
      await broker.releaseLeadership?.(service, holder);
    },
  };
}
