-- Cancels a queued task whose expiry passed before it started.
UPDATE tasks
SET state = 'cancelled', error = @error, finished_at = @now
WHERE id = @id AND state = 'queued'
RETURNING name, queue
