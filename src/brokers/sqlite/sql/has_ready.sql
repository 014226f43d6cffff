-- Whether a queue has a task ready to lease: a read, so an idle poll takes no write lock.
SELECT 1 AS ready FROM tasks WHERE state = 'queued' AND queue = @queue LIMIT 1
