-- Idempotency keys are scoped to a queue, as on Redis (where a queue's keys share one hash slot) and
-- as BullMQ's job ids are: the same key in two queues makes two tasks. Every database that had one
-- unfinished task per key has one per queue and key, so the new index always builds.
DROP INDEX tasks_key;
CREATE UNIQUE INDEX tasks_key ON tasks (queue, idem_key)
  WHERE idem_key IS NOT NULL AND state NOT IN ('completed', 'failed', 'cancelled');
