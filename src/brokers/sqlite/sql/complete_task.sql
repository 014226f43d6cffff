-- Ends an attempt that succeeded.
UPDATE tasks
SET state = 'completed', result = @result, finished_at = @now, lease_expires_at = NULL,
    error = NULL
WHERE id = @id AND state = 'active' AND worker_id = @workerId AND (@attempt IS NULL OR attempts = @attempt)
RETURNING name, queue, attempts
