-- Whether any lease has expired: a read, so the maintainer takes the write lock only when needed.
SELECT 1 AS expired FROM tasks WHERE state = 'active' AND lease_expires_at < @now LIMIT 1
