-- How many tasks finished at or after a time, per queue, for stats.
SELECT queue, COUNT(*) AS n FROM tasks
WHERE finished_at IS NOT NULL AND finished_at >= @since
GROUP BY queue
