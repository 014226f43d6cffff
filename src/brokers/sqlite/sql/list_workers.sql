-- Every registered worker.
SELECT info, heartbeat_at FROM workers ORDER BY id
