// Deletes finished tasks, events and dead workers past retention, so the broker stays bounded. Each call
// deletes a bounded batch; while batches come back full it calls again at once (yielding to the event
// loop between calls), so it keeps up with any rate of finishing tasks, not only a batch a minute.
import type { Broker, RetentionPolicy } from '../../broker/broker.js';
import type { Logger } from '../../logger.js';
import { leadership } from './leadership.js';
import { PeriodicService } from './service.js';

const EVERY_MS = 60_000;

export function createPruner(broker: Broker, log: Logger, policy: RetentionPolicy): PeriodicService {
  const lead = leadership(broker, 'pruner', 3 * EVERY_MS);
  return new PeriodicService(
    'pruner',
    EVERY_MS,
    async () => {
      if (!(await lead.leads())) return;
      const { pruned, more } = await broker.prune(Date.now(), policy);
      if (pruned > 0) log.debug({ pruned }, 'pruned finished tasks past retention');
      return more ? 0 : undefined;
    },
    log,
    lead.release,
  );
}
