-- Ends an active task whose cancellation was asked, when its worker hands it back instead of running it
-- (in the attempt named, if one is), or when its lease ran out.
UPDATE tasks
SET state = 'cancelled', error = @error, finished_at = @now, lease_expires_at = NULL
WHERE id = @id AND state = 'active' AND worker_id = @workerId AND (@attempt IS NULL OR attempts = @attempt)
  AND cancel_requested = 1
RETURNING name, queue
