-- Ends an attempt that failed and will run again at @runAt; its start is kept, its progress is not.
UPDATE tasks
SET state = 'retrying', run_at = @runAt, error = @error, worker_id = NULL, lease_expires_at = NULL, progress = NULL,
    errors = json_insert(coalesce(errors, '[]'), '$[#]', json_set(json(@attemptError), '$.attempt', attempts))
WHERE id = @id AND state = 'active' AND worker_id = @workerId AND (@attempt IS NULL OR attempts = @attempt)
RETURNING name, queue, attempts
