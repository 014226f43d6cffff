-- Active tasks whose lease has expired: their worker is gone.
SELECT id, worker_id, cancel_requested FROM tasks
WHERE state = 'active' AND lease_expires_at < @now
ORDER BY lease_expires_at
LIMIT @limit
