-- The unfinished task of a queue holding an idempotency key, if any.
SELECT id, state FROM tasks
WHERE queue = @queue AND idem_key = @key AND state NOT IN ('completed', 'failed', 'cancelled')
