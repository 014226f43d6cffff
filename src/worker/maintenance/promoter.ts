// Moves scheduled and retrying tasks to their queue when they fall due; sleeps until the next one.
import type { Broker } from '../../broker/broker.js';
import type { Logger } from '../../logger.js';
import { leadership } from './leadership.js';
import { PeriodicService } from './service.js';

const MAX_SLEEP_MS = 1_000;
/** Runs come at most MAX_SLEEP_MS apart, so the leader renews well within this. */
const LEADER_TTL_MS = 3_000;

export function createPromoter(broker: Broker, log: Logger): PeriodicService {
  const leads = leadership(broker, 'promoter', LEADER_TTL_MS);
  return new PeriodicService(
    'promoter',
    MAX_SLEEP_MS,
    async () => {
      if (!(await leads())) return MAX_SLEEP_MS;
      // A read first: an idle promoter costs one look, not a promotion pass over every queue.
      let next = await broker.nextDueAt();
      if (next !== null && next <= Date.now()) {
        await broker.promoteDue(Date.now());
        next = await broker.nextDueAt();
      }
      return next === null ? MAX_SLEEP_MS : next - Date.now();
    },
    log,
  );
}
