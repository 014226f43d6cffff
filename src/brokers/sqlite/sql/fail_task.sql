-- Ends an attempt that failed for good; its error joins the task's error list.
UPDATE tasks
SET state = 'failed', error = @error, finished_at = @now, lease_expires_at = NULL,
    errors = json_insert(coalesce(errors, '[]'), '$[#]', json_set(json(@attemptError), '$.attempt', attempts))
WHERE id = @id AND state = 'active' AND worker_id = @workerId AND (@attempt IS NULL OR attempts = @attempt)
RETURNING name, queue, attempts
