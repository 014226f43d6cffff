-- Hands an active task back to its queue at once, in the place it had (its seq is kept); the interrupted
-- attempt is not counted, and leaves neither its start nor its progress. Only in the attempt named, if one is.
UPDATE tasks
SET state = 'queued', worker_id = NULL, lease_expires_at = NULL, progress = NULL, ready_at = @now,
    attempts = attempts - 1, started_at = NULL
WHERE id = @id AND state = 'active' AND worker_id = @workerId AND (@attempt IS NULL OR attempts = @attempt)
  AND cancel_requested = 0
RETURNING name, queue, priority
