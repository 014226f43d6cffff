-- Drops workers silent for longer than retention.
DELETE FROM workers WHERE heartbeat_at < @before
