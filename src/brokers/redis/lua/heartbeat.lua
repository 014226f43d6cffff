-- heartbeat: records a registered worker's heartbeat and counters, and publishes its worker.heartbeat
-- event (built by the caller: an idle worker's most frequent call is one call, not two); ignored for
-- unknown workers.
-- KEYS[1] workers HASH (fields 'w:<id>' = worker JSON, 'hb:<id>' = heartbeat JSON)
-- ARGV[1] worker id   ARGV[2] heartbeat JSON [at, active, processed, failed]   ARGV[3] events channel
-- ARGV[4] the event message
-- Returns 1 if recorded, 0 if the worker is not registered. A heartbeat no newer than the one recorded
-- (sent again after its reply was lost, maybe after later ones ran) changes nothing and publishes nothing.
-- @flags allow-oom
-- @include channels
if redis.call('HEXISTS', KEYS[1], 'w:' .. ARGV[1]) == 0 then return 0 end
local last = redis.call('HGET', KEYS[1], 'hb:' .. ARGV[1])
local last_at = last and tonumber(string.match(last, '^%[(%d+)'))
local at = tonumber(string.match(ARGV[2], '^%[(%d+)'))
if last_at and at and last_at >= at then return 1 end
redis.call('HSET', KEYS[1], 'hb:' .. ARGV[1], ARGV[2])
publish_to(ARGV[3], ARGV[4])
return 1
