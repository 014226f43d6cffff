-- Ends an attempt that failed and will run again at @runAt.
UPDATE tasks
SET state = 'retrying', run_at = @runAt, error = @error, worker_id = NULL, lease_expires_at = NULL,
    errors = json_insert(coalesce(errors, '[]'), '$[#]', json_set(json(@attemptError), '$.attempt', attempts))
WHERE id = @id AND state = 'active' AND worker_id = @workerId
RETURNING name, queue, attempts
