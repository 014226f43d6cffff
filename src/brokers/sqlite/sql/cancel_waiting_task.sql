-- Cancels a task that has not started (queued, scheduled or retrying).
UPDATE tasks
SET state = 'cancelled', error = @error, finished_at = @now
WHERE id = @id AND state IN ('queued', 'scheduled', 'retrying')
RETURNING name, queue
