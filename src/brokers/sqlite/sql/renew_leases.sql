-- Extends the lease of one task still held by the worker; returns whether cancellation was asked.
UPDATE tasks SET lease_expires_at = @leaseExpiresAt
WHERE id = @id AND state = 'active' AND worker_id = @workerId
RETURNING cancel_requested
