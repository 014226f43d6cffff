-- Ends an attempt that failed with retries left, when the task's cancellation was asked while it ran: the
-- task is cancelled instead of retried, and the attempt's error joins its error list.
UPDATE tasks
SET state = 'cancelled', error = @cancelled, finished_at = @now, lease_expires_at = NULL,
    errors = json_insert(coalesce(errors, '[]'), '$[#]', json_set(json(@attemptError), '$.attempt', attempts))
WHERE id = @id AND state = 'active' AND worker_id = @workerId AND (@attempt IS NULL OR attempts = @attempt)
  AND cancel_requested = 1
RETURNING name, queue, attempts
