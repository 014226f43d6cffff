// Returns tasks whose lease expired (their worker died) to their queue as a new attempt.
import type { Broker } from '../../broker/broker.js';
import type { Logger } from '../../logger.js';
import { leadership } from './leadership.js';
import { PeriodicService } from './service.js';

export function createRescuer(broker: Broker, log: Logger, leaseMs: number): PeriodicService {
  const everyMs = Math.min(5_000, Math.max(50, Math.floor(leaseMs / 4)));
  const lead = leadership(broker, 'rescuer', Math.max(1_000, 3 * everyMs));
  return new PeriodicService(
    'rescuer',
    everyMs,
    async () => {
      if (!(await lead.leads())) return;
      const rescued = await broker.rescueExpired(Date.now());
      if (rescued > 0) log.warn({ rescued }, 'returned tasks with expired leases to their queues');
    },
    log,
    lead.release,
  );
}
