-- The next queued tasks of one queue: highest priority first, FIFO within a priority.
SELECT id, priority, seq FROM tasks
WHERE state = 'queued' AND queue = @queue
ORDER BY priority DESC, seq
LIMIT @limit
