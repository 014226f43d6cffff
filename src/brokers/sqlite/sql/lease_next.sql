-- Leases the next @limit queued tasks of one queue (highest priority first, FIFO within one) to a
-- worker and starts a new attempt for each. Rows come back in no particular order.
UPDATE tasks
SET state = 'active', worker_id = @workerId, lease_expires_at = @leaseExpiresAt,
    attempts = attempts + 1, started_at = @now, progress = NULL, cancel_requested = 0
WHERE id IN (
  SELECT id FROM tasks
  WHERE state = 'queued' AND queue = @queue
  ORDER BY priority DESC, seq
  LIMIT @limit
)
RETURNING id, name, queue, priority, seq, input, execution, attempts, created_at
