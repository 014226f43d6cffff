-- Moves one due task to its queue.
UPDATE tasks SET state = 'queued', seq = @seq, ready_at = @now
WHERE id = @id AND state IN ('scheduled', 'retrying')
RETURNING name, queue, priority
