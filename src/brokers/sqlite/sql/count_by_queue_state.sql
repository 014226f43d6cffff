-- Counts by queue and state.
SELECT queue, state, count(*) AS n FROM tasks GROUP BY queue, state
