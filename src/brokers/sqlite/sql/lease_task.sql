-- Leases one queued task to a worker and starts a new attempt.
UPDATE tasks
SET state = 'active', worker_id = @workerId, lease_expires_at = @leaseExpiresAt,
    attempts = attempts + 1, started_at = @now, progress = NULL, cancel_requested = 0
WHERE id = @id AND state = 'queued'
RETURNING id, name, queue, priority, seq, input, execution, attempts, created_at
