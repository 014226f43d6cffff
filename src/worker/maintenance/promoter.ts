// Moves scheduled and retrying tasks to their queue when they fall due; sleeps until the next one.
import type { Broker } from '../../broker/broker.js';
import type { Logger } from '../../logger.js';
import { leadership } from './leadership.js';
import { PeriodicService } from './service.js';

/**
 * Task.scheduled and task.retrying events wake the promoter at each due time, so this is only a safety
 * net (events missed during a reconnection) and the cadence of an idle promoter's look.
 */
const MAX_SLEEP_MS = 5_000;
/** Runs come at most MAX_SLEEP_MS apart, so the leader renews well within this. */
const LEADER_TTL_MS = 15_000;

export function createPromoter(broker: Broker, log: Logger): PeriodicService {
  const lead = leadership(broker, 'promoter', LEADER_TTL_MS);
  return new PeriodicService(
    'promoter',
    MAX_SLEEP_MS,
    async () => {
      if (!(await lead.leads())) return MAX_SLEEP_MS;
      // A read first: an idle promoter costs one look, not a promotion pass over every queue.
      let next = await broker.nextDueAt();
      if (next !== null && next <= Date.now()) {
        await broker.promoteDue(Date.now());
        next = await broker.nextDueAt();
      }
      return next === null ? MAX_SLEEP_MS : next - Date.now();
    },
    log,
    lead.release,
  );
}
