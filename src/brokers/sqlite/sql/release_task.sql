-- Hands an active task back to its queue at once; the interrupted attempt is not counted.
UPDATE tasks
SET state = 'queued', seq = @seq, worker_id = NULL, lease_expires_at = NULL, ready_at = @now,
    attempts = attempts - 1, started_at = NULL
WHERE id = @id AND state = 'active' AND worker_id = @workerId AND cancel_requested = 0
RETURNING name, queue, priority
