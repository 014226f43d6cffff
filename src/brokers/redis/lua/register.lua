-- register: records a worker coming online: its record and first heartbeat, replacing any earlier ones.
-- A script rather than an HSET only so that it may run while Redis is full: a worker started then comes
-- online, and its fetching (refused and retried meanwhile) resumes by itself once there is room. A few
-- hundred bytes per worker start, deleted when the worker goes offline or its heartbeats stop.
-- KEYS[1] workers HASH (fields 'w:<id>' = worker JSON, 'hb:<id>' = heartbeat JSON)
-- ARGV[1] worker id   ARGV[2] worker JSON   ARGV[3] heartbeat JSON [at, active, processed, failed]
-- Returns 1.
-- @flags allow-oom
redis.call('HSET', KEYS[1], 'w:' .. ARGV[1], ARGV[2], 'hb:' .. ARGV[1], ARGV[3])
return 1
