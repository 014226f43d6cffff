// Moves scheduled and retrying tasks to their queue when they fall due, and returns tasks whose worker
// is gone (expired leases, hand-offs a lapsed worker never received) to their queue as a new attempt:
// one pass does both (`Broker.maintain`), so an idle leader costs one call per queue and run.
import type { Broker } from '../../broker/broker.js';
import type { Logger } from '../../logger.js';
import { leadership } from './leadership.js';
import { PeriodicService } from './service.js';

/**
 * Runs come every quarter of the lease time, at most 5 s apart, and at each due time: task.scheduled and
 * task.retrying events poke the service (`poke`), so the cadence is only a safety net for promotion
 * (events missed during a reconnection).
 */
function maintainerPeriodMs(leaseMs: number): number {
  return Math.min(5_000, Math.max(50, Math.floor(leaseMs / 4)));
}

export function createMaintainer(broker: Broker, log: Logger, leaseMs: number): PeriodicService {
  const everyMs = maintainerPeriodMs(leaseMs);
  // Runs come at most everyMs apart, so the leader renews well within this.
  const lead = leadership(broker, 'maintainer', Math.max(1_000, 3 * everyMs));
  return new PeriodicService(
    'maintainer',
    everyMs,
    async () => {
      if (!(await lead.leads())) return;
      const { rescued, promoted, nextDueAt } = await broker.maintain(Date.now());
      if (rescued > 0) log.warn({ rescued }, 'returned tasks whose worker is gone to their queues');
      if (promoted > 0) log.debug({ promoted }, 'promoted due tasks');
      // A pass returns a bounded batch: after a rescue (a worker died, or a host with many), look again at
      // once rather than a period later. Promotion says the same with a next due time already past.
      if (rescued > 0) return 0;
      return nextDueAt === null ? undefined : nextDueAt - Date.now();
    },
    log,
    lead.release,
  );
}
