-- heartbeat: records a registered worker's heartbeat and counters; ignored for unknown workers.
-- KEYS[1] workers HASH (fields 'w:<id>' = worker JSON, 'hb:<id>' = heartbeat JSON)
-- ARGV[1] worker id   ARGV[2] heartbeat JSON [at, active, processed, failed]
-- Returns 1 if recorded, 0 if the worker is not registered.
if redis.call('HEXISTS', KEYS[1], 'w:' .. ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'hb:' .. ARGV[1], ARGV[2])
return 1
