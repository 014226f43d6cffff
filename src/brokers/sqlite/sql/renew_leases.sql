-- Extends the lease of one task still held by the worker (in the attempt named, if one is); returns
-- whether cancellation was asked.
UPDATE tasks SET lease_expires_at = @leaseExpiresAt
WHERE id = @id AND state = 'active' AND worker_id = @workerId AND (@attempt IS NULL OR attempts = @attempt)
RETURNING cancel_requested
