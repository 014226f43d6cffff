-- Cancels queued tasks whose expiry passed before they started.
UPDATE tasks
SET state = 'cancelled', error = @error, finished_at = @now
WHERE state = 'queued' AND expires_at IS NOT NULL AND expires_at <= @now
RETURNING id, name, queue
