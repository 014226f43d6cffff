-- Deletes waiting tasks of one queue, or of all queues when @queue is NULL.
DELETE FROM tasks
WHERE state IN ('queued', 'scheduled', 'retrying') AND (@queue IS NULL OR queue = @queue)
