-- Returns a task whose lease expired to its queue; the lost attempt's error and start are kept, its
-- progress is not (it was the lost attempt's).
UPDATE tasks
SET state = 'queued', seq = @seq, ready_at = @now, worker_id = NULL, lease_expires_at = NULL, progress = NULL,
    errors = json_insert(coalesce(errors, '[]'), '$[#]', json_set(json(@attemptError), '$.attempt', attempts))
WHERE id = @id AND state = 'active' AND lease_expires_at < @now
RETURNING name, queue, priority
