-- The unfinished task holding an idempotency key, if any.
SELECT id, state FROM tasks
WHERE idem_key = @key AND state NOT IN ('completed', 'failed', 'cancelled')
