-- Recently finished tasks, newest first, for stats.
SELECT queue, state, ready_at, started_at, finished_at FROM tasks
WHERE finished_at IS NOT NULL AND finished_at >= @since
ORDER BY finished_at DESC
LIMIT @limit
