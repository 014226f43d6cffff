-- Whether any queued task's expiry has passed: a read, so the maintainer takes the write lock only when
-- needed (tasks_expiring).
SELECT 1 AS expired FROM tasks WHERE state = 'queued' AND expires_at IS NOT NULL AND expires_at <= @now LIMIT 1
