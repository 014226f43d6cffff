-- Registers a worker, or refreshes its registration.
INSERT INTO workers (id, info, heartbeat_at) VALUES (@id, @info, @now)
ON CONFLICT (id) DO UPDATE SET info = excluded.info, heartbeat_at = excluded.heartbeat_at
