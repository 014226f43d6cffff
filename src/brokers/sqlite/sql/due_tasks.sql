-- Scheduled and retrying tasks whose time has come, oldest first.
SELECT id FROM tasks
WHERE state IN ('scheduled', 'retrying') AND run_at <= @now
ORDER BY run_at
LIMIT @limit
