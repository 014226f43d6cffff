// Moves scheduled and retrying tasks to their queue when they fall due; sleeps until the next one.
import type { Broker } from '../../broker/broker.js';
import type { Logger } from '../../logger.js';
import { PeriodicService } from './service.js';

const MAX_SLEEP_MS = 1_000;

export function createPromoter(broker: Broker, log: Logger): PeriodicService {
  return new PeriodicService(
    'promoter',
    MAX_SLEEP_MS,
    async () => {
      await broker.promoteDue(Date.now());
      const next = await broker.nextDueAt();
      return next === null ? MAX_SLEEP_MS : next - Date.now();
    },
    log,
  );
}
