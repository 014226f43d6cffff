-- Counts by queue and state, each state read from the partial index that holds it.
SELECT queue, 'queued' AS state, count(*) AS n FROM tasks WHERE state = 'queued' GROUP BY queue
UNION ALL
SELECT queue, state, count(*) FROM tasks WHERE state IN ('scheduled', 'retrying') GROUP BY queue, state
UNION ALL
SELECT queue, 'active', count(*) FROM tasks WHERE state = 'active' GROUP BY queue
UNION ALL
SELECT queue, state, count(*) FROM tasks WHERE finished_at IS NOT NULL GROUP BY queue, state
