-- Ends an attempt that was cancelled while it ran.
UPDATE tasks
SET state = 'cancelled', error = @error, finished_at = @now, lease_expires_at = NULL
WHERE id = @id AND state = 'active' AND worker_id = @workerId AND (@attempt IS NULL OR attempts = @attempt)
RETURNING name, queue, attempts
